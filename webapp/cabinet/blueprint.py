"""The cabinet's blueprint and its menu.

Every page module adds its routes to :data:`bp` and, for a page the menu shows, one
:func:`menu_entry`; the base template lists the entries in their order. Templates are
under ``templates/cabinet/``.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint
from flask_babel import lazy_gettext

from webapp.cabinet.sessions import PREFIX

bp = Blueprint("cabinet", __name__, url_prefix=PREFIX)


@dataclass(frozen=True)
class MenuEntry:
    order: int
    endpoint: str
    label: object  # a lazy translation, worded in the reader's language when shown


MENU: list[MenuEntry] = []


def menu_entry(order: int, endpoint: str, label: str) -> None:
    """Show ``cabinet.<endpoint>`` in the menu at ``order`` (smaller first)."""
    entry = MenuEntry(order, "cabinet." + endpoint, lazy_gettext(label))
    if entry.endpoint not in {e.endpoint for e in MENU}:
        MENU.append(entry)
        MENU.sort(key=lambda e: e.order)
