"""The private FreeRADIUS harness: a real server, rendered from freeradius_conf/, driven
with radclient. The site has no users yet (the AAA work adds rlm_ebs), so a correct
Access-Request ends in Access-Reject: the server fails closed."""

from __future__ import annotations

import hashlib
import os
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from stack.servers.base import ServerError, free_port
from stack.servers.freeradius import CONF_TEMPLATES, FreeRadiusServer, RadiusClient, radclient
from tests.harness import start_with_retry

SECRET = "harness-secret-1"
NO_ANSWER_TIMEOUT = 0.4


def make_server(directory: Path, secret: str = SECRET) -> FreeRadiusServer:
    return FreeRadiusServer(
        directory=directory,
        auth_port=free_port(udp=True, tcp=False),
        acct_port=free_port(udp=True, tcp=False),
        clients=[("local", "127.0.0.1", secret), ("far-nas", "192.0.2.0/24", "other-secret")],
        reject_delay=0,
    )


@pytest.fixture(scope="module")
def radius(tmp_path_factory):
    base = tmp_path_factory.mktemp("radius")
    server = start_with_retry(lambda: make_server(base / "one"))
    yield server
    server.stop()


def status(server: FreeRadiusServer, secret: str = SECRET):
    return radclient(
        server.auth_port, "status", secret, [("Message-Authenticator", "0x00")],
        raddb=server.directory,
    )


def access_request(server: FreeRadiusServer, secret: str = SECRET, authenticator: bool = True):
    attributes = [("User-Name", "nobody"), ("User-Password", "pass"), ("NAS-Port", "1")]
    if authenticator:
        attributes.append(("Message-Authenticator", "0x00"))
    return radclient(
        server.auth_port, "auth", secret, attributes, raddb=server.directory,
        timeout=NO_ANSWER_TIMEOUT,
    )


def accounting_start(server: FreeRadiusServer, session: str):
    return radclient(
        server.acct_port, "acct", SECRET,
        [
            ("User-Name", "alice"),
            ("Acct-Status-Type", "Start"),
            ("Acct-Session-Id", session),
            ("NAS-IP-Address", "127.0.0.1"),
            ("NAS-Port", "7"),
            ("Framed-IP-Address", "10.20.30.40"),
        ],
        raddb=server.directory,
    )


def detail_entries(server: FreeRadiusServer) -> str:
    files = sorted((server.radacct_dir / "127.0.0.1").glob("detail-*"))
    return "".join(f.read_text() for f in files)


def test_status_server_is_accepted(radius):
    assert status(radius).code == "Access-Accept"


def test_wrong_secret_gets_no_answer(radius):
    reply = access_request(radius, secret="not-the-secret")
    assert reply.code is None
    assert "invalid Message-Authenticator" in radius.log.read_text()


def test_access_request_needs_message_authenticator(radius):
    # Same client, same secret: only the Message-Authenticator differs (BlastRADIUS).
    assert access_request(radius, authenticator=False).code is None
    assert access_request(radius, authenticator=True).code == "Access-Reject"


def test_unknown_user_is_rejected(radius):
    reply = access_request(radius)
    assert reply.code == "Access-Reject"
    assert reply.attributes == {}


def test_accounting_is_answered_and_written_to_detail(radius):
    session = "sess-" + os.urandom(4).hex()
    assert accounting_start(radius, session).code == "Accounting-Response"

    entries = detail_entries(radius)
    assert f'Acct-Session-Id = "{session}"' in entries
    # The session key of the acct_unique policy: the formula sessions are stored under.
    key = hashlib.md5(f"alice,{session},127.0.0.1,,,7".encode()).hexdigest()
    assert f'Acct-Unique-Session-Id = "{key}"' in entries


def test_runs_as_a_daemon(radius):
    pid = int(radius.pidfile.read_text().split()[0])
    stat = Path(f"/proc/{pid}/stat").read_text()
    parent = int(stat.rsplit(")", 1)[1].split()[1])
    cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    assert parent != os.getpid()  # detached: not a child we wait on
    assert b"-X" not in cmdline and b"-f" not in cmdline
    assert os.geteuid() != 0 and Path(f"/proc/{pid}").stat().st_uid == os.geteuid()


def test_config_is_self_contained_and_private(radius):
    conf = radius.directory
    files = [p for p in conf.rglob("*") if p.is_file() and p.parent.name not in ("log", "run")
             and "radacct" not in p.parts]
    lines = [line for p in files for line in p.read_text().splitlines()]
    rendered = "\n".join(line for line in lines if not line.lstrip().startswith("#"))
    assert "/etc/freeradius" not in rendered
    assert "{{" not in rendered
    assert (conf / "clients.conf").stat().st_mode & 0o077 == 0
    assert rendered.count("require_message_authenticator = yes") == 2


def test_two_servers_side_by_side(radius, tmp_path):
    second = start_with_retry(lambda: make_server(tmp_path / "two"))
    try:
        assert {second.auth_port, second.acct_port}.isdisjoint({radius.auth_port, radius.acct_port})
        with ThreadPoolExecutor(4) as pool:
            replies = list(pool.map(status, [radius, second, radius, second]))
            accounted = list(pool.map(accounting_start, [radius, second], ["on-one", "on-two"]))
        assert [r.code for r in replies] == ["Access-Accept"] * 4
        assert [r.code for r in accounted] == ["Accounting-Response"] * 2
        assert "on-two" in detail_entries(second) and "on-two" not in detail_entries(radius)
        assert "on-one" in detail_entries(radius) and "on-one" not in detail_entries(second)
    finally:
        pid = second.pid()
        second.stop()
    assert pid is not None and not second.running()
    assert status(radius).code == "Access-Accept"  # the first one never noticed


def test_broken_config_is_reported_before_start(tmp_path):
    templates = tmp_path / "templates"
    shutil.copytree(CONF_TEMPLATES, templates)
    site = templates / "sites-enabled" / "ebs"
    site.write_text(site.read_text().replace("acct_unique", "acct_unique_typo"))
    server = make_server(tmp_path / "broken")
    server.templates = templates
    expected = r"sites-enabled/ebs\[\d+\]: Failed to find \"acct_unique_typo\""
    with pytest.raises(ServerError, match=expected):
        server.start()
    assert not server.running()


@pytest.mark.parametrize(
    "client",
    [
        RadiusClient("bad name", "127.0.0.1", "s"),
        RadiusClient("nas", "not-an-ip", "s"),
        RadiusClient("nas", "127.0.0.1", 'quo"te'),
        RadiusClient("nas", "127.0.0.1", "${confdir}"),
        RadiusClient("nas", "127.0.0.1", ""),
    ],
)
def test_bad_clients_are_refused(client):
    with pytest.raises(ServerError):
        client.validated()
