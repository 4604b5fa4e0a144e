"""``ebs account``: suspension, promised payment and transfer through the billing rules."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from click.testing import CliRunner

from cli.main import cli
from tests.conftest import ebs_env
from tests.integration.charging_helpers import account, assign, pay, tariff

JAN = datetime(2026, 1, 1, tzinfo=UTC)


def _contract(conn, account_id):
    return conn.execute("SELECT contract FROM accounts WHERE id = %s",
                        (account_id,)).fetchone()[0]


def test_suspend_resume_promise_and_transfer_from_the_command_line(db, conn, tmp_path):
    t = tariff(conn)
    conn.execute(
        "UPDATE tariffs SET allow_self_suspension = true, suspension_cost = 20,"
        " suspension_max_days = 10, allow_balance_transfer = true WHERE id = %s", (t,))
    conn.execute("INSERT INTO promise_settings (tariff_id, max_sum, days) VALUES (%s, 300, 5)",
                 (t,))
    a, b = account(conn), account(conn)
    for acc in (a, b):
        assign(conn, acc, t, JAN)
    pay(conn, a, "100")
    (tmp_path / "none.py").write_text("")
    env = ebs_env(db, tmp_path / "none.py")

    def ebs(*args):
        return CliRunner().invoke(cli, ["account", *args], env=env)

    done = ebs("suspend", _contract(conn, a), "--days", "3", "--at", "2026-02-01T10:00")
    assert done.exit_code == 0, done.output
    assert "fee 20.00" in done.output
    assert conn.execute("SELECT status, balance FROM accounts WHERE id = %s",
                        (a,)).fetchone() == ("suspended", Decimal("80.00"))
    again = ebs("suspend", _contract(conn, a), "--at", "2026-02-01T11:00")
    assert again.exit_code == 1 and "already_suspended" in again.output
    done = ebs("resume", _contract(conn, a), "--at", "2026-02-02T10:00")
    assert done.exit_code == 0, done.output
    assert conn.execute("SELECT status FROM accounts WHERE id = %s", (a,)).fetchone()[0] == (
        "active")

    done = ebs("transfer", _contract(conn, a), _contract(conn, b), "30",
               "--request-key", "r1")
    assert done.exit_code == 0, done.output
    assert ebs("transfer", _contract(conn, a), _contract(conn, b), "30",
               "--request-key", "r1").exit_code == 0  # the same request, once
    too_much = ebs("transfer", _contract(conn, a), _contract(conn, b), "1000")
    assert too_much.exit_code == 1 and "insufficient_balance" in too_much.output

    over = ebs("promise", _contract(conn, b), "500")
    assert over.exit_code == 1 and "over_max_sum" in over.output
    done = ebs("promise", _contract(conn, b), "200")
    assert done.exit_code == 0, done.output
    assert conn.execute("SELECT balance FROM accounts WHERE id IN (%s, %s) ORDER BY id",
                        (a, b)).fetchall() == [(Decimal("50.00"),), (Decimal("230.00"),)]
    unknown = ebs("resume", "no-such-contract")
    assert unknown.exit_code == 1 and "no account" in unknown.output
