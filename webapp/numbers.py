"""Placeholder until the numbers formatting lands: values read as they are stored."""

from __future__ import annotations


def format_number(value):
    return value
