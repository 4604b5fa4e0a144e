"""No function body hides in sql/migrations: each migration is read statement by statement
(billing.sql_script, which knows comments, quotes, dollar quotes and BEGIN ATOMIC), and
none may create a function or procedure or carry a dollar-quoted body (a DO block
included). Functions live in sql/functions, one file each."""

from __future__ import annotations

import re

import pytest

from billing import schema, sql_script

CREATES_ROUTINE = re.compile(
    r"^CREATE\s+(OR\s+REPLACE\s+)?(FUNCTION|PROCEDURE)\b", re.IGNORECASE)


def bodies(text: str) -> list[str]:
    return [s.text[:60] for s in sql_script.statements(text)
            if CREATES_ROUTINE.match(s.text) or s.dollar_quoted]


@pytest.mark.parametrize("migration", schema.available(), ids=lambda m: m.path.name)
def test_migration_holds_no_function_body(migration):
    assert bodies(migration.sql) == []


def test_the_reader_finds_bodies_wherever_they_are():
    script = """
    -- CREATE FUNCTION in a comment is not a function
    /* nor /* nested */ CREATE FUNCTION here */
    CREATE TABLE t (note text DEFAULT 'CREATE FUNCTION; $$');
    create or replace function f() returns int language sql as $x$ SELECT 1; $x$;
    DO $$ BEGIN PERFORM 1; END $$;
    CREATE FUNCTION g() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; SELECT 2; END;
    ALTER TABLE t ADD COLUMN n int;
    """
    found = bodies(script)
    assert [b.split()[0].upper() for b in found] == ["CREATE", "DO", "CREATE"]
    texts = [s.text for s in sql_script.statements(script)]
    assert texts[0].startswith("CREATE TABLE t") and texts[0].endswith("$$');")
    assert texts[3].endswith("SELECT 2; END;")
    assert texts[-1] == "ALTER TABLE t ADD COLUMN n int;"
