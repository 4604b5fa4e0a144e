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


def _copy(files, directory):
    directory.mkdir()
    for f in files:
        (directory / f.path.name).write_bytes(f.path.read_bytes())
    return directory


def test_applied_migration_whose_file_changed_is_refused(conn, tmp_path):
    migrations = _copy(schema.available(), tmp_path / "migrations")
    baseline = migrations / f"{schema.BASELINE}_baseline.sql"
    baseline.write_text(baseline.read_text() + "\nCREATE TABLE sneaked_in (id int);\n")
    with pytest.raises(schema.MigrationError,
                       match=rf"migrations/{schema.BASELINE}_baseline\.sql was applied on .* "
                             r"has changed since; an applied migration is never edited"):
        schema.upgrade(conn, directory=migrations)
    assert conn.execute("SELECT to_regclass('sneaked_in')").fetchone()[0] is None


def test_changed_function_file_is_applied_again_and_unchanged_ones_are_not(conn, tmp_path):
    functions = _copy(schema.function_files(), tmp_path / "functions")
    changed = functions / "ebs_round_money.sql"
    changed.write_text(changed.read_text() + "\nCOMMENT ON FUNCTION ebs_round_money(numeric) "
                       "IS 'Half up to cents.';\n")
    seen = []
    assert schema.upgrade(conn, functions_directory=functions, progress=seen.append) == []
    assert [f.label for f in seen] == ["functions/ebs_round_money.sql"]
    assert conn.execute(
        "SELECT obj_description('ebs_round_money(numeric)'::regprocedure)").fetchone()[0] \
        == "Half up to cents."
    assert conn.execute("SELECT checksum FROM schema_functions WHERE name = 'ebs_round_money'"
                        ).fetchone()[0] == schema.FunctionFile(changed, "x").checksum
    seen.clear()
    schema.upgrade(conn, functions_directory=functions, progress=seen.append)
    assert seen == []


def test_function_dropped_by_a_migration_is_created_again_from_its_file(conn):
    conn.execute("DROP FUNCTION ebs_fact_text(text)")
    seen = []
    schema.upgrade(conn, progress=seen.append)
    assert [f.label for f in seen] == ["functions/ebs_fact_text.sql"]
    assert conn.execute("SELECT ebs_fact_text('a;b')").fetchone()[0] == "a%3Bb"


def test_signature_change_without_a_migration_is_refused_and_rolled_back(conn, tmp_path):
    functions = _copy(schema.function_files(), tmp_path / "functions")
    f = functions / "ebs_round_money.sql"
    f.write_text(f.read_text().replace("RETURNS numeric", "RETURNS text")
                 .replace("RETURN round(value, 2);", "RETURN round(value, 2)::text;"))
    other = functions / "ebs_fact_text.sql"
    other.write_text(other.read_text() + "\n-- touched\n")
    with pytest.raises(schema.MigrationError,
                       match=r"functions/ebs_round_money\.sql failed .* cannot change return "
                             r"type .*add a migration that runs DROP FUNCTION ebs_round_money"):
        schema.upgrade(conn, functions_directory=functions)
    assert conn.execute("SELECT pg_typeof(ebs_round_money(1.005))::text").fetchone()[0] \
        == "numeric"
    checksum = conn.execute(
        "SELECT checksum FROM schema_functions WHERE name = 'ebs_fact_text'").fetchone()[0]
    assert checksum != schema.FunctionFile(other, "x").checksum  # nothing was recorded


def test_new_argument_types_without_a_migration_dropping_the_old_are_refused(conn, tmp_path):
    functions = _copy(schema.function_files(), tmp_path / "functions")
    f = functions / "ebs_fact_text.sql"
    f.write_text(f.read_text().replace("ebs_fact_text(s text)", "ebs_fact_text(s varchar)"))
    with pytest.raises(schema.MigrationError, match=r"functions/ebs_fact_text\.sql: the "
                       r"database now has ebs_fact_text\(text\), ebs_fact_text\(character varying"):
        schema.upgrade(conn, functions_directory=functions)


def test_function_left_executable_by_public_is_refused(conn, tmp_path):
    functions = _copy(schema.function_files(), tmp_path / "functions")
    f = functions / "ebs_fact_text.sql"
    f.write_text(f.read_text() + "\nGRANT EXECUTE ON FUNCTION ebs_fact_text(text) TO PUBLIC;\n")
    with pytest.raises(schema.MigrationError, match=r"ebs_fact_text\.sql leaves ebs_fact_text "
                                                    r"executable by PUBLIC"):
        schema.upgrade(conn, functions_directory=functions)


def test_migration_marked_no_transaction_runs_outside_one(conn, tmp_path):
    migrations = _copy(schema.available(), tmp_path / "migrations")
    (migrations / "299901010000_concurrent_index.sql").write_text(
        "-- ebs: no-transaction\n"
        "-- Built without locking writers out: CONCURRENTLY cannot run in a transaction.\n"
        "CREATE INDEX CONCURRENTLY IF NOT EXISTS accounts_phone_test_idx ON accounts (phone);\n"
        "CREATE INDEX CONCURRENTLY IF NOT EXISTS accounts_email_test_idx ON accounts (email);\n")
    (migrations / "299901010001_after.sql").write_text("CREATE TABLE after_it (id int);\n")
    applied = schema.upgrade(conn, directory=migrations)
    assert [m.version for m in applied] == ["299901010000", "299901010001"]
    assert conn.execute(
        "SELECT count(*) FROM pg_index WHERE indisvalid AND indexrelid IN "
        "('accounts_phone_test_idx'::regclass, 'accounts_email_test_idx'::regclass)"
    ).fetchone()[0] == 2
    assert conn.execute("SELECT to_regclass('after_it')").fetchone()[0] is not None


def test_database_built_from_the_squashed_migrations_is_adopted(conn):
    """Its schema is the baseline's, so it is recorded as carrying the baseline."""
    conn.execute("DELETE FROM schema_migrations WHERE version = %s", (schema.BASELINE,))
    conn.execute("INSERT INTO schema_migrations (version, name, checksum) "
                 "SELECT v, 'squashed', 'x' FROM unnest(%s::text[]) v",
                 (sorted(schema._SQUASHED),))
    assert schema.upgrade(conn) == []
    assert schema.applied_versions(conn) == [m.version for m in schema.available()]
