"""What every self-service page of the cabinet does the same way: call a ``billing``
service on the web session's connection, commit when it is done, roll back when a rule
refuses, and tell the subscriber why in the subscriber's words.

A page that costs money shows what it will do first (a "check" step renders the
confirmation with the figures the rule computed), and acts only on the confirmation's
own POST, which carries the same fields plus ``confirm``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from flask import render_template, request
from flask_babel import lazy_gettext as _l

from billing.errors import Refused
from webapp.extensions import db
from webapp.numbers import format_amount
from webapp.views.ledger import raw_connection

CONFIRM = "confirm"  # the name of the confirmation's button

# The refusals one service shares with another, in the subscriber's words; each page adds
# its own (the same code can mean another rule in another service).
COMMON = {
    "unknown_account": _l("Your account cannot be found. Please contact support."),
    "no_account": _l("Your account cannot be found. Please contact support."),
    "in_the_past": _l("Charges are being settled right now; please try again in a few "
                      "minutes."),
    "before_last_tick": _l("Charges are being settled right now; please try again in a few "
                           "minutes."),
    "amount_not_positive": _l("The amount must be above zero."),
}


def confirming() -> bool:
    """The POST is the confirmation (not the first "check" step)."""
    return request.method == "POST" and CONFIRM in request.form


def attempt(service: Callable) -> tuple[Any, Refused | None]:
    """``service(conn)`` in the web session's transaction: (result, None) committed, or
    (None, refusal) with nothing written."""
    session = db.session
    try:
        result = service(raw_connection(session))
    except Refused as exc:
        session.rollback()
        return None, exc
    session.commit()
    return result, None


def preview(service: Callable) -> tuple[Any, Refused | None]:
    """A read that checks the rules but writes nothing: rolled back either way."""
    session = db.session
    try:
        return service(raw_connection(session)), None
    except Refused as exc:
        return None, exc
    finally:
        session.rollback()


def words(exc: Refused, own: Mapping[str, object], **figures: object) -> str:
    """The refusal in the subscriber's words: the page's own, else the common ones, each
    given ``figures`` (a minimum, a date); a code nobody worded keeps the service's text."""
    text = own.get(exc.code) or COMMON.get(exc.code)
    if text is None:
        return str(exc)
    return str(text) % figures if figures else str(text)


@dataclass(frozen=True)
class Fact:
    """One line of figures a page states: ``id`` names it for tests and the browser,
    ``value`` (when given) is the raw figure in ``data-value``."""

    id: str
    label: object
    text: str
    value: object = None
    money: bool = False


def money_fact(fact_id: str, label: object, amount: Decimal) -> Fact:
    return Fact(fact_id, label, format_amount(amount), amount, True)


def form_page(name: str, title: object, form, button: object, *, rows: Iterable[Fact] = (),
              note: object = None, refused: str | None = None,
              template: str = "cabinet/action.html", **extra: Any) -> str:
    """A self-service page (``cabinet/action.html`` or one extending it); its elements
    are named ``cabinet-<name>-...``."""
    return render_template(template, name=name, title=title, form=form, button=button,
                           rows=list(rows), note=note, refused=refused, **extra)


def confirm_page(title: object, rows: Iterable[Fact], hidden: Mapping[str, object],
                 button: object, back: str, note: object = None) -> str:
    return render_template("cabinet/confirm.html", title=title, rows=list(rows),
                           hidden=hidden, button=button, back=back, note=note)
