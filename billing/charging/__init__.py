"""Charging rules: periodic and one-time services, run as set-based SQL by ``tick.charge``."""
