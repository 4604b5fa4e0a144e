"""Message templates: the operator's text with the subscriber's fields, rendered in a
sandbox.

Templates are Jinja, in Jinja's sandbox (no attribute of Python's internals, no calls
but the filters below) with strict undefined names, so a misspelt field is an error, not
an empty gap in a thousand messages. :func:`check` renders a template against sample
values of every field before it is saved and refuses it with the reason; a template that
passed renders for every account (the fields are always all there).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from billing.money import to_money

# The fields a template may use, each with the sample value the check renders with.
FIELDS: dict[str, object] = {
    "full_name": "Иванов Иван Иванович",
    "contract": "100234",
    "login": "ivanov",
    "balance": Decimal("-12.50"),
    "credit": Decimal("0.00"),
    "tariff": "Домашний 100",
    "days_left": 3,
    "amount": Decimal("500.00"),  # a payment's sum, the sum to pay to restore access
    "reason": "Недостаточно средств на счёте",  # why access is blocked
    "until": "01.01.2027",  # a suspension's end, a limit's end
}
MAX_TEMPLATE = 2000


class TemplateRefused(ValueError):
    """The template cannot be saved: the text says why, for the operator's form."""


def money(value, language: str = "ru") -> str:
    """``1 234,50`` (ru) or ``1,234.50`` (en): an amount as the subscriber reads it."""
    amount = to_money(value)
    text = f"{amount:,.2f}"
    if language == "ru":
        text = text.replace(",", "\u00a0").replace(".", ",")
    return text


def _environment(language: str) -> ImmutableSandboxedEnvironment:
    env = ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=False,
                                        keep_trailing_newline=False)
    env.filters["money"] = lambda value: money(value, language)
    return env


def render(body: str, fields: Mapping[str, object], language: str = "ru") -> str:
    """The message text; TemplateRefused when the template cannot render with
    ``fields``."""
    try:
        return _environment(language).from_string(body).render(**fields).strip()
    except TemplateError as exc:
        raise TemplateRefused(f"the template cannot be rendered: {exc}") from None
    except (TypeError, ValueError, ArithmeticError) as exc:
        raise TemplateRefused(f"the template fails on its values: {exc}") from None


def check(body: str, language: str = "ru") -> str:
    """Refuse a template that could not be sent; returns its text for the sample
    subscriber (the preview)."""
    if not body or not body.strip():
        raise TemplateRefused("the template is empty")
    if len(body) > MAX_TEMPLATE:
        raise TemplateRefused(f"the template is longer than {MAX_TEMPLATE} characters")
    text = render(body, FIELDS, language)
    if not text:
        raise TemplateRefused("the template renders to an empty message")
    return text
