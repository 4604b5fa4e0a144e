"""A private FreeRADIUS 3.2: its own rendered configuration, directory and ports.

The configuration is rendered from ``freeradius_conf/`` into the server's directory and
depends on nothing under /etc/freeradius (whose files the service account cannot read
anyway): radiusd.conf with its own log, run, db and accounting directories, the ``ebs``
site listening on 127.0.0.1, the stock modules it uses, and clients.conf made from the
NAS list. The server runs in daemon mode as the calling (unprivileged) user.

Starting, stopping and restarting work on the rendered directory alone (its pid file,
its log), so ``ebs up`` and the worker's ``ebs.nas_changed`` restart a server the same
way (:func:`restart`), whoever started it.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sysconfig
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from billing import reject_messages as subscriber_words
from stack import radius_clients
from stack.servers.base import ServerError, log_tail, wait_until
from stack.servers.procs import exited, terminate
from stack.servers.templates import render_tree

CONF_TEMPLATES = Path(__file__).resolve().parents[2] / "freeradius_conf"
CLIENT_TEMPLATE = "client.conf.tmpl"
SQL_MODULE = "mods-enabled/sql"
DEGRADED_MODULE = "mods-enabled/degraded_cache"
AUTH_SPOOL_MODULE = "mods-enabled/auth_spool"
EBS_MODULE = "mods-enabled/ebs"  # the python3 instance; its config may hold the key
PROJECT_ROOT = CONF_TEMPLATES.parent
LIBDIR = Path("/usr/lib/freeradius")
READY_LINE = "Ready to process requests"

# The site's accounting section after the detail file, per accounting mode.
ACCOUNTING_MODES = {
    # rlm_sql applies each packet before the NAS is answered (a durable commit per
    # packet); when rlm_sql fails (PostgreSQL down, a query error) the packet goes to
    # the spool (mods-enabled/acct_spool), which the drain applies later, and the NAS
    # still gets its Accounting-Response. Only when the spool cannot be written either
    # does the request fail (the NAS retransmits).
    "live": "redundant {\n\t\t\tsql\n\t\t\tacct_spool\n\t\t}",
    # Every packet goes to the spool and is answered once written there; the drain
    # (`ebs acct drain --follow`) applies the spool in ordered batches, one durable
    # commit per batch. No database work per packet inside FreeRADIUS.
    "spool": "acct_spool",
}

# The site's authorize around rlm_sql (its ``authorize_sql``): the facts it found, or,
# when it failed, a db_unavailable reject, which rlm_ebs logs (throttled).
_SQL_FAILED = """sql {
			fail = 1
		}
		if (fail) {
			update control {
				&EBS-Reason := "db_unavailable"
				&EBS-Decision := "reject"
			}
"""
_AUTHORIZE_SQL = _SQL_FAILED + """			ebs
			reject
		}"""
# The same in degraded mode: the facts rlm_sql found are remembered (mods-enabled/
# degraded_cache); while the database is away a subscriber remembered is decided by
# rlm_ebs on those facts and the address of the last accept, anyone else rejected.
_AUTHORIZE_DEGRADED = _SQL_FAILED + """			update control {
				&Cache-Read-Only := yes
			}
			cache_facts {
				fail = 1
			}
			if (ok) {
				# rlm_ebs decides on the remembered facts and sets the reason itself.
				update control {
					&EBS-Reason !* ANY
					&EBS-Decision !* ANY
					&EBS-Degraded := "yes"
					&Cache-Read-Only := yes
				}
				cache_lease {
					fail = 1
					notfound = 1
				}
			}
			else {
				ebs
				reject
			}
		}
		elsif (ok) {
			update control {
				&Cache-TTL := -{max_age}
			}
			cache_facts {
				fail = 1
			}
		}"""
# The auth log's row through rlm_sql, else into the auth spool (mods-enabled/auth_spool).
_POST_AUTH_SQL = """sql {
			fail = 1
		}
		if (fail) {
			auth_spool {
				fail = 1
			}
		}
		ok"""
# RADIUS_AUTH_MODE "spool": every answer's auth-log line (and the lease offered from a
# reservation) into the auth spool, applied in batches by the drain; no statement.
_POST_AUTH_SPOOL = """auth_spool {
			fail = 1
		}
		ok"""
# RADIUS_AUTH_MODE "spool": more addresses for the node (rlm_ebs/reservations.py).
_POST_AUTH_RESERVE = """if (&control:EBS-Reserve) {
			update control {
				&EBS-Reserved := "%{sql:SELECT ebs_radius_reserve(\\
ebs_rlm_sql_text('%{control:EBS-Reserve-Node}'), ebs_rlm_sql_text('%{control:EBS-Reserve}'))}"
			}
			ebs
		}"""
# How an Access-Request's auth-log row and lease reach the database (RADIUS_AUTH_MODE).
AUTH_MODES = ("live", "spool")
_REMEMBER_LEASE = """if (&reply:Framed-IP-Address && !&control:EBS-Degraded) {
			update control {
				&Cache-TTL := -{max_age}
			}
			cache_lease {
				fail = 1
			}
		}"""

_REPLY = re.compile(r"^Received (\S+) Id \d+")
_ATTRIBUTE = re.compile(r"^\s+(\S+) = (.*)$")


def threads_for_cores(cores: int | None = None) -> int:
    """FreeRADIUS threads, and so rlm_sql connections, for this machine (RADIUS_THREADS
    0): two per core, 4 to 32. In the auth spool mode a login's one statement is a read:
    while one thread waits on PostgreSQL the other's backend runs, and more threads than
    that only make the cores switch between them (ebs bench radius-auth on 2 cores, the
    facts' statement alone: 6 threads did 1.8× what 32 did; the whole spool path did
    2,576 / 2,924 / 2,496 accepts/s at 3 / 4 / 6 threads)."""
    return max(4, min(32, 2 * (cores or os.cpu_count() or 2)))


class ConfigError(ServerError):
    """``freeradius -C`` refused the rendered configuration; nothing was stopped."""


def binary() -> str:
    found = shutil.which("freeradius") or shutil.which("radiusd")
    if not found:
        raise ServerError("freeradius not found (apt install freeradius freeradius-utils)")
    return found


def _log(directory: Path) -> Path:
    return directory / "log" / "radius.log"


def running_pid(directory: Path) -> int | None:
    """The pid of the daemon running from ``directory`` (its pid file outlives a crash)."""
    try:
        pid = int((directory / "run" / "radiusd.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return None if exited(pid) else pid


def check_config(directory: Path) -> None:
    """``freeradius -C``: parse the configuration and load every module, then exit."""
    result = subprocess.run(
        [binary(), "-C", "-l", "stdout", "-d", str(directory), "-n", "radiusd"],
        capture_output=True, text=True, check=False, timeout=60,
    )
    if result.returncode != 0:
        output = (result.stdout + result.stderr).splitlines()
        errors = [line for line in output if " Error: " in line] or output[-20:]
        raise ConfigError(
            f"FreeRADIUS configuration in {directory} is invalid:\n" + "\n".join(errors)
        )


def launch(directory: Path, what: str = "freeradius") -> None:
    """Start the daemon from the configuration rendered in ``directory`` and wait for its
    Ready line. Its own session: stopping the caller (``ebs up``, a Celery worker) never
    takes the server with it."""
    log = _log(directory)
    offset = log.stat().st_size if log.exists() else 0
    # Daemon mode: the parent returns once the child has bound its sockets (or failed).
    result = subprocess.run(
        [binary(), "-d", str(directory), "-n", "radiusd"],
        capture_output=True, text=True, check=False, timeout=60, start_new_session=True,
    )
    if result.returncode != 0:
        raise ServerError(
            f"freeradius exited {result.returncode}: {result.stdout}{result.stderr}"
            f"{log_tail(log)}"
        )

    def ready() -> bool:
        if not log.exists():
            return False
        with log.open("rb") as fh:
            fh.seek(offset)
            return READY_LINE.encode() in fh.read()

    wait_until(ready, 20, what, log)


def restart(directory: Path) -> int:
    """The one FreeRADIUS restart: check the configuration rendered in ``directory``, stop
    the server running from it, start it again; the new pid. FreeRADIUS 3.2.1 reads
    clients.conf only at start (STACK-FACTS.md), so a NAS change is applied this way.
    A refused configuration raises :class:`ConfigError` with the old server still up."""
    check_config(directory)
    pid = running_pid(directory)
    if pid is not None:
        terminate(pid)  # SIGKILL after the grace time: the restart goes on either way
    launch(directory)
    new_pid = running_pid(directory)
    if new_pid is None:
        raise ServerError(f"freeradius started but its pid file names no running process"
                          f"{log_tail(_log(directory))}")
    return new_pid


class RadiusClient(radius_clients.RadiusClient):
    """A NAS allowed to talk to us (stack/radius_clients.py renders it for the worker
    too); a client that cannot be written is a ServerError here."""

    def validated(self) -> RadiusClient:
        try:
            super().validated()
        except radius_clients.ClientError as error:
            raise ServerError(str(error)) from None
        return self


@dataclass(frozen=True)
class RadiusReply:
    """What radclient saw: the reply code (None when nothing came back) and attributes.

    The Message-Authenticator every answer carries is not among the attributes: it is
    the packet's signature, which radclient has checked (it drops a reply whose
    signature is wrong); tests/radius_wire.py checks it with our own code.
    """

    code: str | None
    attributes: dict[str, str]
    output: str


def radclient(
    port: int,
    command: str,
    secret: str,
    attributes: Sequence[tuple[str, str]] = (),
    *,
    server: str = "127.0.0.1",
    raddb: Path | None = None,
    timeout: float = 1.0,
    retries: int = 1,
) -> RadiusReply:
    """Send one packet with radclient (command: auth, acct, status, coa, disconnect).

    ``raddb`` is a directory holding a ``dictionary`` file: radclient reads
    /etc/freeradius's by default, which the service account may not read.
    """
    cmd = ["radclient", "-x", "-r", str(retries), "-t", str(timeout)]
    if raddb is not None:
        cmd += ["-d", str(raddb)]
    stdin = "\n".join(f"{name} = {value}" for name, value in attributes) + "\n"
    # The secret goes in a file (-S): on the command line one starting with "-" (a random
    # secret does, one time in 64) is taken for an option, and ps would show it.
    with tempfile.NamedTemporaryFile("w", prefix="radclient-", suffix=".secret") as secret_file:
        secret_file.write(secret + "\n")
        secret_file.flush()
        cmd += ["-S", secret_file.name, f"{server}:{port}", command]
        result = subprocess.run(
            cmd, input=stdin, capture_output=True, text=True,
            timeout=timeout * (retries + 1) + 10, check=False,
        )
    output = result.stdout + result.stderr
    code, attrs, in_reply = None, {}, False
    for line in result.stdout.splitlines():
        match = _REPLY.match(line)
        if match:
            code, in_reply = match.group(1), True
            continue
        attr = _ATTRIBUTE.match(line)
        if in_reply and attr:
            if attr.group(1) != "Message-Authenticator":
                attrs[attr.group(1)] = attr.group(2).strip('"')
        elif line and not line[0].isspace():
            in_reply = False
    if code is None and "No reply from server" not in output:
        raise ServerError(f"{' '.join(cmd)} failed ({result.returncode}):\n{output}")
    return RadiusReply(code, attrs, output)


@dataclass
class FreeRadiusServer:
    directory: Path
    auth_port: int
    acct_port: int
    clients: list[tuple[str, str, str]] = field(default_factory=list)
    listen_ip: str = "127.0.0.1"
    reject_delay: int = 1  # seconds an Access-Reject is held back; tests use 0
    start_servers: int = 5
    max_servers: int = 32
    max_requests: int = 16384
    templates: Path = CONF_TEMPLATES
    # The billing database for rlm_sql accounting; without db_name the server runs
    # with the detail file alone (and no sql module is rendered at all).
    db_host: str = "127.0.0.1"
    db_port: int = 5432
    db_name: str | None = None
    db_user: str = "ebs"
    db_password: str = ""
    # How accounting reaches the database (ACCOUNTING_MODES; stack/acct_follow.py).
    accounting_mode: str = "live"
    # How the auth log and the leases reach it (AUTH_MODES): "live", a statement each per
    # Access-Request; "spool", the auth spool and the node's reserved addresses, under
    # node_name (default: the host's name and the auth port).
    auth_mode: str = "live"
    node_name: str = ""
    # rlm_ebs (the python3 instance): the ISP's timezone and the CHAP credentials key
    # (hex, or a file the server's user can read); the interpreter's site-packages.
    time_zone: str = "UTC"
    credentials_key: str = ""
    credentials_key_file: str = ""
    test_clock_file: str = ""  # tests move the decision's clock with it; never in production
    # Degraded mode (RADIUS_DEGRADED_*): subscribers seen within max_age seconds log in
    # while the database is away; at most max_entries remembered.
    degraded_mode: bool = True
    degraded_max_age: int = 86400
    degraded_max_entries: int = 200_000
    # Reject reason → the subscriber's words, sent as Reply-Message to a NAS marked for it
    # (billing/reject_messages.py; ebs up passes LANGUAGE_CODE's with the ISP's wording).
    reject_messages: dict[str, str] = field(
        default_factory=lambda: subscriber_words.texts(subscriber_words.DEFAULT_LANGUAGE))
    python_site_packages: str = field(default_factory=lambda: sysconfig.get_paths()["purelib"])

    @property
    def pidfile(self) -> Path:
        return self.directory / "run" / "radiusd.pid"

    @property
    def log(self) -> Path:
        return _log(self.directory)

    @property
    def node(self) -> str:
        """This server's name among the nodes that share the database (reservations)."""
        name = self.node_name or f"{socket.gethostname()}-{self.auth_port}"
        if "/" in name:
            raise ServerError(f"FreeRADIUS node name {name!r}: no '/'")
        return name

    @property
    def radacct_dir(self) -> Path:
        return self.directory / "radacct"

    @property
    def accounting_to_sql(self) -> bool:
        return bool(self.db_name)

    def _db_values(self) -> dict[str, object]:
        if not self.accounting_to_sql:
            return {"accounting_sql": "# no database configured: detail file only",
                    "accounting_detail": "detail"}
        for name in ("db_host", "db_name", "db_user", "db_password"):
            value = str(getattr(self, name) or "")
            # Double-quoted config strings expand ${...} and backslashes: keep them out.
            if any(c in value for c in '"\\$') or any(not (32 <= ord(c) < 127) for c in value):
                raise ServerError(f"FreeRADIUS {name}: printable ASCII without \" \\ or $")
        if self.accounting_mode not in ACCOUNTING_MODES:
            raise ServerError(f"FreeRADIUS accounting_mode {self.accounting_mode!r}: "
                              f"one of {', '.join(ACCOUNTING_MODES)}")
        if self.auth_mode not in AUTH_MODES:
            raise ServerError(f"FreeRADIUS auth_mode {self.auth_mode!r}: "
                              f"one of {', '.join(AUTH_MODES)}")
        return {
            "accounting_sql": ACCOUNTING_MODES[self.accounting_mode],
            # One copy on disk per packet: the spool mode's spool file is it.
            "accounting_detail": "detail" if self.accounting_mode == "live" else (
                "# spool mode: the spool file is the packet's copy on disk"),
            "db_host": self.db_host,
            "db_port": int(self.db_port),
            "db_name": self.db_name,
            "db_user": self.db_user,
            "db_password": self.db_password or "",
            "db_pool_min": min(4, self.max_servers),
            "db_pool_max": self.max_servers,
        }

    def _ebs_values(self) -> dict[str, object]:
        """rlm_ebs's module settings, and the site's authorize / post-auth sql calls."""
        values = {
            "python_path": f"{PROJECT_ROOT}:{self.python_site_packages}",
            "python_site_packages": self.python_site_packages,
            "time_zone": self.time_zone,
            "credentials_key": self.credentials_key,
            "credentials_key_file": self.credentials_key_file,
            "test_clock_file": self.test_clock_file,
            "node": self.node if self.accounting_to_sql and self.auth_mode == "spool" else "",
            **subscriber_words.config_items(self.reject_messages),
        }
        for name, value in values.items():
            if any(c in str(value) for c in '"\\$') or any(
                not (32 <= ord(c) < 127) for c in str(value)
            ):
                raise ServerError(f"FreeRADIUS {name}: printable ASCII without \" \\ or $")
        values["reject_messages"] = "\n\t\t".join(
            f'{name} = "{values.pop(name)}"' for name in list(values)
            if name.startswith(subscriber_words.CONFIG_PREFIX)) or "# none"
        values["degraded_max_age"] = int(self.degraded_max_age)
        values["degraded_max_entries"] = int(self.degraded_max_entries)
        if self.accounting_to_sql:
            values["authorize_sql"] = (
                _AUTHORIZE_DEGRADED if self.degraded_mode else _AUTHORIZE_SQL).replace(
                "{max_age}", str(int(self.degraded_max_age)))
            spool = self.auth_mode == "spool"
            values["post_auth_sql"] = _POST_AUTH_SPOOL if spool else _POST_AUTH_SQL
            values["post_auth_reserve"] = _POST_AUTH_RESERVE if spool else (
                "# auth mode live: every lease through rlm_sql")
            values["post_auth_spool"] = "auth_spool {\n\t\t\t\t\tfail = 1\n\t\t\t\t}"
            values["post_auth_lease"] = "$INCLUDE ${modconfdir}/sql/lease.post-auth"
            values["post_auth_remember"] = (_REMEMBER_LEASE.replace(
                "{max_age}", str(int(self.degraded_max_age))) if self.degraded_mode
                else "# degraded mode off: nothing remembered")
        else:
            values["authorize_sql"] = "# no database configured: no facts, every login unknown"
            values["post_auth_sql"] = "# no database configured: no auth log"
            values["post_auth_reserve"] = "# no database configured: no leases"
            values["post_auth_lease"] = "# no database configured: no leases"
            values["post_auth_remember"] = "# no database configured: nothing remembered"
            values["post_auth_spool"] = "# no database configured: no auth log"
        return values

    def radius_clients(self) -> list[RadiusClient]:
        return [RadiusClient(*c).validated() for c in self.clients]

    def _values(self) -> dict[str, object]:
        return {
            "confdir": self.directory,
            "libdir": LIBDIR,
            "listen_ip": self.listen_ip,
            "auth_port": self.auth_port,
            "acct_port": self.acct_port,
            "reject_delay": self.reject_delay,
            "start_servers": self.start_servers,
            "max_servers": self.max_servers,
            "max_requests": self.max_requests,
            # The same blocks the worker writes after a NAS change (ebs.nas_changed).
            "clients": radius_clients.client_blocks(self.radius_clients(), self.templates),
            **self._db_values(),
            **self._ebs_values(),
        }

    def render(self) -> None:
        """Write a complete configuration into the directory (no state is touched)."""
        values = self._values()
        self.directory.mkdir(parents=True, exist_ok=True)
        self.directory.chmod(0o700)
        for sub in ("mods-enabled", "sites-enabled", "policy.d"):
            # A module or site dropped from the templates must not linger here.
            if (self.directory / sub).is_dir():
                shutil.rmtree(self.directory / sub)
        render_tree(
            self.templates, self.directory, values,
            skip=[CLIENT_TEMPLATE] + ([] if self.accounting_to_sql
                                      else [SQL_MODULE, AUTH_SPOOL_MODULE])
            + ([] if self.accounting_to_sql and self.degraded_mode else [DEGRADED_MODULE]),
            private=["clients.conf", SQL_MODULE, EBS_MODULE],
        )
        for sub in ("log", "run", "db", "radacct", "radacct/auth-spool", "mods-config"):
            (self.directory / sub).mkdir(mode=0o700, exist_ok=True)

    def check(self) -> None:
        check_config(self.directory)

    def ping(self, timeout: float = 0.5) -> bool:
        """A Status-Server to the auth port from the first client covering our address."""
        local = [c for c in self.radius_clients() if c.covers(self.listen_ip)]
        if not local:
            return True  # no client may ask; the log line alone has to do
        reply = radclient(
            self.auth_port, "status", local[0].secret, [("Message-Authenticator", "0x00")],
            server=self.listen_ip, raddb=self.directory, timeout=timeout, retries=1,
        )
        return reply.code == "Access-Accept"

    def pid(self) -> int | None:
        return running_pid(self.directory)

    def running(self) -> bool:
        return self.pid() is not None

    def start(self) -> None:
        if self.running():
            return
        self.render()
        self.check()
        launch(self.directory, f"freeradius on ports {self.auth_port}/{self.acct_port}")
        wait_until(self.ping, 20, f"freeradius Status-Server on {self.auth_port}", self.log)

    def stop(self) -> None:
        pid = self.pid()
        if pid is None:
            return
        if not terminate(pid):
            raise ServerError(f"freeradius (pid {pid}) ignored SIGTERM, killed{log_tail(self.log)}")


