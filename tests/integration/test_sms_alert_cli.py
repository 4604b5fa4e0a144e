"""`ebs sms balance-alerts` and `ebs sms events` as an operator runs them: the guide's
SENDSMS_* lines in the settings file, the worker's own database role."""

from __future__ import annotations

import json

from click.testing import CliRunner

from cli.main import cli
from tests.conftest import ebs_env
from tests.integration.notification_helpers import GUIDE_SMS, messages, move, subscriber


def test_balance_alerts_and_events_from_the_command_line(db, conn, tmp_path):
    settings = tmp_path / "settings_local.py"
    settings.write_text(GUIDE_SMS + "NOTIFY_PAYMENTS = True\n", encoding="utf-8")
    env = ebs_env(db, settings)
    low = subscriber(conn, "-3.00")
    subscriber(conn, "-3.00", phone="12")

    first = CliRunner().invoke(cli, ["sms", "balance-alerts", "--json"], env=env)
    assert first.exit_code == 0, first.output
    assert json.loads(first.output) == {"queued": 1, "reset": 0, "selected": 2,
                                        "skipped": {"invalid": 1}}
    again = CliRunner().invoke(cli, ["sms", "balance-alerts"], env=env)
    assert again.exit_code == 0, again.output
    assert again.output.strip() == "low balance: 0 selected, 0 queued"

    assert CliRunner().invoke(cli, ["sms", "events"], env=env).exit_code == 0  # the mark
    move(conn, low, "10.00", kind="payment")
    done = CliRunner().invoke(cli, ["sms", "events", "--only", "payments", "--json"], env=env)
    assert done.exit_code == 0, done.output
    assert json.loads(done.output)["payments"]["queued"] == 1
    assert [m[0] for m in messages(conn, "payment_received")] == [low]
    assert len(messages(conn)) == 1
    # The low-balance alert waits in the day's batch until the sender makes it.
    assert conn.execute("SELECT template_code, waiting FROM message_batches").fetchall() == [
        ("low_balance", [low])]
