"""``ebs tariff bulk-change``: accounts named, from a file or by their current tariff move
to one tariff at one moment through ``billing.tariff_change.bulk_change_tariff``; a moment
inside time already charged is refused and changes nothing."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from click.testing import CliRunner

from billing.staff import ensure_staff
from cli.main import cli
from tests.conftest import ebs_env
from tests.integration.charging_helpers import account, assign, tariff, tick

JAN = datetime(2026, 1, 1, tzinfo=UTC)


def _name(conn, tariff_id: int) -> str:
    return conn.execute("SELECT name FROM tariffs WHERE id = %s", (tariff_id,)).fetchone()[0]


def _contract(conn, account_id: int) -> str:
    return conn.execute("SELECT contract FROM accounts WHERE id = %s",
                        (account_id,)).fetchone()[0]


def _tariffs_of(conn, account_id: int) -> list[int]:
    return [r[0] for r in conn.execute(
        "SELECT tariff_id FROM account_tariffs WHERE account_id = %s ORDER BY assigned_at",
        (account_id,))]


@pytest.fixture
def ebs(db, tmp_path):
    (tmp_path / "none.py").write_text("")
    env = ebs_env(db, tmp_path / "none.py")

    def run(*args, stdin: str | None = None):
        return CliRunner().invoke(cli, ["tariff", "bulk-change", *args], env=env, input=stdin)

    return run


def test_bulk_change_by_name_file_and_current_tariff(conn, ebs):
    staff = ensure_staff(conn, "boss", "Boss-Secret-1", "Admin")
    home, night, turbo = tariff(conn), tariff(conn), tariff(conn)
    named, listed, on_night, untouched = (account(conn) for _ in range(4))
    for acc in (named, listed, untouched):
        assign(conn, acc, home, JAN)
    assign(conn, on_night, night, JAN)
    done = ebs(_contract(conn, named), "--accounts-file", "-", "--from-tariff",
               _name(conn, night), "--to", _name(conn, turbo), "--staff", "boss",
               "--at", "2026-02-01T00:00+00:00", stdin=_contract(conn, listed) + "\n\n")
    assert done.exit_code == 0, done.output
    assert "changed 3, unchanged 0" in done.output
    assert _tariffs_of(conn, named) == _tariffs_of(conn, listed) == [home, turbo]
    assert _tariffs_of(conn, on_night) == [night, turbo]
    assert _tariffs_of(conn, untouched) == [home]
    rows = conn.execute("SELECT DISTINCT source, staff_user_id, effective_at, status"
                        " FROM tariff_changes").fetchall()
    assert rows == [("bulk", staff, datetime(2026, 2, 1, tzinfo=UTC), "applied")]
    again = ebs(_contract(conn, named), "--to", str(turbo), "--staff", "boss",
                "--at", "2026-02-02T00:00")
    assert again.exit_code == 0 and "changed 0, unchanged 1" in again.output


def test_bulk_change_inside_charged_time_is_refused(conn, ebs):
    ensure_staff(conn, "boss", "Boss-Secret-1", "Admin")
    home, turbo = tariff(conn), tariff(conn)
    acc = account(conn)
    assign(conn, acc, home, JAN)
    tick(conn, datetime(2026, 2, 10, tzinfo=UTC), times=1)
    done = ebs(_contract(conn, acc), "--to", str(turbo), "--staff", "boss",
               "--at", "2026-02-05T00:00")
    assert done.exit_code == 1
    assert "refused (before_last_tick)" in done.output
    assert _tariffs_of(conn, acc) == [home]


def test_bulk_change_names_what_it_cannot_find(conn, ebs):
    ensure_staff(conn, "boss", "Boss-Secret-1", "Admin")
    turbo = tariff(conn)
    unknown = ebs("nobody", "--to", str(turbo), "--staff", "boss")
    assert unknown.exit_code == 1 and "no account with contract or login: nobody" in (
        unknown.output)
    nothing = ebs("--to", str(turbo), "--staff", "boss")
    assert nothing.exit_code == 2 and "name the accounts" in nothing.output
    wrong = ebs("x", "--to", "no-such-tariff", "--staff", "boss")
    assert wrong.exit_code == 2 and "no tariff named 'no-such-tariff'" in wrong.output
