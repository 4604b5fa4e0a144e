"""The installed services answer, started in the chroot of `make install-check` the way
their units start them (the same command line, account, directory and environment, read
from the unit files; no systemd there): a demo subscriber logs in through FreeRADIUS
from a NAS the install rendered from the NAS table and its accounting reaches
sessions_open through the drain, the web app answers through nginx over TLS, port 80
sending to 443, and every service stays up. Runs after test_chroot_install.py (its second
install must see the system before the demo is loaded)."""

from __future__ import annotations

import shlex
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

from tests.install.test_chroot_install import CHROOT, ROOT, inside

pytestmark = pytest.mark.skipif(not CHROOT, reason="needs the chroot of make install-check")
UNITS = ROOT / "etc/systemd/system"


def unit_command(text: str, key: str = "ExecStart") -> list[str]:
    """``runuser`` + ``env`` + the unit's ExecStart (or ExecStop): its account, directory,
    environment."""
    fields: dict[str, list[str]] = {}
    for line in text.splitlines():
        name, sep, value = line.partition("=")
        if sep and not line.startswith("#"):
            fields.setdefault(name, []).append(value)
    argv = shlex.split(fields[key][-1].replace("%%", "%").replace("$$", "$"))
    env = [shlex.split(v)[0] for v in fields.get("Environment", [])]
    directory = fields.get("WorkingDirectory", ["/"])[-1]
    return ["runuser", "-u", fields["User"][-1], "--", "env", "-C", directory, *env, *argv]


def start(name: str, argv: list[str]) -> subprocess.Popen:
    """A service in the chroot, its output in the chroot's /tmp/<name>.log (as journald
    would have it)."""
    with (ROOT / "tmp" / f"{name}.log").open("wb") as log:
        return subprocess.Popen(["chroot", str(ROOT), *argv], stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)


def log_tail(name: str, lines: int = 40) -> str:
    text = (ROOT / "tmp" / f"{name}.log").read_text(errors="replace")
    return "\n".join(text.splitlines()[-lines:])


def wait_for(what: str, check, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not come up within {timeout} s")
        time.sleep(0.5)


LONG_RUNNING = ("ebs-web", "ebs-worker", "ebs-beat", "ebs-acct-drain", "ebs-db-watch")


@pytest.fixture(scope="module")
def services() -> Iterator[dict]:
    """The demo loaded (its NAS at 127.0.0.1), the install run again to render that NAS,
    then Redis, FreeRADIUS, our services and nginx started; the demo NAS's secret and
    the processes by name."""
    inside("/opt/ebs/venv/bin/ebs", "demo", "--nas-ip", "127.0.0.1")
    again = inside("/opt/ebs/venv/bin/ebs", "install").stdout
    assert "/var/lib/ebs/freeradius/clients.conf rendered" in again
    secret = inside("runuser", "-u", "postgres", "--", "psql", "-d", "ebs", "-Atc",
                    "SELECT secret FROM nas WHERE name = 'demo-nas'").stdout.strip()
    inside("install", "-d", "-o", "redis", "-g", "redis", "/run/redis")
    started = {
        "redis": start("redis", ["runuser", "-u", "redis", "--", "redis-server",
                                 "/etc/redis/redis.conf", "--daemonize", "no"]),
        "freeradius": start("freeradius", unit_command(
            (UNITS / "freeradius.service.d/ebs.conf").read_text())),
    }
    for name in LONG_RUNNING:
        started[name] = start(name, unit_command((UNITS / f"{name}.service").read_text()))
    nfacctd = (UNITS / "ebs-nfacctd.service").read_text()
    collector = inside(*unit_command(nfacctd), check=False)  # Type=forking: it returns
    inside("nginx")
    try:
        yield {"secret": secret, "started": started, "collector": collector}
    finally:
        inside("nginx", "-s", "quit", check=False)
        inside(*unit_command(nfacctd, "ExecStop"), check=False)
        for proc in started.values():
            proc.terminate()
        for proc in started.values():
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def radclient(kind: str, port: int, attributes: str) -> str:
    result = subprocess.run(
        ["chroot", str(ROOT), "radclient", "-x", "-r", "1", "-t", "2", "-S",
         "/tmp/nas.secret", f"127.0.0.1:{port}", kind],
        input=attributes, capture_output=True, text=True, timeout=30, check=False)
    return result.stdout


def psql(query: str) -> str:
    return inside("runuser", "-u", "postgres", "--", "psql", "-d", "ebs", "-Atc",
                  query).stdout.strip()


def test_a_demo_subscriber_logs_in_and_its_session_is_accounted(services):
    """Auth through the installed FreeRADIUS (rlm_sql as ebs_radius, rlm_ebs in the
    venv), its auth-log row through the auth spool and the drain, then an Accounting
    Start through the spool and the drain (as freerad, as ebs_acct) into sessions_open."""
    (ROOT / "tmp/nas.secret").write_text(services["secret"] + "\n")
    login = ("User-Name = ivanov\nUser-Password = demo01\nFramed-Protocol = PPP\n"
             "NAS-IP-Address = 127.0.0.1\nMessage-Authenticator = 0x00\n")
    answer = wait_for("FreeRADIUS on 1812", lambda: (
        lambda out: out if "Received Access-" in out else None)(
            radclient("auth", 1812, login)))
    assert "Received Access-Accept" in answer, f"{answer}\n{log_tail('freeradius')}"
    address = answer.split("Framed-IP-Address = ")[1].split()[0]
    # The auth spool's line, written by the drain a couple of seconds later.
    logged = wait_for("the auth log's row", lambda: psql(
        "SELECT username || '|' || reason || '|' || accepted FROM auth_log "
        "WHERE username = 'ivanov' ORDER BY id DESC LIMIT 1"), timeout=60)
    assert logged == "ivanov|ok|true", log_tail("ebs-acct-drain")

    start_packet = ("Acct-Status-Type = Start\nAcct-Session-Id = chroot-1\n"
                    "User-Name = ivanov\nNAS-IP-Address = 127.0.0.1\nNAS-Port = 7\n"
                    f"Framed-IP-Address = {address}\n")
    assert "Received Accounting-Response" in radclient("acct", 1813, start_packet)
    opened = wait_for("the drain's sessions_open row", lambda: psql(
        "SELECT username || ' ' || host(framed_ip) FROM sessions_open "
        "WHERE acct_session_id = 'chroot-1'"), timeout=60)
    assert opened == f"ivanov {address}", log_tail("ebs-acct-drain")


def test_every_service_stays_up(services):
    """Started as their units start them, none has died of a file it may not read."""
    assert services["collector"].returncode == 0, services["collector"].stderr
    pid = int((ROOT / "var/lib/ebs/nfacctd/nfacctd.pid").read_text().split()[0])
    assert (ROOT / "proc" / str(pid)).exists()
    time.sleep(5)
    for name, proc in services["started"].items():
        assert proc.poll() is None, f"{name} exited {proc.returncode}:\n{log_tail(name)}"


def login_page() -> str | None:
    """The login page through nginx on this host's 443 (a self-signed certificate), or
    None while nothing answers there."""
    insecure = ssl.create_default_context()
    insecure.check_hostname = False
    insecure.verify_mode = ssl.CERT_NONE
    try:
        with urllib.request.urlopen("https://127.0.0.1/login/", context=insecure,
                                    timeout=5) as reply:
            return reply.read().decode() if reply.status == 200 else None
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return None


def test_the_web_app_answers_through_nginx_over_tls(services):
    page = wait_for("the web app behind nginx", login_page, timeout=120)
    assert 'name="password"' in page or 'type="password"' in page

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = urllib.request.build_opener(NoRedirect)
    with pytest.raises(urllib.error.HTTPError) as redirect:
        opener.open("http://127.0.0.1/login/", timeout=5)
    assert redirect.value.code == 301
    assert redirect.value.headers["Location"] == "https://127.0.0.1/login/"


def test_a_nas_change_goes_from_the_worker_to_systemd(services):
    """ebs.nas_changed through Redis to the worker (as ebs) writes the request the path
    unit watches; its service (as root) finds the clients current, and after a new NAS
    renders it and restarts FreeRADIUS through systemctl (which, with no systemd in the
    chroot, refuses: the restart is systemd's, not the worker's)."""
    request = ROOT / "var/lib/ebs/run/radius-clients.request"
    request.unlink(missing_ok=True)
    sent = inside("runuser", "-u", "ebs", "--", "env", "-C", "/opt/ebs/src",
                  "EBS_SETTINGS=/etc/ebs/settings_local.py", "/opt/ebs/venv/bin/python", "-c",
                  "from worker.app import celery; "
                  "print(celery.send_task('ebs.nas_changed', args=[1]).get(timeout=60))")
    assert "'requested': '/var/lib/ebs/run/radius-clients.request'" in sent.stdout
    assert request.read_text().startswith("nas 1 at ")
    sync = unit_command((UNITS / "ebs-radius-clients.service").read_text())
    current = inside(*sync)
    assert '"server": "current"' in current.stdout, current.stdout

    psql("INSERT INTO nas (name, vendor, ip_address, secret) "
         "VALUES ('second', 'mikrotik', '192.0.2.7', 'second-secret-1234')")
    changed = inside(*sync, check=False)
    assert changed.returncode != 0
    assert "systemctl restart freeradius.service" in changed.stderr, changed.stderr
    clients = (ROOT / "var/lib/ebs/freeradius/clients.conf")
    assert "192.0.2.7" in clients.read_text()
    owner = clients.stat()
    assert (owner.st_uid, oct(owner.st_mode & 0o777)) == (
        (ROOT / "var/lib/ebs/freeradius").stat().st_uid, "0o600")


def test_new_collector_plugins_are_restarted_through_systemd(services):
    """`ebs flow reload` as the worker's account (the Vagrant box's provisioning runs it):
    new maps are reloaded in the running collector; after a new pool the plugins change
    and the restart is asked of ebs-nfacctd-restart.path, the running collector left
    alone."""
    reload = ["runuser", "-u", "ebs", "--", "env", "-C", "/opt/ebs/src",
              "EBS_SETTINGS=/etc/ebs/settings_local.py", "/opt/ebs/venv/bin/ebs", "flow",
              "reload"]
    pidfile = ROOT / "var/lib/ebs/nfacctd/nfacctd.pid"
    core = pidfile.read_text().split()[0]
    # The NAS added above is an exporter in the maps: reloaded in place (SIGUSR2).
    first = inside(*reload).stdout
    assert '"server": "reloaded"' in first or '"server": "current"' in first, first
    psql("INSERT INTO ip_pools (name, range_start, range_end) "
         "VALUES ('chroot', '10.77.0.1', '10.77.0.254')")
    asked = inside(*reload).stdout
    assert '"server": "restart requested"' in asked, asked
    assert '"unit": "ebs-nfacctd.service"' in asked
    request = ROOT / "var/lib/ebs/run/nfacctd-restart.request"
    assert request.read_text().startswith("plugins changed at ")
    assert pidfile.read_text().split()[0] == core
    restart = (UNITS / "ebs-nfacctd-restart.service").read_text()
    assert "ExecStart=/bin/systemctl restart ebs-nfacctd.service" in restart
