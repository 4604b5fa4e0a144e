"""The layout of sql/ holds: every function of the database has its file in sql/functions
and every file its function, no function is executable by PUBLIC, and each is safe from
the caller's search_path."""

from __future__ import annotations

from billing import schema

OURS = """
    SELECT p.proname, p.prokind, p.proconfig, p.prosqlbody IS NOT NULL AS standard_body,
           EXISTS (SELECT 1 FROM aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
                    WHERE a.grantee = 0 AND a.privilege_type = 'EXECUTE') AS public_execute
      FROM pg_proc p
      JOIN pg_namespace n ON n.oid = p.pronamespace
     WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
       AND n.nspname !~ '^pg_toast'
       AND NOT EXISTS (SELECT 1 FROM pg_depend d
                        WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid
                          AND d.deptype = 'e')
"""


def test_every_function_has_its_file_and_every_file_its_function(conn):
    in_db = [r[0] for r in conn.execute(OURS)]
    assert len(in_db) == len(set(in_db)), "one function per name: overloads have no file"
    files = {f.name for f in schema.function_files()}
    assert set(in_db) - files == set(), "functions without a file in sql/functions"
    assert files - set(in_db) == set(), "files in sql/functions without their function"


def test_no_function_is_executable_by_public(conn):
    rows = conn.execute(OURS).fetchall()
    assert rows
    assert [r[0] for r in rows if r[4]] == []


def test_every_function_is_safe_from_the_callers_search_path(conn):
    """A SET search_path, or a SQL-standard body (names bound when it is created; such a
    function has no SET clause so that the planner can inline it)."""
    unsafe = [name for name, _kind, config, standard, _ in conn.execute(OURS)
              if not standard and not any(c.startswith("search_path=") for c in config or [])]
    assert unsafe == []
