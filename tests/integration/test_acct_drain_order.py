"""The spool drain applies entries in file order, whatever the batch size: a session's
Start, Interim-Updates and Stop in one batch or spread over several end the same way, an
Interim-Update after the Stop does not reopen the session, and a NAS reboot closes only
what was open before it. Real PostgreSQL; the spool is written as FreeRADIUS writes it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from psycopg import connect
from psycopg.rows import dict_row

from stack import acct_spool
from tests.acct_entries import NAS, OTHER_NAS, T0, counters, entry, spool_file


def state(conn) -> tuple[dict, dict]:
    opened = {r["acct_session_id"]: r for r in conn.execute("SELECT * FROM sessions_open")}
    closed = {r["acct_session_id"]: r for r in conn.execute("SELECT * FROM sessions_history")}
    return opened, closed


@pytest.mark.parametrize("batch_size", [1, 2, 3, 5000])
def test_order_holds_within_and_across_batches(db, tmp_path, batch_size):
    spool = tmp_path / "spool"
    # Already open before this spool: one only updated (the set-based path), one whose
    # NAS reboots after its interim.
    with connect(db, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO sessions_open (acct_unique_id, acct_session_id, nas_ip, username,"
            " started_at, updated_at, input_octets) VALUES"
            " (%s, 'kept', %s, 'u-kept', %s, %s, 5),"
            " (%s, 'rebooted', %s, 'u-rebooted', %s, %s, 5)",
            (f"kept-{OTHER_NAS}", OTHER_NAS, T0, T0, f"rebooted-{NAS}", NAS, T0, T0))
    spool_file(spool, "detail-2026112901", [
        entry("Start", "whole", at=0, Framed_IP_Address="10.0.0.1"),
        entry("Interim-Update", "kept", nas=OTHER_NAS, at=10, Framed_IP_Address="10.0.0.7",
              **counters(100, 60)),
        entry("Interim-Update", "whole", at=60, **counters(100, 60)),
        entry("Interim-Update", "rebooted", at=61, **counters(50, 61)),
        entry("Stop", "whole", at=120, Acct_Terminate_Cause="User-Request",
              **counters(150, 120)),
        entry("Interim-Update", "whole", at=90, **counters(120, 90)),  # late, after Stop
        entry("Interim-Update", "kept", nas=OTHER_NAS, at=70, Framed_IP_Address="10.0.0.8",
              **counters(90, 70)),  # older counters: never back, last address wins
        entry("Accounting-On", at=200),
        entry("Start", "after-reboot", at=210),
    ])
    spool_file(spool, "detail-2026112902", [
        entry("Interim-Update", "whole", at=180, **counters(999, 180)),  # still closed
        entry("Interim-Update", "after-reboot", at=270, **counters(7, 60)),
        entry("Stop", "no-start", at=300, Acct_Terminate_Cause="Lost-Carrier",
              **counters(3, 30)),
        entry("Interim-Update", "no-start", at=290, **counters(2, 20)),  # after its Stop
    ])
    with connect(db) as conn:
        result = acct_spool.drain(conn, spool, batch_size=batch_size, host="order")
    assert (result.files, result.applied, result.skipped) == (2, 13, 0)
    assert not list(spool.iterdir())

    with connect(db, autocommit=True, row_factory=dict_row) as conn:
        opened, closed = state(conn)
    assert set(opened) == {"kept", "after-reboot"}
    assert set(closed) == {"whole", "rebooted", "no-start"}

    whole = closed["whole"]
    assert (whole["input_octets"], whole["session_time"]) == (150, 120)
    assert (whole["terminate_cause"], whole["stopped_at"]) == ("User-Request",
                                                               T0 + timedelta(seconds=120))
    assert str(whole["framed_ip"]) == "10.0.0.1"

    kept = opened["kept"]
    assert (kept["input_octets"], kept["output_octets"], kept["session_time"]) == (100, 200, 70)
    assert str(kept["framed_ip"]) == "10.0.0.8"

    rebooted = closed["rebooted"]
    assert (rebooted["input_octets"], rebooted["terminate_cause"]) == (50, "NAS-Reboot")
    assert rebooted["stopped_at"] == T0 + timedelta(seconds=200)

    assert opened["after-reboot"]["input_octets"] == 7
    assert (closed["no-start"]["input_octets"], closed["no-start"]["terminate_cause"]) == \
        (3, "Lost-Carrier")
