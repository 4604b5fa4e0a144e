"""Database roles: what each component's login may and may not do, on a real cluster set
up as the harness sets every one up (stack/db_roles.py, sql/migrations/*_database_roles.sql).

For every application role, the ways around the ledger fail: a balance update, the old
session-setting trick, deleting, changing or truncating entries, disabling a trigger,
running a program through COPY. What each component needs works as that role: the web
role posts a payment through billing.payments, the worker role runs a charge tick, the
FreeRADIUS role runs ebs_radius_check, ebs_radius_lease and ebs_acct_apply. And the
grants themselves are held, table by table, to what this file says each role gets, so a
new table or column is a decision, not an accident.
"""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import psycopg
import pytest

from billing import payments
from billing.charging.tick import charge
from stack import db_roles
from stack.servers.base import free_port, run
from stack.servers.postgres import PostgresServer, pg_bindir
from tests.harness import role_conninfo, start_with_retry
from tests.integration.charging_helpers import (
    account,
    assign,
    periodic_service,
    settlement_period,
    tariff,
)
from tests.integration.ledger_helpers import make_account

ROLES = db_roles.COMPONENT_ROLES
APP = sorted(ROLES)  # web, worker, radius, acct, flow, reports

DML = {"SELECT", "INSERT", "UPDATE", "DELETE"}
# What web and worker hold on the tables that are not everyday ones.
BUSINESS_EXCEPTIONS = {
    "ledger_entries": {"SELECT", "INSERT"},
    "ledger_totals": {"SELECT"},
    "assignment_totals": {"SELECT"},
    "assignment_totals_daily": {"SELECT"},
    "ledger_entry_kinds": {"SELECT"},
    "schema_migrations": {"SELECT"},
    "schema_functions": {"SELECT"},
}
# Table privileges (whole-table) each narrow role holds; everything else: none.
NARROW = {
    "radius": {"sessions_open": {"SELECT"}, "ip_leases": {"SELECT"}},
    "acct": {"sessions_open": {"SELECT"}, "ip_leases": {"SELECT"},
             "acct_spool_files": DML},
    "flow": {"flow_raw": {"INSERT"}, "flow_bins": {"INSERT"}, "flow_rejects": {"INSERT"}},
    "reports": {},  # SELECT on every table but CREDENTIALS' (column grants there)
}
# Column UPDATE grants of the narrow roles (the interim-update statement's columns).
INTERIM_COLUMNS = {
    "sessions_open": {"updated_at", "framed_ip", "input_octets", "output_octets",
                      "session_time", "interim_interval"},
    "ip_leases": {"expires_at"},
}
# SECURITY DEFINER functions and who may call them (triggers: nobody calls them).
DEFINERS = {
    "ebs_ledger_apply_balances": set(), "ebs_ledger_add_totals": set(),
    "ebs_ledger_accept_kinds": set(), "ebs_ledger_unblock_package": set(),
    "ebs_ledger_totals_fold": {"worker"},
    "ebs_assignment_totals_track": set(), "ebs_assignment_totals_fold": {"worker"},
    "ebs_ensure_month_partitions": {"worker"}, "ebs_drop_month_partitions": {"worker"},
    "ebs_flow_day_partition": {"worker"}, "ebs_flow_drop_days": {"worker"},
    "ebs_radius_check": {"radius"}, "ebs_radius_lease": {"radius"},
    "ebs_acct_apply": {"radius", "acct"}, "ebs_auth_log_write": {"radius"},
    "ebs_auth_log_replay": {"acct"}, "ebs_radius_reserve": {"radius"},
    "ebs_lease_offers_apply": {"acct"},
}
# Columns holding credentials: the reports role reads every column but these, and a
# column whose name looks like one must be listed here (or say why not).
CREDENTIALS = {
    "accounts": {"password_hash"},
    "subaccounts": {"nt_password_hash", "chap_password_encrypted"},
    "nas": {"secret"},
    "express_cards": {"pin_hash"},  # an HMAC under a key outside the database, still
    "card_series": {"pins_sealed"},  # nothing a report needs; sealed until the export
}
# The staff's logins: nothing of them for reports.
STAFF_LOGINS = {"ab_user", "ab_register_user", "ab_api_key"}
LOOKS_SECRET = re.compile(r"password|secret|_hash$|token|_key$")
# Names that look like one and are not: an accounting session's id, a posting's and a
# message's idempotency key, a mailing form's one-time key.
NOT_CREDENTIALS = {"ip_leases.session_key", "ledger_entries.idempotency_key",
                   "messages.idempotency_key", "message_batches.request_key"}


def as_role(db: str, component: str) -> psycopg.Connection:
    return psycopg.connect(role_conninfo(db, component), autocommit=True)


def tables(conn) -> list[str]:
    return [r[0] for r in conn.execute(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition"
        " ORDER BY 1")]


def table_privileges(conn, role: str, table: str) -> set[str]:
    return {p for p in ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES",
                        "TRIGGER")
            if conn.execute("SELECT has_table_privilege(%s, %s, %s)",
                            (role, table, p)).fetchone()[0]}


def columns(conn, table: str) -> list[str]:
    return [r[0] for r in conn.execute(
        "SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0"
        " AND NOT attisdropped ORDER BY attnum", (table,))]


def column_privilege(conn, role: str, table: str, column: str, privilege: str) -> bool:
    return conn.execute("SELECT has_column_privilege(%s, %s, %s, %s)",
                        (role, table, column, privilege)).fetchone()[0]


# --- the grants, table by table --------------------------------------------------------


def test_every_table_holds_each_roles_expected_privileges(conn):
    wrong = []
    for table in tables(conn):
        for component in APP:
            role = ROLES[component]
            found = table_privileges(conn, role, table)
            if component in ("web", "worker"):
                expected = BUSINESS_EXCEPTIONS.get(table, DML)
                if table == "accounts":
                    expected = {"SELECT", "INSERT", "DELETE"}
            elif component == "reports":
                expected = set() if table in CREDENTIALS or table in STAFF_LOGINS else {
                    "SELECT"}
            else:
                expected = NARROW[component].get(table, set())
            if found != expected:
                wrong.append((table, role, sorted(found), sorted(expected)))
    assert not wrong, wrong


def test_columns_business_roles_update_all_of_accounts_but_the_balance(conn):
    for role in (ROLES["web"], ROLES["worker"]):
        for column in columns(conn, "accounts"):
            assert column_privilege(conn, role, "accounts", column, "UPDATE") == (
                column != "balance"), (role, column)


def test_columns_radius_and_acct_update_only_the_interim_columns(conn):
    for component in ("radius", "acct"):
        for table, allowed in INTERIM_COLUMNS.items():
            for column in columns(conn, table):
                assert column_privilege(conn, ROLES[component], table, column, "UPDATE") == (
                    column in allowed), (component, table, column)


def test_reports_read_every_column_but_credentials(conn):
    for table in tables(conn):
        if table in STAFF_LOGINS:
            assert not any(column_privilege(conn, ROLES["reports"], table, column, "SELECT")
                           for column in columns(conn, table)), table
            continue
        for column in columns(conn, table):
            secret = column in CREDENTIALS.get(table, ())
            assert secret or f"{table}.{column}" in NOT_CREDENTIALS or not LOOKS_SECRET.search(
                column), (
                f"{table}.{column} looks like a credential: list it in CREDENTIALS")
            assert column_privilege(conn, ROLES["reports"], table, column, "SELECT") == (
                not secret), (table, column)


def test_sequences_only_for_the_business_roles(conn):
    for (seq,) in conn.execute(
            "SELECT c.oid::regclass::text FROM pg_class c JOIN pg_namespace n"
            " ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind = 'S'"):
        for component in APP:
            usable = conn.execute("SELECT has_sequence_privilege(%s, %s, 'USAGE')",
                                  (ROLES[component], seq)).fetchone()[0]
            assert usable == (component in ("web", "worker")), (seq, component)


def test_functions_definers_only_for_their_callers_and_triggers_for_nobody(conn):
    rows = conn.execute(
        "SELECT p.oid::regprocedure::text, p.proname, p.prosecdef,"
        "       p.prorettype = 'trigger'::regtype"
        "  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace"
        " WHERE n.nspname = 'public' AND p.proname LIKE 'ebs\\_%'").fetchall()
    assert rows
    definers = {name for _, name, secdef, _ in rows if secdef}
    assert definers == set(DEFINERS)
    for signature, name, secdef, trigger in rows:
        for component in APP:
            may = conn.execute("SELECT has_function_privilege(%s, %s, 'EXECUTE')",
                               (ROLES[component], signature)).fetchone()[0]
            if secdef:
                expected = component in DEFINERS[name]
            elif trigger:
                expected = False
            else:  # runs with the caller's own table privileges
                expected = component != "flow"
            assert may == expected, (signature, component)


def test_the_owner_owns_everything_and_no_component_role_owns_anything(conn):
    """Everything but the superuser's extensions (pg_stat_statements)."""
    owner = conn.execute("SELECT current_user").fetchone()[0]
    owners = {r[0] for r in conn.execute(
        "SELECT DISTINCT pg_get_userbyid(c.relowner) FROM pg_class c"
        " JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public'"
        " AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass"
        "                 AND d.objid = c.oid AND d.deptype = 'e')"
        " UNION SELECT DISTINCT pg_get_userbyid(p.proowner) FROM pg_proc p"
        " JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'public'"
        " AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass"
        "                 AND d.objid = p.oid AND d.deptype = 'e')")}
    assert owners == {owner}
    attributes = conn.execute(
        "SELECT rolname, rolsuper, rolcreaterole, rolcreatedb, rolbypassrls"
        "  FROM pg_roles WHERE rolname = ANY(%s)", ([owner, *ROLES.values()],)).fetchall()
    assert len(attributes) == len(ROLES) + 1
    assert all(not any(flags) for _, *flags in attributes), attributes


def test_a_table_created_later_gets_the_business_grants_by_default(conn):
    conn.execute("CREATE TABLE later_table (id serial PRIMARY KEY, note text)")
    assert table_privileges(conn, ROLES["web"], "later_table") == DML
    assert table_privileges(conn, ROLES["reports"], "later_table") == {"SELECT"}
    assert table_privileges(conn, ROLES["flow"], "later_table") == set()
    assert conn.execute("SELECT has_sequence_privilege(%s, 'later_table_id_seq', 'USAGE')",
                        (ROLES["worker"],)).fetchone()[0]


def test_passwords_are_scram_and_their_files_private(pg_server):
    with psycopg.connect(pg_server.admin_conninfo(), autocommit=True) as admin:
        stored = dict(admin.execute(
            "SELECT rolname, rolpassword FROM pg_authid WHERE rolname = ANY(%s)",
            (list(ROLES.values()),)).fetchall())
    assert set(stored) == set(ROLES.values())
    assert all(v.startswith("SCRAM-SHA-256$") for v in stored.values()), stored
    for role in ROLES.values():
        path = db_roles.password_file(pg_server.secrets, role)
        assert path.stat().st_mode & 0o777 == 0o600, path
        assert len(db_roles.read_password(path)) >= 40


def test_no_trust_in_the_clusters_hba(pg_server):
    lines = [line.split() for line in
             (pg_server.datadir / "pg_hba.conf").read_text().splitlines()
             if line.strip() and not line.startswith("#")]
    assert lines
    assert all(fields[-1] != "trust" for fields in lines), lines
    with pytest.raises(psycopg.OperationalError):  # a role without its password
        psycopg.connect(f"host=127.0.0.1 port={pg_server.port} user={ROLES['web']}"
                        " dbname=postgres password=wrong", connect_timeout=5)


def test_a_cluster_of_an_earlier_version_is_taken_over_at_its_start(tmp_path):
    """An earlier local stack's cluster: initialised with trust, its owner the superuser.
    Its next start gives it a superuser of its own, the roles, and no trust."""
    server = PostgresServer(datadir=tmp_path / "data", port=free_port(),
                            socket_dir=tmp_path / "run", durable=False)
    server.socket_dir.mkdir(parents=True)
    run([str(pg_bindir() / "initdb"), "-D", str(server.datadir), "-U", server.user,
         "--auth=trust", "--encoding=UTF8", "--locale=C.UTF-8", "--no-instructions"],
        log=server.log)
    server = start_with_retry(lambda: dataclasses.replace(server, port=free_port()))
    try:
        hba = (server.datadir / "pg_hba.conf").read_text()
        assert "trust" not in hba
        with psycopg.connect(server.admin_conninfo(), autocommit=True) as admin:
            flags = dict(admin.execute(
                "SELECT rolname, rolsuper FROM pg_roles WHERE rolname = ANY(%s)",
                ([server.superuser, server.user, *ROLES.values()],)).fetchall())
        assert flags == {server.superuser: True, server.user: False,
                         **{role: False for role in ROLES.values()}}
        with psycopg.connect(server.role_conninfo(ROLES["web"]), connect_timeout=5) as web:
            assert web.execute("SELECT current_user").fetchone()[0] == ROLES["web"]
    finally:
        server.stop()


# --- what no application role can do ---------------------------------------------------


def funded_account(conn) -> int:
    account_id = make_account(conn, "7001")
    payments.post_payment(conn, account_id, "100.00", source="test", unique_id="seed")
    return account_id


FORBIDDEN = {
    "balance update": ["UPDATE accounts SET balance = balance + 1000 WHERE id = {id}"],
    "the old setting trick": ["SET ebs.ledger_posting = 'on'",
                              "UPDATE accounts SET balance = balance + 1000 WHERE id = {id}"],
    "update an entry": ["UPDATE ledger_entries SET amount = 1000 WHERE account_id = {id}"],
    "delete entries": ["DELETE FROM ledger_entries WHERE account_id = {id}"],
    "truncate entries": ["TRUNCATE ledger_entries CASCADE"],
    "disable the append-only trigger":
        ["ALTER TABLE ledger_entries DISABLE TRIGGER ledger_entries_append_only"],
    "disable the balance guard":
        ["ALTER TABLE accounts DISABLE TRIGGER accounts_guard_balance_update"],
    "disable every trigger": ["ALTER TABLE accounts DISABLE TRIGGER ALL"],
    "drop the guard": ["DROP TRIGGER accounts_guard_balance_update ON accounts"],
    "copy to a program": ["COPY (SELECT 1) TO PROGRAM 'touch /tmp/ebs-pwned'"],
    # A trigger of one's own (on a temporary table) runs at trigger depth 1, where the
    # guard's WHEN lets a balance change through: the column privilege still refuses it.
    "a balance update from a trigger of one's own": [
        "CREATE FUNCTION pg_temp.bump() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
        " UPDATE public.accounts SET balance = balance + 1000 WHERE id = {id};"
        " RETURN NULL; END $$",
        "CREATE TEMP TABLE bump_source (i int)",
        "CREATE TRIGGER bump AFTER INSERT ON bump_source"
        " FOR EACH STATEMENT EXECUTE FUNCTION pg_temp.bump()",
        "INSERT INTO bump_source VALUES (1)"],
    "replace the guard's function": [
        "CREATE OR REPLACE FUNCTION ebs_accounts_guard_balance() RETURNS trigger"
        " LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$"],
}


@pytest.mark.parametrize("component", APP)
def test_no_application_role_gets_round_the_ledger(db, conn, component):
    account_id = funded_account(conn)
    before = conn.execute("SELECT balance, (SELECT count(*) FROM ledger_entries)"
                          "  FROM accounts WHERE id = %s", (account_id,)).fetchone()
    with as_role(db, component) as attacker:
        for name, statements in FORBIDDEN.items():
            with pytest.raises(psycopg.Error) as refused, attacker.transaction():
                for statement in statements:
                    attacker.execute(statement.format(id=account_id))
            assert refused.value.sqlstate in ("42501", "23001", "42883"), (
                name, refused.value.sqlstate, str(refused.value))
    after = conn.execute("SELECT balance, (SELECT count(*) FROM ledger_entries)"
                         "  FROM accounts WHERE id = %s", (account_id,)).fetchone()
    assert after == before == (Decimal("100.00"), 1)


def test_the_owner_cannot_move_a_balance_by_the_old_setting_either(conn):
    account_id = funded_account(conn)
    with pytest.raises(psycopg.errors.RestrictViolation), conn.transaction():
        conn.execute("SET LOCAL ebs.ledger_posting = 'on'")
        conn.execute("UPDATE accounts SET balance = balance + 1000 WHERE id = %s",
                     (account_id,))
    with pytest.raises(psycopg.errors.RestrictViolation), conn.transaction():
        conn.execute("UPDATE accounts SET balance = 5 WHERE id = %s", (account_id,))
    assert conn.execute("SELECT balance FROM accounts WHERE id = %s",
                        (account_id,)).fetchone()[0] == Decimal("100.00")


# --- what each component needs works ---------------------------------------------------


def test_web_role_posts_a_payment_through_the_one_door(db, conn):
    account_id = make_account(conn, "7002")
    with as_role(db, "web") as web:
        with web.transaction():
            payment = payments.post_payment(web, account_id, "250.50", source="cashier",
                                            unique_id="nonce-1")
        again = payments.post_payment(web, account_id, "250.50", source="cashier",
                                      unique_id="nonce-1")
    assert payment.created and not again.created and again.id == payment.id
    assert conn.execute("SELECT balance FROM accounts WHERE id = %s",
                        (account_id,)).fetchone()[0] == Decimal("250.50")
    # The totals follow (their trigger writes what the web role may only read).
    assert conn.execute("SELECT sum(amount) FROM ledger_totals WHERE source = 'cashier'"
                        ).fetchone()[0] == Decimal("250.50")


def test_worker_role_runs_a_charge_tick(db, conn):
    period = settlement_period(conn)
    plan = tariff(conn)
    periodic_service(conn, plan, period, "300.00", "AT_START")
    account_id = account(conn)
    assign(conn, account_id, plan, datetime(2026, 1, 1, tzinfo=UTC))
    with as_role(db, "worker") as worker:
        summary = charge(worker, datetime(2026, 1, 2, tzinfo=UTC), ZoneInfo("UTC"))
    assert summary.entries >= 1
    assert conn.execute("SELECT balance FROM accounts WHERE id = %s",
                        (account_id,)).fetchone()[0] == Decimal("-300.00")


def test_radius_role_runs_check_lease_and_accounting(db, conn):
    conn.execute("INSERT INTO nas (name, ip_address, secret)"
                 " VALUES ('roles-nas', '192.0.2.77', 'a-long-enough-secret')")
    pool = conn.execute("INSERT INTO ip_pools (name, range_start, range_end)"
                        " VALUES ('roles-pool', '10.77.0.1', '10.77.0.9') RETURNING id"
                        ).fetchone()[0]
    account_id = make_account(conn, "7003")
    sub = conn.execute("INSERT INTO subaccounts (account_id, username, nt_password_hash)"
                       " VALUES (%s, 'roles-user', %s) RETURNING id",
                       (account_id, "00" * 16)).fetchone()[0]
    with as_role(db, "radius") as radius:
        facts = radius.execute(
            "SELECT attribute, value FROM ebs_radius_check('roles-user', '192.0.2.77',"
            " NULL, NULL, NULL, NULL, NULL)").fetchall()
        lease = radius.execute("SELECT ebs_radius_lease(%s, 'roles-pool')",
                               (sub,)).fetchone()[0]
        started = radius.execute(
            "SELECT ebs_acct_apply('Start', 'roles-u1', 'roles-s1', 'roles-user',"
            " '192.0.2.77', %s, '', '', '1', 0, 0, 0, 0, 0, NULL, '', 300)",
            (lease.split()[1],)).fetchone()[0]
        logged = radius.execute(
            "SELECT ebs_auth_log_write('roles-user', '192.0.2.77', '', 'ok', true, false)"
        ).fetchone()
        interim = radius.execute(
            "UPDATE sessions_open SET updated_at = greatest(updated_at, now()),"
            " input_octets = greatest(input_octets, 10) WHERE acct_unique_id = 'roles-u1'"
        ).rowcount
    assert ("NT-Password", "0x" + "00" * 16) in facts or any(
        a == "NT-Password" for a, _ in facts), facts
    assert lease.split()[0].isdigit(), lease
    assert started and logged is not None and interim == 1
    assert conn.execute("SELECT pool_id FROM ip_leases WHERE subaccount_id = %s",
                        (sub,)).fetchone()[0] == pool
    assert conn.execute("SELECT input_octets FROM sessions_open"
                        " WHERE acct_unique_id = 'roles-u1'").fetchone()[0] == 10


def test_flow_role_copies_rows_and_reads_nothing(db, conn):
    with as_role(db, "flow") as flow:
        with flow.cursor().copy(
                "COPY flow_raw (ip_src, ip_dst, ip_proto, port_src, port_dst, packets,"
                " bytes, stamp_inserted, stamp_updated) FROM STDIN") as copy:
            copy.write_row(("10.0.0.1", "10.0.0.2", 6, 1, 2, 3, 400,
                            datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC)))
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            flow.execute("SELECT count(*) FROM flow_raw")
    assert conn.execute("SELECT bytes FROM flow_raw").fetchone()[0] == 400


def test_reports_role_reads_but_writes_nothing(db, conn):
    make_account(conn, "7004")
    with as_role(db, "reports") as reports:
        assert reports.execute("SELECT contract FROM accounts").fetchone()[0] == "7004"
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            reports.execute("SELECT password_hash FROM accounts")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            reports.execute("INSERT INTO accounts (contract, login) VALUES ('x', 'x')")
