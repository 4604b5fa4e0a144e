"""The auth spool's lines and files (stack/auth_spool.py), as FreeRADIUS writes them
(freeradius_conf/mods-enabled/auth_spool): what each becomes in the auth log and the
leases, and when a file may be read."""

from __future__ import annotations

import fcntl
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from stack.auth_spool import SETTLE, _settled, drain, parse_line

ALICE = "0x616c696365"  # %{hex:...} of "alice"


def test_a_line_of_the_spool_mode_carries_the_answer_time_and_the_offer():
    answer = parse_line(f"1765200000.250000,{ALICE},10.0.0.1,,ok,accept,"
                        f"1765200000.262500,4711,42")
    logged_at, user, nas, calling, reason, accepted, guest, answer_us = answer.row
    assert logged_at == datetime(2025, 12, 8, 13, 20, 0, 250000, tzinfo=UTC)
    assert (user, nas, calling, reason, accepted, guest) == (
        "alice", "10.0.0.1", "", "ok", True, False)
    assert answer_us == 12500
    assert (answer.lease_id, answer.subaccount_id) == (4711, 42)


def test_an_older_servers_line_has_neither():
    answer = parse_line(f"1765200000.250000,{ALICE},10.0.0.1,,db_unavailable,reject")
    assert answer.row[-1] is None and answer.lease_id is None


def test_a_reject_offers_nothing_and_a_stepped_clock_is_clamped():
    answer = parse_line(f"1765200000.5,{ALICE},,,wrong_password,reject,"
                        f"1765199999.0,4711,42")
    assert answer.lease_id is None and answer.row[2] is None
    assert answer.row[-1] == 0


@pytest.mark.parametrize("line", [
    f"1765200000.1,{ALICE},10.0.0.1,,ok",  # fields missing
    f"1765200000.1,{ALICE},10.0.0.1,,no_such_reason,accept",
    f"1765200000.1,{ALICE},not-an-address,,ok,accept",
    f"1765200000.1,{ALICE},10.0.0.1,,ok,accept,1765200000.2,x,42",
])
def test_a_line_that_is_not_one_is_refused(line):
    with pytest.raises(ValueError):
        parse_line(line)


def test_a_file_is_read_once_its_second_or_minute_has_settled():
    second = Path("auth-1765200000")
    assert not _settled(second, 1765200001 + SETTLE - 0.1)
    assert _settled(second, 1765200001 + SETTLE)
    minute = Path("auth-202512081320")  # an older server's, local time
    start = datetime(2025, 12, 8, 13, 20).timestamp()
    assert not _settled(minute, start + 60)
    assert _settled(minute, start + 60 + SETTLE)
    assert not _settled(Path("auth-notours"), 2e9)


def test_a_second_drain_leaves_the_files_to_the_one_running(tmp_path):
    """The follower and the beat's task both drain: one at a time, or a file applied by
    one could be applied again by the other once its record is gone."""
    (tmp_path / "auth-1765200000").write_text(
        f"1765200000.1,{ALICE},10.0.0.1,,ok,accept,1765200000.2,,\n")
    held = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(held, fcntl.LOCK_EX)
        result = drain(None, tmp_path, now=2e9)  # no database touched
    finally:
        os.close(held)
    assert result.busy and result.files == 0
    assert (tmp_path / "auth-1765200000").exists()
