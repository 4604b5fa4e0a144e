"""Placeholder until the localtime formatting lands: values read as they are stored."""

from __future__ import annotations


def format_stamp(value):
    return value
