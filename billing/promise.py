"""Promised payment: a short-lived credit a subscriber takes until the real money arrives.

Taking one posts a credit (kind ``promised_payment``, key ``promise:{id}``). It is closed
once, by whichever comes first: real payments made after it adding up to its sum ("paid"),
or its expiry ("expired"). Either way the closing posts the debit that takes the promised
sum back (kind ``promised_payment_close``, key ``promise:{id}:close``): the payments stay
on the balance, the loan does not. The closing moment is the covering payment's own
``effective_at`` (or the expiry), not the time the tick noticed, so the ledger does not
depend on when ticks run.

The settings come from ``promise_settings``: the row of the account's tariff, else the
global row (tariff NULL); neither means promised payments are not offered.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import psycopg

from billing import ledger
from billing.assignments import in_force
from billing.errors import Refused
from billing.money import to_money

# Ledger kinds that count as real money covering a promise.
PAYMENT_KINDS = ("payment",)


class PromiseError(Refused):
    """A promised payment that cannot be given; ``code`` is what the caller acts on."""


@dataclass(frozen=True, slots=True)
class PromiseSettings:
    allowed: bool
    max_sum: Decimal
    min_balance: Decimal
    days: int
    cooldown_days: int


@dataclass(frozen=True, slots=True)
class Promise:
    id: int
    account_id: int
    amount: Decimal
    taken_at: datetime
    expires_at: datetime


def check_promise(
    settings: PromiseSettings | None,
    *,
    amount: Decimal,
    balance: Decimal,
    has_open: bool,
    last_taken_at: datetime | None,
    at: datetime,
) -> None:
    """Refuse a promise the rules do not allow; the first broken rule is reported."""
    if settings is None or not settings.allowed:
        raise PromiseError("not_allowed", "promised payments are not offered on this tariff")
    if amount <= 0:
        raise PromiseError("amount_not_positive", "the promised sum must be above zero")
    if amount > settings.max_sum:
        raise PromiseError("over_max_sum", f"the promised sum is at most {settings.max_sum}")
    if has_open:
        raise PromiseError("already_open", "a promised payment is still open")
    if balance < settings.min_balance:
        raise PromiseError(
            "balance_below_minimum",
            f"a promised payment needs a balance of at least {settings.min_balance}",
        )
    if last_taken_at is not None and at < last_taken_at + timedelta(days=settings.cooldown_days):
        next_at = last_taken_at + timedelta(days=settings.cooldown_days)
        raise PromiseError(
            "too_soon", f"the next promised payment is possible from {next_at.isoformat()}"
        )


_SETTINGS = f"""
    SELECT s.allowed, s.max_sum, s.min_balance, s.days, s.cooldown_days
      FROM promise_settings s
     WHERE s.tariff_id IS NULL
        OR s.tariff_id = ({in_force("%s", "%s", columns="t.tariff_id")})
     ORDER BY s.tariff_id NULLS LAST
     LIMIT 1
"""


def promise_settings(
    conn: psycopg.Connection, account_id: int, at: datetime
) -> PromiseSettings | None:
    """The settings that apply to the account at ``at``: its tariff's row, else the
    global one; None when neither exists."""
    found = conn.execute(_SETTINGS, (account_id, at)).fetchone()
    return PromiseSettings(*found) if found else None


def take_promise(
    conn: psycopg.Connection,
    account_id: int,
    amount: Decimal | str | int,
    *,
    at: datetime | None = None,
    staff_user_id: int | None = None,
) -> Promise:
    """Give the account a promised payment of ``amount``; nothing is written when a rule
    refuses it (:class:`PromiseError`). The account row is locked, so two requests at once
    cannot both pass the "one open promise" and "not again within N days" checks."""
    at = at or datetime.now(UTC)
    amount = to_money(amount)
    with conn.transaction():
        row = conn.execute(
            "SELECT balance FROM accounts WHERE id = %s FOR UPDATE", (account_id,)
        ).fetchone()
        if row is None:
            raise PromiseError("unknown_account", f"account {account_id} does not exist")
        settings = promise_settings(conn, account_id, at)
        has_open, last_taken_at = conn.execute(
            "SELECT bool_or(closed_at IS NULL), max(taken_at) FROM promised_payments"
            " WHERE account_id = %s", (account_id,)
        ).fetchone()
        check_promise(settings, amount=amount, balance=row[0], has_open=bool(has_open),
                      last_taken_at=last_taken_at, at=at)
        expires_at = at + timedelta(days=settings.days)
        promise_id = conn.execute(
            "INSERT INTO promised_payments (account_id, amount, taken_at, expires_at,"
            " staff_user_id) VALUES (%s, %s, %s, %s, %s) RETURNING id",
            (account_id, amount, at, expires_at, staff_user_id),
        ).fetchone()[0]
        ledger.post(conn, ledger.Entry(
            account_id=account_id, kind="promised_payment", amount=amount,
            idempotency_key=f"promise:{promise_id}", effective_at=at,
            staff_user_id=staff_user_id, description="Promised payment",
            details={"promise_id": promise_id, "expires_at": expires_at.isoformat()},
        ))
    return Promise(promise_id, account_id, amount, at, expires_at)


# Open promises (of some accounts, or all) that are covered or expired by %(at)s, closed
# in one statement. The covering moment is where the running sum of payments made after
# the promise reaches its amount. Two runs at once: the second waits on the row locks and
# finds the rows closed.
_SETTLE = """
    WITH open AS (
        SELECT p.id, p.account_id, p.amount, p.taken_at, p.expires_at
          FROM promised_payments p
         WHERE p.closed_at IS NULL
           AND (%(ids)s::bigint[] IS NULL OR p.account_id = ANY(%(ids)s::bigint[]))
    ),
    paid AS (
        SELECT o.id, e.effective_at,
               sum(e.amount) OVER (PARTITION BY o.id ORDER BY e.effective_at, e.id) AS running
          FROM open o
          JOIN ledger_entries e
            ON e.account_id = o.account_id AND e.kind = ANY(%(kinds)s)
           AND e.effective_at > o.taken_at AND e.effective_at <= %(at)s
    ),
    covered AS (
        SELECT p.id, min(p.effective_at) AS covered_at
          FROM paid p JOIN open o ON o.id = p.id
         WHERE p.running >= o.amount
         GROUP BY p.id
    ),
    due AS (
        SELECT o.id,
               CASE WHEN c.covered_at <= o.expires_at THEN c.covered_at ELSE o.expires_at END
                   AS closed_at,
               CASE WHEN c.covered_at <= o.expires_at THEN 'paid' ELSE 'expired' END
                   AS reason
          FROM open o LEFT JOIN covered c ON c.id = o.id
         WHERE c.covered_at IS NOT NULL OR o.expires_at <= %(at)s
    ),
    closed AS (
        UPDATE promised_payments p
           SET closed_at = d.closed_at, close_reason = d.reason
          FROM due d
         WHERE p.id = d.id AND p.closed_at IS NULL
        RETURNING p.id, p.account_id, p.amount, p.closed_at, p.close_reason
    ),
    posted AS (
        INSERT INTO ledger_entries (account_id, kind, amount, idempotency_key, effective_at,
                                    description, details)
        SELECT account_id, 'promised_payment_close', -amount, 'promise:' || id || ':close',
               closed_at, 'Promised payment closed',
               jsonb_build_object('promise_id', id, 'reason', close_reason)
          FROM closed
         ORDER BY account_id
        ON CONFLICT (idempotency_key) DO NOTHING
        RETURNING 1
    )
    SELECT (SELECT count(*) FROM closed), (SELECT count(*) FROM posted)
"""


def settle_promises(
    conn: psycopg.Connection, at: datetime, account_ids: list[int] | None = None
) -> int:
    """Close every open promise that real payments cover or that has expired by ``at``;
    returns how many were closed. The tick's step (all accounts), and what a payment path
    calls for its account right after posting the payment."""
    with conn.transaction():
        closed, _ = conn.execute(
            _SETTLE, {"at": at, "ids": account_ids, "kinds": list(PAYMENT_KINDS)}
        ).fetchone()
    return closed
