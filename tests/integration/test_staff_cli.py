"""`ebs staff reset-password LOGIN`: a locked-out staff member gets in again with the printed
password, the old one and its sessions end, and the audit log says so."""

from click.testing import CliRunner

from billing.passwords import verify_password
from billing.staff import ensure_staff
from cli.main import cli
from tests.conftest import ebs_env


def test_reset_password_unlocks_with_a_new_password_and_ends_sessions(db, conn, tmp_path):
    user_id = ensure_staff(conn, "kassa2", "old-password-1", "Cashier")
    conn.execute("UPDATE ab_user SET fail_login_count = 7,"
                 " locked_until = now() + interval '1 hour' WHERE id = %s", (user_id,))
    epoch = conn.execute("SELECT session_epoch FROM ab_user WHERE id = %s",
                         (user_id,)).fetchone()[0]
    conn.commit()
    (tmp_path / "none.py").write_text("")
    env = ebs_env(db, tmp_path / "none.py")

    done = CliRunner().invoke(cli, ["staff", "reset-password", "kassa2"],
                                              env=env)
    assert done.exit_code == 0, done.output
    password = done.stdout.strip().rsplit(": ", 1)[1]
    assert len(password) >= 16
    stored, failures, locked, new_epoch = conn.execute(
        "SELECT password, fail_login_count, locked_until, session_epoch FROM ab_user"
        " WHERE id = %s", (user_id,)).fetchone()
    assert verify_password(stored, password)
    assert not verify_password(stored, "old-password-1")
    assert (failures, locked, new_epoch) == (0, None, epoch + 1)
    action, values = conn.execute(
        "SELECT action, new_values FROM staff_audit_log WHERE object_type = 'ab_user'"
        " AND object_id = %s ORDER BY id DESC LIMIT 1", (str(user_id),)).fetchone()
    assert action == "password" and values["lock_cleared"] is True
    assert password not in str(values)

    unknown = CliRunner().invoke(cli, ["staff", "reset-password", "nobody"],
                                                 env=env)
    assert unknown.exit_code == 1
    assert "no staff member has the login 'nobody'" in unknown.stderr
