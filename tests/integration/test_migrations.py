import psycopg
import pytest

from billing import schema


def test_upgrade_from_empty_database_then_twice_is_a_noop(empty_db):
    with psycopg.connect(empty_db, autocommit=True) as conn:
        applied = schema.upgrade(conn)
        assert [m.version for m in applied] == [m.version for m in schema.available()]
        tables = {r[0] for r in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
        assert {"accounts", "subaccounts", "tariffs", "ledger_entries", "ab_user",
                "sessions_open", "sessions_history", "nas", "ip_pools"} <= tables
        before = conn.execute("SELECT count(*) FROM schema_migrations").fetchone()[0]
        assert schema.upgrade(conn) == []
        assert conn.execute("SELECT count(*) FROM schema_migrations").fetchone()[0] == before


def test_database_newer_than_code_is_refused(conn):
    conn.execute(
        "INSERT INTO schema_migrations (version, name, checksum) VALUES ('299912312359', 'x', '')")
    with pytest.raises(schema.MigrationError, match="newer than this code knows"):
        schema.upgrade(conn)


def test_failed_migration_leaves_schema_as_it_was(conn, tmp_path):
    for m in schema.available():
        (tmp_path / m.path.name).write_text(m.sql)
    (tmp_path / "299901010000_broken.sql").write_text(
        "CREATE TABLE half_done (id int);\nALTER TABLE accounts ADD COLUMN x int;\nSELECT 1/0;\n")
    with pytest.raises(schema.MigrationError, match=r"299901010000_broken\.sql failed"):
        schema.upgrade(conn, directory=tmp_path)
    assert conn.execute("SELECT to_regclass('half_done')").fetchone()[0] is None
    cols = {r[0] for r in conn.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = 'accounts'")}
    assert "x" not in cols
    assert "299901010000" not in schema.applied_versions(conn)


def test_misnamed_migration_file_is_an_error(tmp_path):
    (tmp_path / "add_things.sql").write_text("SELECT 1;")
    with pytest.raises(schema.MigrationError, match=r"YYYYMMDDHHMM_what\.sql"):
        schema.available(tmp_path)
