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
    also: tuple[str, ...] = ()  # the entry's other pages (its tabs), shown as it

    def active(self, endpoint: str | None) -> bool:
        """The page ``endpoint`` is this entry's own, a tab of it, or a page under it
        (``cabinet.pay_order`` under ``cabinet.pay``)."""
        if not endpoint:
            return False
        return endpoint == self.endpoint or endpoint in self.also or (
            endpoint.startswith(self.endpoint + "_"))


MENU: list[MenuEntry] = []


def menu_entry(order: int, endpoint: str, label: str, also: tuple[str, ...] = ()) -> None:
    """Show ``cabinet.<endpoint>`` in the menu at ``order`` (smaller first); ``also``:
    the endpoints of its tabs, which highlight it too."""
    entry = MenuEntry(order, "cabinet." + endpoint, lazy_gettext(label),
                      tuple("cabinet." + name for name in also))
    if entry.endpoint not in {e.endpoint for e in MENU}:
        MENU.append(entry)
        MENU.sort(key=lambda e: e.order)
