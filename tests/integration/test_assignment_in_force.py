"""One "current tariff" rule: ``billing.assignments`` (``in_force`` through
``current_assignment``, and ``all_in_force``) and SQL ``ebs_assignment_in_force`` (which
ebs_radius_check asks on every login) find the same assignment on generated timelines —
several assignments per account, moments exactly at a change and a microsecond either
side, before the first and after the last, future ones — and the one the rule says: the
latest assigned at or before the moment (strictly before, for ``before``)."""

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from billing.assignments import all_in_force, current_assignment, current_tariff
from tests.integration.charging_helpers import account, assign, tariff

TICK = timedelta(microseconds=1)

timelines = st.lists(  # per account: its assignments, minutes from "now" (some future)
    st.lists(st.integers(min_value=-600, max_value=600), unique=True, max_size=5),
    min_size=1, max_size=4)


def _expected(assigned: dict[datetime, int], at: datetime, before: bool) -> int | None:
    due = [when for when in assigned if when < at or (when == at and not before)]
    return assigned[max(due)] if due else None


@settings(max_examples=40)
@given(timelines=timelines)
def test_python_and_sql_find_the_same_assignment(conn, timelines):
    now = conn.execute("SELECT date_trunc('minute', now())").fetchone()[0]
    tariffs = [tariff(conn), tariff(conn)]
    accounts: dict[int, dict[datetime, int]] = {}
    for minutes in timelines:
        acc = account(conn)
        accounts[acc] = {}
        for i, m in enumerate(minutes):
            when = now + timedelta(minutes=m)
            accounts[acc][when] = assign(conn, acc, tariffs[i % 2], when)
    changes = {when for assigned in accounts.values() for when in assigned}
    moments = {now - timedelta(days=1), now, now + timedelta(days=1)}
    moments |= {when + d for when in changes for d in (-TICK, timedelta(0), TICK)}
    ids = list(accounts)
    for at in sorted(moments):
        for before in (False, True):
            every = dict(conn.execute(
                f"SELECT x.account_id, x.id FROM ({all_in_force('%s', before=before)}) x"
                " WHERE x.account_id = ANY(%s)", (at, ids)).fetchall())
            for acc, assigned in accounts.items():
                want = _expected(assigned, at, before)
                one = current_assignment(conn, acc, at, before=before)
                assert (one.id if one else None) == want, (acc, at, before)
                assert every.get(acc) == want, (acc, at, before)
                if not before:
                    sql = conn.execute("SELECT id FROM ebs_assignment_in_force(%s, %s)",
                                       (acc, at)).fetchone()
                    assert (sql[0] if sql else None) == want, (acc, at)


def test_current_tariff_names_the_tariff_in_force_now(conn):
    now = conn.execute("SELECT now()").fetchone()[0]
    old, new, later = tariff(conn), tariff(conn), tariff(conn)
    acc = account(conn)
    assert current_tariff(conn, acc) is None
    assign(conn, acc, old, now - timedelta(days=2))
    on_new = assign(conn, acc, new, now - timedelta(hours=1))
    assign(conn, acc, later, now + timedelta(hours=1))
    cur = current_tariff(conn, acc)
    name = conn.execute("SELECT name FROM tariffs WHERE id = %s", (new,)).fetchone()[0]
    assert (cur.id, cur.tariff_id, cur.tariff_name) == (on_new, new, name)
    assert current_tariff(conn, acc, now + timedelta(hours=2)).tariff_id == later
    assert current_tariff(conn, acc, datetime(2000, 1, 1, tzinfo=UTC)) is None


def test_the_sql_lookup_is_inlined(conn):
    """A SET clause or a plpgsql body would make every login plan and call a function:
    inlined, the lookup is an index read inside the caller's plan."""
    plan = "\n".join(row[0] for row in conn.execute(
        "EXPLAIN SELECT a.id, x.tariff_id FROM accounts a"
        " LEFT JOIN LATERAL ebs_assignment_in_force(a.id, now()) x ON true"
        " WHERE a.id = 1"))
    assert "Function Scan" not in plan
    assert "account_tariffs" in plan
