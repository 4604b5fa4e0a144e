"""A database upgraded from each release's fixture ends exactly where one built from
scratch does: the same schema, the same functions and the same grants. Each release adds
its fixture (scripts/release-fixture.sh) and is picked up here by itself."""

from __future__ import annotations

import re
import subprocess

import psycopg
import pytest

from billing import schema
from billing.release import code_version
from billing.settings import PROJECT_ROOT
from cli.release_fixture import release_fixtures, restore
from stack.servers.postgres import pg_bindir

# Monthly partitions are made for the months around the moment a database is built, so
# two databases built apart differ in them by design; everything else must match.
MONTH_PARTITIONS = "public.*_[0-9][0-9][0-9][0-9][0-9][0-9]"


def schema_dump(conninfo: str) -> str:
    out = subprocess.run(
        [str(pg_bindir() / "pg_dump"), "--schema-only", "--no-owner",
         "--exclude-table", MONTH_PARTITIONS, "--dbname", conninfo],
        check=True, capture_output=True, text=True,
    ).stdout
    return "\n".join(line for line in out.splitlines()
                     if not re.match(r"\\(un)?restrict ", line))


def functions_and_grants(conninfo: str) -> dict[str, object]:
    with psycopg.connect(conninfo) as conn:
        functions = dict(conn.execute(
            """
            SELECT p.oid::regprocedure::text,
                   (pg_get_functiondef(p.oid), p.proacl::text[], p.proconfig)
              FROM pg_proc p
             WHERE p.pronamespace = 'public'::regnamespace
            """).fetchall())
        tables = dict(conn.execute(
            """
            SELECT c.relname, c.relacl::text[]
              FROM pg_class c
             WHERE c.relnamespace = 'public'::regnamespace
               AND c.relname !~ '_[0-9]{6}$'
            """).fetchall())
    return {"functions": functions, "table_grants": tables}


@pytest.mark.parametrize(
    "version, path", release_fixtures(), ids=[v for v, _ in release_fixtures()])
def test_upgraded_release_matches_a_fresh_build(version, path, db, empty_db):
    restore(empty_db, path)
    with psycopg.connect(empty_db, autocommit=True) as conn:
        before = schema.applied_versions(conn)
        assert before, f"the {version} fixture records no migration"
        schema.upgrade(conn)
        assert schema.upgrade(conn) == []  # and a second run finds nothing to do
        assert schema.changed_functions(conn) == []
        assert schema.applied_versions(conn) == [m.version for m in schema.available()]
        # The demo's data came through: the fixture is not just a schema.
        assert conn.execute("SELECT count(*) FROM accounts").fetchone()[0] == 10
        assert conn.execute("SELECT count(*) FROM ledger_entries").fetchone()[0] > 10

    fresh, upgraded = functions_and_grants(db), functions_and_grants(empty_db)
    assert upgraded["functions"].keys() == fresh["functions"].keys()
    for name, definition in fresh["functions"].items():
        assert upgraded["functions"][name] == definition, name
    assert upgraded["table_grants"] == fresh["table_grants"]
    assert schema_dump(empty_db) == schema_dump(db)


def test_every_release_has_its_fixture():
    versions = [v for v, _ in release_fixtures()]
    assert "0.1.0" in versions
    changelog = (PROJECT_ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    released = re.findall(r"^## (\d+\.\d+\.\d+) ", changelog, re.MULTILINE)
    assert sorted(released) == sorted(versions), "each CHANGELOG release has its fixture"
    # The version in pyproject.toml is the newest release the CHANGELOG names.
    assert released[0] == code_version(), "pyproject.toml and CHANGELOG.md move together"
