"""Balance transfer between two accounts: both sides in the ledger, in one transaction.

Rules: the sender's current tariff allows transfers (``tariffs.allow_balance_transfer``),
the amount is above zero and at most the sender's balance (credit and overdraft do not
count: a transfer moves money the sender has). Both account rows are locked in id order
before the balance is read, so concurrent transfers touching the same accounts wait for
each other instead of both spending the same money, and two opposite transfers (A→B and
B→A at once) cannot deadlock.

The two entries are linked by their keys: ``transfer:{request}:out`` on the sender and
``transfer:{request}:in`` on the receiver, each naming the other side in its details. A
request repeated with the same key (a double click, a retried HTTP call) returns the
transfer it already made and moves nothing.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

import psycopg

from billing import ledger
from billing.assignments import in_force
from billing.errors import Refused
from billing.money import to_money


class TransferError(Refused):
    """A transfer that cannot be made; ``code`` is what the caller acts on."""


@dataclass(frozen=True, slots=True)
class Transfer:
    request_key: str
    from_account_id: int
    to_account_id: int
    amount: Decimal
    out_entry_id: int
    in_entry_id: int
    created: bool  # False: this request was already carried out


def check_transfer(
    *, allowed: bool, amount: Decimal, balance: Decimal, same_account: bool
) -> None:
    """Refuse a transfer the rules do not allow; the first broken rule is reported."""
    if same_account:
        raise TransferError("same_account", "an account cannot transfer to itself")
    if not allowed:
        raise TransferError("not_allowed", "the tariff does not allow balance transfers")
    if amount <= 0:
        raise TransferError("amount_not_positive", "the amount must be above zero")
    if amount > balance:
        raise TransferError(
            "insufficient_balance", f"the amount is more than the balance ({balance})"
        )


_LOCK = "SELECT id, balance FROM accounts WHERE id = ANY(%s) ORDER BY id FOR UPDATE"

_ALLOWED = f"""
    SELECT coalesce((SELECT tf.allow_balance_transfer FROM tariffs tf
                      WHERE tf.id = ({in_force("%s", "%s", columns="t.tariff_id")})), false)
"""


def transfer_allowed(conn: psycopg.Connection, account_id: int, at: datetime) -> bool:
    """Whether the tariff in force at ``at`` lets the account send money (no tariff: no)."""
    return conn.execute(_ALLOWED, (account_id, at)).fetchone()[0]


def transfer_balance(
    conn: psycopg.Connection,
    from_account_id: int,
    to_account_id: int,
    amount: Decimal | str | int,
    *,
    request_key: str | None = None,
    at: datetime | None = None,
    staff_user_id: int | None = None,
) -> Transfer:
    """Move ``amount`` from one account's balance to another's, atomically.

    ``request_key`` identifies the request (made up when absent); a
    :class:`TransferError` leaves nothing written.
    """
    at = at or datetime.now(UTC)
    amount = to_money(amount)
    key = request_key or uuid.uuid4().hex
    out_key, in_key = f"transfer:{key}:out", f"transfer:{key}:in"
    with conn.transaction():
        locked = dict(conn.execute(_LOCK, ([from_account_id, to_account_id],)).fetchall())
        missing = {from_account_id, to_account_id} - set(locked)
        if missing:
            raise TransferError("unknown_account", f"account {min(missing)} does not exist")
        done = _already_done(conn, out_key, in_key)
        if done is not None:
            out_entry, in_entry = done
            if (out_entry.account_id, in_entry.account_id, in_entry.amount) != (
                from_account_id, to_account_id, amount
            ):
                raise TransferError(
                    "request_reused", f"request {key!r} was a different transfer"
                )
            return Transfer(key, from_account_id, to_account_id, amount, out_entry.id,
                            in_entry.id, created=False)
        allowed = transfer_allowed(conn, from_account_id, at)
        check_transfer(allowed=allowed, amount=amount, balance=locked[from_account_id],
                       same_account=from_account_id == to_account_id)
        details = {"request": key, "from_account_id": from_account_id,
                   "to_account_id": to_account_id}
        out_entry = ledger.post(conn, ledger.Entry(
            account_id=from_account_id, kind="transfer", amount=-amount,
            idempotency_key=out_key, effective_at=at, staff_user_id=staff_user_id,
            description=f"Transfer to account {to_account_id}",
            details={**details, "counterpart_key": in_key},
        ))
        in_entry = ledger.post(conn, ledger.Entry(
            account_id=to_account_id, kind="transfer", amount=amount,
            idempotency_key=in_key, effective_at=at, staff_user_id=staff_user_id,
            description=f"Transfer from account {from_account_id}",
            details={**details, "counterpart_key": out_key},
        ))
    return Transfer(key, from_account_id, to_account_id, amount, out_entry.id, in_entry.id,
                    created=True)


@dataclass(frozen=True, slots=True)
class _Side:
    id: int
    account_id: int
    amount: Decimal


def _already_done(
    conn: psycopg.Connection, out_key: str, in_key: str
) -> tuple[_Side, _Side] | None:
    rows = {
        r[0]: _Side(r[1], r[2], r[3])
        for r in conn.execute(
            "SELECT idempotency_key, id, account_id, amount FROM ledger_entries"
            " WHERE idempotency_key = ANY(%s)", ([out_key, in_key],)
        )
    }
    if out_key not in rows:
        return None
    return rows[out_key], rows[in_key]
