"""The session hold is one rule: SQL ``ebs_session_hold`` (asked by the stale-session
sweep, the RADIUS live-session count and every lease renewal) and its Python twin
``billing.access.session_hold`` agree on generated intervals, and no other SQL restates
it."""

import re
from datetime import timedelta
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from billing.access import session_hold

ROOT = Path(__file__).resolve().parents[2]
INTERVALS = st.one_of(st.sampled_from([0, 1, 59, 60, 61, 300, 3600]),
                      st.integers(min_value=0, max_value=86_400))


@given(interval=INTERVALS)
def test_the_sql_hold_is_the_python_hold(conn, interval):
    held = conn.execute("SELECT ebs_session_hold(%s)", (interval,)).fetchone()[0]
    assert held == session_hold(interval)


@given(interval=INTERVALS, left=st.integers(min_value=-600, max_value=2 * 86_400 * 3))
def test_a_lease_is_renewed_once_less_than_half_its_hold_is_left(conn, interval, left):
    with conn.transaction():  # one now() for the question and the answer
        now = conn.execute("SELECT now()").fetchone()[0]
        expires = now + timedelta(seconds=left)
        due = conn.execute("SELECT ebs_lease_renew_due(%s, %s)", (expires, interval)).fetchone()[0]
    assert due == (expires < now + session_hold(interval) / 2)


# "<n> * greatest(<something>interim_interval" or "...p_hold_seconds": the rule spelled out.
_RESTATED = re.compile(r"\d(\.\d+)?\s*\*\s*greatest\(\s*[\w.]*(interim_interval|hold_seconds)")


def test_no_other_sql_spells_the_hold_out():
    places = [ROOT / "sql", ROOT / "freeradius_conf", ROOT / "billing", ROOT / "stack",
              ROOT / "worker", ROOT / "rlm_ebs"]
    spelled = sorted(
        path.relative_to(ROOT).as_posix()
        for place in places for path in place.rglob("*")
        if path.is_file() and path.suffix in {".sql", ".py", ".conf", ""}
        and _RESTATED.search(path.read_text(errors="replace"))
    )
    assert spelled == ["sql/functions/ebs_session_hold.sql"]
