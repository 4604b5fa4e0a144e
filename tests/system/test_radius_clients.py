"""NAS clients come from the ``nas`` table, and a NAS change reaches a running FreeRADIUS
through the task ``ebs.nas_changed`` (worker/nas_tasks.py, stack/nas_sync.py), called here
directly: it re-renders clients.conf under the state directory and restarts the server
there."""

from __future__ import annotations

import os
from pathlib import Path

import psycopg
import pytest
from psycopg.rows import dict_row

from stack import radius_clients
from stack.servers.base import free_port
from stack.servers.freeradius import ConfigError, FreeRadiusServer, RadiusReply, radclient
from tests.conftest import ebs_env
from tests.harness import radius_db_fields, start_with_retry
from tests.system.test_radius_auth import PASSWORD, subscriber, tariff
from worker.nas_tasks import nas_changed


@pytest.fixture
def dbc(db):
    with psycopg.connect(db, autocommit=True, row_factory=dict_row) as connection:
        yield connection


@pytest.fixture
def state(tmp_path, db, monkeypatch) -> Path:
    """The state directory the task reads from its settings (EBS_* variables)."""
    settings = tmp_path / "settings_local.py"
    settings.write_text("")
    for name, value in ebs_env(db, settings).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("EBS_STATE_DIR", str(tmp_path / "state"))
    return tmp_path / "state"


@pytest.fixture
def radius(db, dbc, state):
    """The server ``ebs up`` would run: its directory under the state dir, its clients
    from the nas table (here one far-away NAS, none on 127.0.0.1 yet)."""
    dbc.execute("INSERT INTO nas (name, ip_address, secret) VALUES ('far', '192.0.2.10', "
                "'far-secret-1-for-tests')")

    def make() -> FreeRadiusServer:
        found = radius_clients.nas_clients(dbc)
        return FreeRadiusServer(
            directory=radius_clients.local_server_dir(state),
            auth_port=free_port(udp=True, tcp=False),
            acct_port=free_port(udp=True, tcp=False),
            clients=[(c.name, c.ip, c.secret) for c in found.clients],
            reject_delay=0,
            **radius_db_fields(db), credentials_key=os.urandom(32).hex(),
        )

    server = start_with_retry(make)
    yield server
    server.stop()


def login(radius: FreeRadiusServer, user: str, secret: str) -> RadiusReply:
    return radclient(radius.auth_port, "auth", secret, [
        ("User-Name", user), ("User-Password", PASSWORD), ("NAS-IP-Address", "127.0.0.1"),
        ("Framed-Protocol", "PPP"), ("Message-Authenticator", "0x00")],
        raddb=radius.directory, timeout=1.0, retries=1)


def test_a_new_nas_and_a_new_secret_take_effect_through_the_task(radius, dbc):
    user = subscriber(dbc, tariff(dbc))
    assert login(radius, user, "local-secret-1-for-tests").code is None  # not a client yet
    assert "unknown client" in radius.log.read_text()

    nas_id = dbc.execute(
        "INSERT INTO nas (name, vendor, ip_address, secret) VALUES ('Офис NAS', 'mikrotik', "
        "'127.0.0.1', 'local-secret-1-for-tests') RETURNING id").fetchone()["id"]
    result = nas_changed(nas_id)
    assert result["restarted"] is True, result
    assert f"nas{nas_id} 127.0.0.1" in result["clients"]
    assert login(radius, user, "local-secret-1-for-tests").code == "Access-Accept"
    block = (radius.directory / "clients.conf").read_text()
    assert "require_message_authenticator = yes" in block
    assert (radius.directory / "clients.conf").stat().st_mode & 0o077 == 0

    # A duplicate delivery (or the beat's periodic check) restarts nothing.
    pid = radius.pid()
    assert nas_changed(nas_id)["restarted"] is False
    assert radius.pid() == pid

    dbc.execute("UPDATE nas SET secret = 'local-secret-2-for-tests' WHERE id = %s", (nas_id,))
    assert nas_changed(nas_id)["restarted"] is True
    assert login(radius, user, "local-secret-2-for-tests").code == "Access-Accept"
    assert login(radius, user, "local-secret-1-for-tests").code is None  # the old secret is dropped

    dbc.execute("DELETE FROM nas WHERE id = %s", (nas_id,))
    assert nas_changed(nas_id)["restarted"] is True
    assert login(radius, user, "local-secret-2-for-tests").code is None
    assert "Traceback" not in radius.log.read_text()


def test_a_restart_lost_after_the_file_was_written_is_made_good(radius, dbc):
    dbc.execute("INSERT INTO nas (name, ip_address, secret) VALUES ('local', '127.0.0.1', "
                "'local-secret-1-for-tests')")
    nas_changed()
    pid = radius.pid()
    # The worker wrote the file and died before the restart: the file is newer than the
    # running server. The next check (the beat's) restarts it.
    path = radius.directory / "clients.conf"
    later = (radius.directory / "run" / "radiusd.pid").stat().st_mtime_ns + 10**9
    os.utime(path, ns=(later, later))
    assert nas_changed()["restarted"] is True
    assert radius.pid() != pid


def test_a_refused_configuration_leaves_the_running_server_and_its_file(radius, dbc):
    """The restart checks the configuration before it stops anything; when FreeRADIUS
    refuses it, the running server and its clients.conf stay as they were."""
    path = radius.directory / "clients.conf"
    before, pid = path.read_text(), radius.pid()
    (radius.directory / "mods-enabled" / "broken").write_text("this is { not a module\n")
    dbc.execute("INSERT INTO nas (name, ip_address, secret) VALUES ('local', '127.0.0.1', "
                "'local-secret-1-for-tests')")
    with pytest.raises(ConfigError):
        nas_changed()
    assert radius.pid() == pid
    assert path.read_text() == before


def test_a_nas_that_cannot_be_a_client_is_left_out_not_fatal(radius, dbc):
    # Rows from before the table's check: the table now refuses them, so drop it here.
    dbc.execute("ALTER TABLE nas DROP CONSTRAINT nas_secret_renderable")
    dbc.execute("INSERT INTO nas (name, ip_address, secret) VALUES ('quoted', '192.0.2.11', "
                "'bad\"secret-of-16-chars')")
    dbc.execute("INSERT INTO nas (name, ip_address, secret) VALUES ('local', '127.0.0.1', "
                "'local-secret-1-for-tests')")
    result = nas_changed()
    assert result["restarted"] is True
    assert [r for r in result["refused"] if "quoted" in r]
    user = subscriber(dbc, tariff(dbc))
    assert login(radius, user, "local-secret-1-for-tests").code == "Access-Accept"


def test_the_table_refuses_a_secret_freeradius_could_not_read(dbc):
    for secret in ('with"quote-and-16-chars', "with\\slash-and-16-chars", "with${var}-and-16-chars",
                   "кириллица-и-ещё-16-знаков"):
        with pytest.raises(psycopg.errors.CheckViolation):
            dbc.execute("INSERT INTO nas (name, ip_address, secret) VALUES ('x', '192.0.2.12', "
                        "%s)", (secret,))
