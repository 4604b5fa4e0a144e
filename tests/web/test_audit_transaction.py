"""An audit row and the change it records commit or roll back together: same transaction
(PostgreSQL's xmin proves it), no row for a change that failed, no change without its row.
"""

from tests.web.conftest import submit

TARIFF = {"name": "Audited", "access_type": "pppoe", "package_cost": "600.00",
          "suspension_cost": "0", "suspension_min_balance": "0"}


def _tariff(as_admin, conn) -> int:
    submit(as_admin, "/tariffview/add", TARIFF)
    return conn.execute("SELECT id FROM tariffs WHERE name = 'Audited'").fetchone()[0]


def _edit(as_admin, tariff: int, cost: str):
    return submit(as_admin, f"/tariffview/edit/{tariff}", {**TARIFF, "package_cost": cost})


def _cost(conn, tariff: int) -> str:
    return str(conn.execute("SELECT package_cost FROM tariffs WHERE id = %s",
                            (tariff,)).fetchone()[0])


def _audit_rows(conn) -> list[tuple]:
    return conn.execute("SELECT action, object_type FROM staff_audit_log ORDER BY id").fetchall()


def test_the_change_and_its_audit_row_share_one_transaction(as_admin, conn):
    tariff = _tariff(as_admin, conn)
    _edit(as_admin, tariff, "700.00")
    assert _cost(conn, tariff) == "700.00"
    change_xid = conn.execute("SELECT xmin::text FROM tariffs WHERE id = %s",
                              (tariff,)).fetchone()[0]
    audit_xid = conn.execute(
        "SELECT xmin::text FROM staff_audit_log WHERE action = 'edit'").fetchone()[0]
    assert change_xid == audit_xid


def test_a_failing_audit_insert_rolls_the_change_back(as_admin, conn):
    tariff = _tariff(as_admin, conn)
    conn.execute(
        """
        CREATE FUNCTION test_refuse_audit() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION 'audit log unavailable'; END $$;
        CREATE TRIGGER test_refuse_audit BEFORE INSERT ON staff_audit_log
            FOR EACH ROW EXECUTE FUNCTION test_refuse_audit();
        """
    )
    page = _edit(as_admin, tariff, "700.00")
    assert page.status_code == 200
    assert _cost(conn, tariff) == "600.00"
    assert _audit_rows(conn) == [("add", "tariffs")]
    submit(as_admin, "/tariffview/add", {**TARIFF, "name": "Never"})
    assert conn.execute("SELECT count(*) FROM tariffs WHERE name = 'Never'").fetchone()[0] == 0


def test_a_change_refused_at_commit_leaves_no_audit_row(as_admin, conn):
    """A deferred constraint fires at COMMIT, after the audit row was inserted: both go."""
    tariff = _tariff(as_admin, conn)
    conn.execute(
        """
        CREATE FUNCTION test_refuse_at_commit() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION 'refused at commit'; END $$;
        CREATE CONSTRAINT TRIGGER test_refuse_at_commit AFTER UPDATE ON tariffs
            DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
            EXECUTE FUNCTION test_refuse_at_commit();
        """
    )
    _edit(as_admin, tariff, "700.00")
    assert _cost(conn, tariff) == "600.00"
    assert _audit_rows(conn) == [("add", "tariffs")]


def test_delete_is_audited_with_the_values_it_removed(as_admin, conn):
    tariff = _tariff(as_admin, conn)
    submit(as_admin, "/tariffview/list/", {}, post_url=f"/tariffview/delete/{tariff}")
    assert conn.execute("SELECT count(*) FROM tariffs").fetchone()[0] == 0
    row = conn.execute("SELECT old_values FROM staff_audit_log WHERE action = 'delete'"
                       ).fetchone()
    assert row is not None and row[0]["name"] == "Audited"
