"""The installed services answer, started in the chroot of `make install-check` the way
their units start them (the same command line, account, directory and environment, read
from the unit files; no systemd there): a demo subscriber logs in through FreeRADIUS
from a NAS the install rendered from the NAS table, and the web app answers through
nginx over TLS, port 80 sending to 443. Runs after test_chroot_install.py (its second
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


def unit_command(text: str) -> list[str]:
    """``runuser`` + ``env`` + the unit's ExecStart: its account, directory, environment."""
    fields: dict[str, list[str]] = {}
    for line in text.splitlines():
        name, sep, value = line.partition("=")
        if sep and not line.startswith("#"):
            fields.setdefault(name, []).append(value)
    argv = shlex.split(fields["ExecStart"][-1].replace("%%", "%").replace("$$", "$"))
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


@pytest.fixture(scope="module")
def services() -> Iterator[str]:
    """The demo loaded (its NAS at 127.0.0.1), the install run again to render that NAS,
    then Redis, FreeRADIUS, the web app and nginx started; the demo NAS's secret."""
    inside("/opt/ebs/venv/bin/ebs", "demo", "--nas-ip", "127.0.0.1")
    again = inside("/opt/ebs/venv/bin/ebs", "install").stdout
    assert "/var/lib/ebs/freeradius/clients.conf rendered" in again
    secret = inside("runuser", "-u", "postgres", "--", "psql", "-d", "ebs", "-Atc",
                    "SELECT secret FROM nas WHERE name = 'demo-nas'").stdout.strip()
    inside("install", "-d", "-o", "redis", "-g", "redis", "/run/redis")
    started = [
        start("redis", ["runuser", "-u", "redis", "--", "redis-server",
                        "/etc/redis/redis.conf", "--daemonize", "no"]),
        start("freeradius", unit_command(
            (UNITS / "freeradius.service.d/ebs.conf").read_text())),
        start("web", unit_command((UNITS / "ebs-web.service").read_text())),
    ]
    inside("nginx")
    try:
        yield secret
    finally:
        inside("nginx", "-s", "quit", check=False)
        for proc in started:
            proc.terminate()
        for proc in started:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def test_a_demo_subscriber_logs_in_through_the_installed_freeradius(services):
    (ROOT / "tmp/nas.secret").write_text(services + "\n")

    def auth() -> str | None:
        result = subprocess.run(
            ["chroot", str(ROOT), "radclient", "-x", "-r", "1", "-t", "2", "-S",
             "/tmp/nas.secret", "127.0.0.1:1812", "auth"],
            input="User-Name = ivanov\nUser-Password = demo01\nFramed-Protocol = PPP\n"
                  "NAS-IP-Address = 127.0.0.1\nMessage-Authenticator = 0x00\n",
            capture_output=True, text=True, timeout=30, check=False)
        return result.stdout if "Received Access-" in result.stdout else None

    answer = wait_for("FreeRADIUS on 1812", auth)
    logged = inside("runuser", "-u", "postgres", "--", "psql", "-d", "ebs", "-Atc",
                    "SELECT username, reason, accepted FROM auth_log ORDER BY id").stdout
    assert "Received Access-Accept" in answer, f"{answer}\n{logged}\n{log_tail('freeradius')}"
    assert "Framed-IP-Address" in answer, answer
    assert logged.splitlines()[-1].startswith("ivanov|"), logged


def test_the_web_app_answers_through_nginx_over_tls(services):
    insecure = ssl.create_default_context()
    insecure.check_hostname = False
    insecure.verify_mode = ssl.CERT_NONE

    def login_page() -> str | None:
        try:
            with urllib.request.urlopen("https://127.0.0.1/login/", context=insecure,
                                        timeout=5) as reply:
                return reply.read().decode() if reply.status == 200 else None
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return None

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
