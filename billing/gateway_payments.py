"""Payments that arrive through a gateway: one row per provider transaction, a state that
moves, and exactly one ledger entry per move into or out of "paid".

A provider may deliver the same notification twice, ten times at once, or again a day
later; an operator may cancel a payment the bank took back and restore it when the bank
changes its mind. So a provider's transaction is one ``gateway_payments`` row, unique by
(backend, the provider's id), and its state changes only under the row's lock:

* pending → paid credits the amount through :func:`billing.payments.post_payment`, keyed
  by the payment and the change's number (``<backend>:payment:<id>:<change>``);
* paid → cancelled reverses the credit the last move into paid posted;
* cancelled → paid credits again under the new change's number;
* pending → cancelled moves no money.

Each move is a numbered ``gateway_payment_changes`` row holding its ledger entry, so
paid → cancelled → paid credits, reverses and credits again, each once, and a move
asked for twice (a retried click, a replayed notification) finds the state already
there and posts nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from billing import payments
from billing.payments import PaymentError

STATES = ("pending", "paid", "cancelled")
MOVES = {("pending", "paid"), ("pending", "cancelled"), ("paid", "cancelled"),
         ("cancelled", "paid")}


@dataclass(frozen=True, slots=True)
class GatewayPayment:
    id: int
    backend: str
    provider_txn_id: str
    account_id: int
    amount: Decimal
    currency: str
    state: str
    changes: int
    created_at: datetime
    created: bool = False  # this call inserted the row

    @property
    def paid(self) -> bool:
        return self.state == "paid"


@dataclass(frozen=True, slots=True)
class Change:
    payment_id: int
    change_no: int
    from_state: str
    to_state: str
    ledger_entry_id: int | None


_COLUMNS = ("id, backend, provider_txn_id, account_id, amount, currency, state, changes,"
            " created_at")


def _row(row, created: bool = False) -> GatewayPayment:
    return GatewayPayment(*row, created=created)


def register(
    conn: psycopg.Connection,
    backend: str,
    provider_txn_id: str,
    account_id: int,
    amount: Decimal,
    currency: str,
    *,
    provider_at: datetime | None = None,
    details: dict[str, Any] | None = None,
) -> GatewayPayment:
    """The payment for (backend, provider_txn_id): inserted pending, or the one a first
    delivery inserted. The same id for another account or amount is a provider's error
    or a forgery: refused (``key_reused``), never absorbed."""
    if amount <= 0:
        raise PaymentError("bad_amount", f"a payment must be greater than zero, got {amount}")
    row = conn.execute(
        f"""INSERT INTO gateway_payments
                (backend, provider_txn_id, account_id, amount, currency, provider_at, details)
            VALUES (%s, %s, %s, %s, %s, %s, %s)
            ON CONFLICT (backend, provider_txn_id) DO NOTHING
            RETURNING {_COLUMNS}""",
        (backend, provider_txn_id, account_id, amount, currency, provider_at,
         Jsonb(details or {})),
    ).fetchone()
    if row is not None:
        return _row(row, created=True)
    found = find(conn, backend, provider_txn_id)
    if found is None:  # cannot happen: the conflict names a committed row
        raise PaymentError("no_entry", f"payment {backend}/{provider_txn_id} vanished")
    if found.account_id != account_id or found.amount != amount:
        raise PaymentError(
            "key_reused",
            f"{backend} transaction {provider_txn_id} was already used for account "
            f"{found.account_id}, amount {found.amount}")
    return found


def find(conn: psycopg.Connection, backend: str, provider_txn_id: str) -> GatewayPayment | None:
    row = conn.execute(f"SELECT {_COLUMNS} FROM gateway_payments"
                       " WHERE backend = %s AND provider_txn_id = %s",
                       (backend, provider_txn_id)).fetchone()
    return None if row is None else _row(row)


def get(conn: psycopg.Connection, payment_id: int) -> GatewayPayment | None:
    row = conn.execute(f"SELECT {_COLUMNS} FROM gateway_payments WHERE id = %s",
                       (payment_id,)).fetchone()
    return None if row is None else _row(row)


def change_state(
    conn: psycopg.Connection,
    payment_id: int,
    to_state: str,
    *,
    staff_user_id: int | None = None,
    notification_id: int | None = None,
    reason: str = "",
    at: datetime | None = None,
    maximum: Decimal | None = None,
) -> Change | None:
    """Move the payment to ``to_state`` under its row lock, with its one ledger entry;
    None when it is in that state already (a repeat asks for nothing new).

    Runs inside the caller's transaction when there is one, so the notification's
    outcome and the credit commit together.
    """
    if to_state not in STATES:
        raise ValueError(f"unknown payment state {to_state!r}")
    moment = at or datetime.now(UTC)
    with conn.transaction():
        row = conn.execute(
            f"SELECT {_COLUMNS} FROM gateway_payments WHERE id = %s FOR UPDATE",
            (payment_id,)).fetchone()
        if row is None:
            raise PaymentError("no_entry", f"payment {payment_id} does not exist")
        payment = _row(row)
        if payment.state == to_state:
            return None
        if (payment.state, to_state) not in MOVES:
            raise PaymentError("bad_state",
                               f"payment {payment_id} cannot go from {payment.state} "
                               f"to {to_state}")
        change_no = payment.changes + 1
        entry_id = None
        if to_state == "paid":
            entry_id = payments.post_payment(
                conn, payment.account_id, payment.amount, source=payment.backend,
                unique_id=f"{payment.id}:{change_no}", staff_user_id=staff_user_id,
                comment=reason or f"Payment through {payment.backend}", at=moment,
                maximum=maximum).id
        elif payment.state == "paid":
            entry_id = payments.reverse_entry(
                conn, _last_credit(conn, payment.id), staff_user_id=staff_user_id,
                reason=reason or f"Payment through {payment.backend} cancelled",
                at=moment).id
        conn.execute(
            """INSERT INTO gateway_payment_changes
                   (payment_id, change_no, from_state, to_state, at, staff_user_id,
                    notification_id, reason, ledger_entry_id)
               VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)""",
            (payment.id, change_no, payment.state, to_state, moment, staff_user_id,
             notification_id, reason, entry_id))
        conn.execute("UPDATE gateway_payments SET state = %s, changes = %s, updated_at = %s"
                     " WHERE id = %s", (to_state, change_no, moment, payment.id))
    return Change(payment.id, change_no, payment.state, to_state, entry_id)


def _last_credit(conn: psycopg.Connection, payment_id: int) -> int:
    return conn.execute(
        "SELECT ledger_entry_id FROM gateway_payment_changes"
        " WHERE payment_id = %s AND to_state = 'paid' ORDER BY change_no DESC LIMIT 1",
        (payment_id,)).fetchone()[0]


@dataclass(frozen=True, slots=True)
class Applied:
    """A provider's "paid" as applied: the payment, and whether this call credited it."""

    payment: GatewayPayment
    credited: bool


def pay(
    conn: psycopg.Connection,
    backend: str,
    provider_txn_id: str,
    account_id: int,
    amount: Decimal,
    currency: str,
    *,
    provider_at: datetime | None = None,
    details: dict[str, Any] | None = None,
    notification_id: int | None = None,
    maximum: Decimal | None = None,
) -> Applied:
    """A provider says it took ``amount`` for the account: register and credit, once.

    A payment the operator cancelled stays cancelled when the provider repeats itself:
    only a person undoes a person's decision."""
    with conn.transaction():
        payment = register(conn, backend, provider_txn_id, account_id, amount, currency,
                           provider_at=provider_at, details=details)
        change = None
        if payment.state == "pending":
            change = change_state(conn, payment.id, "paid", notification_id=notification_id,
                                  maximum=maximum)
        return Applied(get(conn, payment.id), change is not None)


@dataclass(frozen=True, slots=True)
class Discrepancy:
    """A payment whose ledger entries do not add up to what its state says."""

    payment_id: int
    backend: str
    provider_txn_id: str
    account_id: int
    state: str
    expected: Decimal
    posted: Decimal
    entries: int


_RECONCILE = """
    WITH chosen AS (
        SELECT * FROM gateway_payments
         WHERE %(since)s::timestamptz IS NULL OR created_at >= %(since)s
    ),
    recorded AS (
        SELECT p.id, count(c.change_no) AS changes,
               count(c.change_no) FILTER (WHERE 'paid' IN (c.from_state, c.to_state))
                   AS money_moves,
               count(e.id) AS entries, coalesce(sum(e.amount), 0) AS posted
          FROM chosen p
          LEFT JOIN gateway_payment_changes c ON c.payment_id = p.id
          LEFT JOIN ledger_entries e ON e.id = c.ledger_entry_id
         GROUP BY p.id
    ),
    -- what the ledger holds whatever the changes say: credits under the payment's keys
    -- (one more than its changes, to catch a credit without its change) and every
    -- reversal of them, also one made by hand in the ledger
    ledger AS (
        SELECT p.id, count(e.id) + count(r.id) AS entries,
               coalesce(sum(e.amount), 0) + coalesce(sum(r.amount), 0) AS posted
          FROM chosen p
          CROSS JOIN LATERAL generate_series(1, p.changes + 1) AS n
          JOIN ledger_entries e
            ON e.idempotency_key = p.backend || ':payment:' || p.id || ':' || n
          LEFT JOIN ledger_entries r ON r.reverses_id = e.id
         GROUP BY p.id
    )
    SELECT p.id, p.backend, p.provider_txn_id, p.account_id, p.state,
           CASE WHEN p.state = 'paid' THEN p.amount ELSE 0 END AS expected,
           coalesce(l.posted, 0) AS posted, coalesce(l.entries, 0) AS entries
      FROM chosen p
      JOIN recorded c ON c.id = p.id
      LEFT JOIN ledger l ON l.id = p.id
     WHERE c.changes <> p.changes
        OR c.entries <> c.money_moves
        OR coalesce(l.entries, 0) <> c.money_moves
        OR coalesce(l.posted, 0) <> c.posted
        OR c.posted <> CASE WHEN p.state = 'paid' THEN p.amount ELSE 0 END
     ORDER BY p.id
"""


def reconcile(conn: psycopg.Connection, since: datetime | None = None) -> list[Discrepancy]:
    """Payments (made since ``since``; None: all) whose ledger entries are missing,
    doubled, made outside their changes, or do not sum to what their state says (paid:
    the amount; otherwise nothing). Must be empty; the daily beat task alerts when it
    is not."""
    return [Discrepancy(*row) for row in conn.execute(_RECONCILE, {"since": since})]
