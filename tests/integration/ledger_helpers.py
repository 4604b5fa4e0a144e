"""Small builders shared by the ledger tests."""

from datetime import UTC, datetime
from decimal import Decimal

from billing import ledger

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def make_account(conn, contract: str = "1001") -> int:
    return conn.execute(
        "INSERT INTO accounts (contract, login) VALUES (%s, %s) RETURNING id",
        (contract, f"user{contract}"),
    ).fetchone()[0]


def entry(account_id: int, amount: str, key: str, kind: str = "payment") -> ledger.Entry:
    return ledger.Entry(account_id, kind, Decimal(amount), key, NOW)


def balance(conn, account_id: int) -> Decimal:
    return conn.execute("SELECT balance FROM accounts WHERE id = %s", (account_id,)).fetchone()[0]
