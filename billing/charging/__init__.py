"""Charging rules: periodic and one-time services and package cost (fill-up, require), run
as set-based SQL by ``tick.charge``."""
