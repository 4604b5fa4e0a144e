"""Money: Decimal amounts with 2 decimals, one rounding rule, cumulative proration.

Python's default rounding is banker's (ROUND_HALF_EVEN); PostgreSQL's ``round(numeric)``
rounds half away from zero. Every amount goes through :func:`round_money` so both sides
agree, and the SQL twins (``ebs_round_money``, ``ebs_prorate``) are tested against these.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, DecimalException

from billing.errors import Refused

CENT = Decimal("0.01")
# The largest amount a NUMERIC(14,2) column holds: an amount beyond it is a typing
# error or an attack, never money.
MONEY_LIMIT = Decimal("999999999999.99")


class MoneyError(Refused):
    """An amount that is not a valid sum of money. ``code`` says why, for every adapter
    to word once: ``not_an_amount`` (text, a float, NaN, Infinity), ``too_many_decimals``
    or ``out_of_range`` (beyond :data:`MONEY_LIMIT`)."""


def to_money(value: Decimal | int | str) -> Decimal:
    """Parse an amount exactly: the one rule every form, API field and command applies.

    Floats are refused because they are already inexact; NaN and Infinity because no
    comparison or sum with them means anything; amounts beyond the column's range and
    fractions of a kopeck because storing them would fail or round silently.
    """
    if isinstance(value, (float, bool)):
        raise MoneyError("not_an_amount",
                         f"amounts must be Decimal, int or str, not {type(value).__name__}")
    try:
        amount = Decimal(value.strip() if isinstance(value, str) else value)
    except (DecimalException, TypeError, ValueError):
        raise MoneyError("not_an_amount", f"not an amount: {_shown(value)}") from None
    if not amount.is_finite():
        raise MoneyError("not_an_amount", f"not an amount: {_shown(value)}")
    if amount.copy_abs() > MONEY_LIMIT:
        raise MoneyError("out_of_range", f"amount {_shown(value)} is out of range "
                                         f"(at most {MONEY_LIMIT})")
    if amount != amount.quantize(CENT, rounding=ROUND_HALF_UP):
        raise MoneyError("too_many_decimals", f"amount {_shown(value)} has more than 2 decimals")
    return amount.quantize(CENT)


def _shown(value: object) -> str:
    """The refused value for a message, cut short (it may be a megabyte of digits)."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def round_money(value: Decimal | int) -> Decimal:
    """Round to cents, half away from zero (0.005 → 0.01, −0.005 → −0.01)."""
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def _round_ratio_to_cents(cents: int, num: int, den: int) -> int:
    """round(cents·num/den) half away from zero, in exact integer arithmetic."""
    if den <= 0:
        raise ValueError("denominator must be positive")
    product = cents * num
    sign = -1 if product < 0 else 1
    return sign * ((2 * abs(product) + den) // (2 * den))


def prorate(cost: Decimal, done: int, total: int) -> Decimal:
    """The cost of the first ``done`` of ``total`` units, rounded to cents.

    Exact: no division is rounded before the final cent, so the result does not depend on
    a Decimal context or on PostgreSQL's division scale.
    """
    if not 0 <= done <= total or total <= 0:
        raise ValueError(f"need 0 <= done <= total and total > 0, got {done}/{total}")
    cents = int(to_money(cost) * 100)
    return Decimal(_round_ratio_to_cents(cents, done, total)) / 100


def prorate_piece(cost: Decimal, start: int, end: int, total: int) -> Decimal:
    """The charge for units ``start..end`` of ``total``: the change of the rounded cumulative.

    This is the cumulative rule: the k-th of n steps costs round(cost·k/n) −
    round(cost·(k−1)/n). However a period is cut into pieces (daily steps, a tariff change
    at 13:37, a suspension), the pieces of a whole period add up to the cost exactly.
    """
    if start > end:
        raise ValueError(f"piece starts after it ends: {start} > {end}")
    return (prorate(cost, end, total) - prorate(cost, start, total)).quantize(CENT)


def step_charge(cost: Decimal, step: int, steps: int) -> Decimal:
    """The k-th (1-based) of ``steps`` equal charges of ``cost``, cumulatively rounded."""
    if not 1 <= step <= steps:
        raise ValueError(f"step {step} outside 1..{steps}")
    return prorate_piece(cost, step - 1, step, steps)
