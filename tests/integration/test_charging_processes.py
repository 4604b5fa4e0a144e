"""Charge ticks as separate `ebs charge` processes: two at once, and one killed halfway
and run again, end with exactly the ledger one uninterrupted tick would write (its dry run
says what that is). The processes' work intervals come from charge_runs, which every tick
writes when it starts and finishes, and are compared to show that they overlapped."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from billing import ledger
from tests.conftest import ebs_env
from tests.integration.charging_helpers import (
    onetime_service,
    periodic_service,
    settlement_period,
    tariff,
)

ACCOUNTS = 500
JAN = datetime(2026, 1, 1, tzinfo=UTC)
AT = datetime(2026, 1, 25, tzinfo=UTC)


def populate(conn) -> None:
    sp = settlement_period(conn)
    t = tariff(conn)
    periodic_service(conn, t, sp, "31.00", "GRADUAL", per_day=4)
    periodic_service(conn, t, sp, "100.00", "AT_START")
    onetime_service(conn, t, "5.00")
    conn.execute(
        "INSERT INTO accounts (contract, login, credit)"
        " SELECT 'k' || g, 'k' || g, 10 FROM generate_series(1, %s) g", (ACCOUNTS,))
    conn.execute(
        "INSERT INTO account_tariffs (account_id, tariff_id, assigned_at)"
        " SELECT id, %s, %s + (id %% 240) * interval '1 hour' FROM accounts", (t, JAN))


def ebs_charge(env: dict[str, str], *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [str(Path(sys.executable).with_name("ebs")), "charge", "--at", AT.isoformat(), "--json",
         *args],
        env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finished(proc: subprocess.Popen) -> dict:
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    return json.loads(out.strip().splitlines()[-1])


def charged(conn) -> tuple[int, Decimal]:
    count, total = conn.execute(
        "SELECT count(*), coalesce(sum(amount), 0) FROM ledger_entries"
        " WHERE kind LIKE 'charge%'").fetchone()
    return count, -total


def expected(env: dict[str, str]) -> tuple[int, Decimal]:
    dry = finished(ebs_charge(env, "--dry-run"))
    return dry["entries"], Decimal(dry["amount"])


def test_two_tick_processes_at_once_write_one_ledger(db, conn, tmp_path):
    populate(conn)
    (tmp_path / "none.py").write_text("")
    env = ebs_env(db, tmp_path / "none.py")
    want = expected(env)
    assert want[0] > ACCOUNTS * 50  # a tick big enough for two processes to meet in

    first, second = ebs_charge(env, "--chunk", "25"), ebs_charge(env, "--chunk", "25")
    results = [finished(first), finished(second)]

    assert charged(conn) == want
    assert sum(r["entries"] for r in results) == want[0]  # each entry written by one
    runs = conn.execute(
        "SELECT started_at, finished_at FROM charge_runs WHERE finished_at IS NOT NULL"
        " ORDER BY started_at").fetchall()
    assert len(runs) == 2, runs
    (a0, a1), (b0, b1) = runs
    assert a0 < b1 and b0 < a1, f"the two ticks did not overlap: {runs}"
    assert ledger.verify(conn) == []


def test_a_tick_killed_halfway_is_completed_by_the_next(db, conn, tmp_path):
    populate(conn)
    (tmp_path / "none.py").write_text("")
    env = ebs_env(db, tmp_path / "none.py")
    want = expected(env)

    doomed = ebs_charge(env, "--chunk", "20")
    deadline = time.monotonic() + 120
    while charged(conn)[0] == 0 and doomed.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    doomed.send_signal(signal.SIGKILL)
    doomed.wait(timeout=30)
    partial = charged(conn)
    assert doomed.returncode == -signal.SIGKILL
    assert 0 < partial[0] < want[0], (partial, want)  # killed with work done and left

    rerun = finished(ebs_charge(env))
    assert rerun["entries"] == want[0] - partial[0]
    assert charged(conn) == want
    assert finished(ebs_charge(env))["entries"] == 0  # and once more changes nothing
    assert charged(conn) == want
    assert ledger.verify(conn) == []
    last = conn.execute(
        "SELECT max(charged_to) FROM charge_runs WHERE finished_at IS NOT NULL").fetchone()[0]
    assert last == AT
