"""A private nfacctd (pmacct): NetFlow/IPFIX in on 127.0.0.1, raw rows out to PostgreSQL.

The configuration is rendered from ``flow/nfacctd.conf.tmpl``. pmacct 1.7.7's quirks
shape start and stop (measured here, see STACK-FACTS.md):

* the core drops flows for a plugin that has not yet entered its main loop, which is a
  little after the plugin logs its cache size; start() waits until the plugin sleeps in
  poll() on its pipe (with a 1 s grace where /proc does not tell);
* a daemonised core that has not received a datagram yet leaves SIGINT pending, so
  stop() pokes the port with an empty NetFlow v5 packet until the core acts;
* the core waits 2 s, then signals the plugins, which purge their caches to PostgreSQL
  after the core has gone: stop() waits until the daemon's whole session has exited;
* a plugin woken by a signal while the core is handing it a flow may read that flow
  twice (the lock-free wake-up flag, docs/benchmarks.md): stop() first waits until the
  socket's queue is empty and the core and every plugin sleep, so the SIGINT meets no
  flow in flight;
* a plugin signalled while it hands its cache to its writer at a purge writes that cache
  twice: stop() keeps its SIGINT clear of the purge deadlines.

Its plugins and pre_tag_maps are a collector configuration (``flow.collector_maps``
builds one from the database; this module only runs what it is given, as a stack
module may not import ``flow``). :meth:`NfacctdServer.apply` makes a running server
follow a new one: a SIGUSR2 when only the maps changed (maps_refresh), a restart when
the plugins did. The last configuration is kept beside the server's files, so a restart
without one (``ebs up`` after a backup) runs what ran before. Without any, the server
runs one plugin writing raw 5-tuple rows (the harness of tests/system).
"""

from __future__ import annotations

import contextlib
import fcntl
import ipaddress
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import psycopg

from stack.servers.base import ServerError, log_tail, wait_until
from stack.servers.procs import exited, session_members, wchan
from stack.servers.templates import render, write_private
from stack.servers.udp_socket import socket_counters

CONF_TEMPLATE = Path(__file__).resolve().parents[2] / "flow" / "nfacctd.conf.tmpl"
PLUGIN_TEMPLATE = CONF_TEMPLATE.with_name("nfacctd_plugin.tmpl")
RAW_AGGREGATE = "src_host, dst_host, proto, src_port, dst_port"
MIN_MAPS_ENTRIES = 1024  # pmacct's default is 384 rules per map
RESTART_GRACE = 60.0  # seconds a restart by apply() may take: stop (30 s at most) + start
CORE_READY = "waiting for NetFlow/IPFIX data on"
PLUGIN_READY = "cache entries="
MAP_RELOADED = "map successfully (re)loaded"
PLUGIN_GRACE = 1.0  # seconds after PLUGIN_READY when poll() cannot be observed
# A plugin's queue of cache entries filled between two purges: pmacct 1.7.7's urgent
# purge then loses track of the entries it carries over (flow/collector_maps.py).
CACHE_FULL = "Finished cache entries"
# No SIGINT this close to a plugin's purge deadline (see NfacctdServer._clear_of_purge):
# after it, a plugin may still be handing its cache to its writer; before it, the SIGINT
# would reach the plugins (2 s after the core) just as they purge.
PURGE_GUARD_S = 3.5
PURGE_GUARD_BEFORE_S = 4.0
# A NetFlow v5 header announcing zero records: wakes the core, adds nothing.
_EMPTY_V5 = struct.pack("!HHIIIIBBH", 5, 0, 0, 0, 0, 0, 0, 0, 0)
# One record of zeros (0.0.0.0 to 0.0.0.0, no bytes): the core re-reads the plugins'
# maps after it has passed a flow to them, so this makes it do so now. No subscriber's
# network holds 0.0.0.0, so the counting plugins' filters drop it, and the raw and reject
# plugins drop zero-byte aggregates (sql_preprocess).
_ZERO_RECORD_V5 = struct.pack("!HHIIIIBBH", 5, 1, 0, 0, 0, 0, 0, 0, 0) + bytes(48)


class PluginSpec(Protocol):
    name: str
    table: str
    directives: Sequence[tuple[str, str]]


class CollectorSpec(Protocol):
    """What ``flow.collector_maps.CollectorConfig`` is: the plugins and the maps."""

    plugins: Sequence[PluginSpec]
    maps: Mapping[str, str]


@dataclass(frozen=True)
class SavedPlugin:
    name: str
    table: str
    directives: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class SavedCollector:
    plugins: tuple[SavedPlugin, ...]
    maps: dict[str, str]


def _dump(spec: CollectorSpec) -> str:
    return json.dumps({
        "plugins": [[p.name, p.table, [list(d) for d in p.directives]] for p in spec.plugins],
        "maps": dict(spec.maps)}, indent=1, sort_keys=True)


def _load(text: str) -> SavedCollector:
    data = json.loads(text)
    return SavedCollector(
        tuple(SavedPlugin(name, table, tuple((k, v) for k, v in directives))
              for name, table, directives in data["plugins"]),
        dict(data["maps"]))


def _write_atomic(path: Path, text: str, mode: int) -> None:
    tmp = path.with_name(path.name + ".new")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.replace(tmp, path)


def binary() -> str:
    found = shutil.which("nfacctd")
    if not found:
        raise ServerError("nfacctd not found (apt install pmacct)")
    return found


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def purge_wait(now: float, refresh_seconds: int) -> float:
    """Seconds to wait from ``now`` (Unix time) until a SIGINT is clear of the plugins'
    purge deadlines (multiples of ``refresh_seconds``); 0 when it already is."""
    phase = now % refresh_seconds
    if phase < PURGE_GUARD_S:
        return PURGE_GUARD_S - phase
    if phase > refresh_seconds - PURGE_GUARD_BEFORE_S:
        return refresh_seconds - phase + PURGE_GUARD_S
    return 0.0


@dataclass
class NfacctdServer:
    directory: Path
    port: int
    db_host: str
    db_port: int
    db_name: str
    db_user: str
    db_password: str = ""
    table: str = "flow_raw"
    refresh_seconds: int = 60  # the purge interval and the time bin; whole minutes only
    listen_ip: str = "127.0.0.1"
    name: str = "raw"  # the plugin's name in logs and pid files
    socket_buffer: int = 64 * 1024 * 1024
    plugin_pipe_size: int = 64 * 1024 * 1024
    plugin_buffer_size: int = 0  # 0: unbuffered (see _values)
    cache_entries: int = 65537  # a prime, per pmacct's advice
    template: Path = CONF_TEMPLATE
    collector: CollectorSpec | None = None  # None: the saved one, else one raw plugin
    _log_offset: int = field(default=0, init=False, repr=False)

    @property
    def conf(self) -> Path:
        return self.directory / "nfacctd.conf"

    @property
    def pidfile(self) -> Path:
        return self.directory / "nfacctd.pid"

    @property
    def log(self) -> Path:
        return self.directory / "nfacctd.log"

    @property
    def maps_dir(self) -> Path:
        return self.directory / "maps"

    @property
    def saved_collector(self) -> Path:
        return self.directory / "collector.json"

    def _collector(self) -> CollectorSpec:
        if self.collector is not None:
            return self.collector
        if self.saved_collector.exists():
            return _load(self.saved_collector.read_text(encoding="utf-8"))
        raw = (("aggregate", RAW_AGGREGATE), ("sql_num_protos", "true"))
        return SavedCollector((SavedPlugin(self.name, self.table, raw),), {})

    def _plugin_section(self, plugin: PluginSpec) -> str:
        name = plugin.name
        password = (
            f"sql_passwd[{name}]: {self.db_password}"
            if self.db_password
            else "! no sql_passwd: the server trusts this user"
        )
        # A partly filled core-to-plugin buffer is neither flushed on a timer nor at exit:
        # what sits in it at SIGINT is lost. Unbuffered, every flow reaches the plugin.
        buffer = (
            f"plugin_buffer_size[{name}]: {self.plugin_buffer_size}"
            if self.plugin_buffer_size
            else "! plugin_buffer_size unset: a partly filled buffer is lost at stop"
        )
        directives = "\n".join(f"{key}[{name}]: {value}" for key, value in plugin.directives)
        cache_line = (
            "! sql_cache_entries: sized by the collector's configuration"
            if any(key == "sql_cache_entries" for key, _ in plugin.directives)
            else f"sql_cache_entries[{name}]: {self.cache_entries}"
        )
        values = {
            "name": name, "table": plugin.table, "directives": directives,
            "plugin_pipe_size": self.plugin_pipe_size, "plugin_buffer_line": buffer,
            "db_host": self.db_host, "db_port": self.db_port, "db_name": self.db_name,
            "db_user": self.db_user, "db_password_line": password,
            "refresh_seconds": self.refresh_seconds,
            "history": f"{self.refresh_seconds // 60}m",
            "cache_line": cache_line,
        }
        return render(PLUGIN_TEMPLATE.read_text(encoding="utf-8"), values,
                      source=str(PLUGIN_TEMPLATE))

    def _values(self, collector: CollectorSpec) -> dict[str, object]:
        if self.refresh_seconds <= 0 or self.refresh_seconds % 60:
            raise ServerError(
                f"nfacctd refresh_seconds={self.refresh_seconds}: sql_history takes whole "
                "minutes and must equal the refresh time"
            )
        rules = max((text.count("\n") for text in collector.maps.values()), default=0)
        return {
            "pidfile": self.pidfile,
            "logfile": self.log,
            "listen_ip": self.listen_ip,
            "port": self.port,
            "socket_buffer": self.socket_buffer,
            "maps_entries": max(MIN_MAPS_ENTRIES, 2 * rules),
            "plugin_list": ", ".join(f"pgsql[{p.name}]" for p in collector.plugins),
            "plugin_sections": "".join(self._plugin_section(p) for p in collector.plugins),
        }

    def _conf_text(self, collector: CollectorSpec) -> str:
        return render(self.template.read_text(encoding="utf-8"), self._values(collector),
                      source=str(self.template))

    def _write_maps(self, collector: CollectorSpec) -> None:
        """The configuration's maps; those of plugins it no longer has are removed."""
        self.maps_dir.mkdir(parents=True, exist_ok=True)
        for name, text in collector.maps.items():
            _write_atomic(self.maps_dir / name, text, 0o640)
        for stale in [*self.maps_dir.glob("*.map"), *self.maps_dir.glob("*.networks")]:
            if stale.name not in collector.maps:
                stale.unlink()

    def render(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        collector = self._collector()
        self._write_maps(collector)
        if self.collector is not None:
            _write_atomic(self.saved_collector, _dump(collector), 0o600)
        write_private(self.conf, self._conf_text(collector), 0o600)  # the DB password

    def apply(self, collector: CollectorSpec,
              restart: Callable[[], dict] | None = None) -> dict:
        """Make this server run ``collector``. Returns ``server``: ``current`` (nothing
        changed), ``stopped`` (files written for the next start), ``reloaded`` (only the
        maps changed: rewritten and SIGUSR2 to the core, flows keep flowing) or
        ``restarted`` (the plugins changed: stop, which writes the cached bins, and
        start). One apply at a time per server (a lock file). ``restart``, when given,
        restarts instead and says how (an installed system asks systemd, whose unit
        starts the server with the database's configuration): the server's process then
        stays its unit's."""
        self.directory.mkdir(parents=True, exist_ok=True)
        with open(self.directory / "apply.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            old_conf = self.conf.read_text(encoding="utf-8") if self.conf.exists() else None
            old_maps = {name: (self.maps_dir / name).read_text(encoding="utf-8")
                        for name in collector.maps if (self.maps_dir / name).exists()}
            self.collector = collector
            conf_same = old_conf == self._conf_text(collector)
            maps_same = old_maps == dict(collector.maps)
            core = self.core_pid()
            if core is None:
                self.render()
                return {"server": "stopped"}
            if conf_same and maps_same:
                return {"server": "current"}
            if conf_same:
                self.render()
                # pre_tag_maps log their reload; a networks file is named by its
                # content, so a change of it is a change of the plugins (a restart)
                self._reload_maps(core, sum(name.endswith(".map") for name in collector.maps))
                return {"server": "reloaded", "pid": core}
            if restart is not None:
                return restart()
            before = (self.saved_collector.read_text(encoding="utf-8")
                      if self.saved_collector.exists() else None)
            self.restart_marker.touch()
            try:
                self.stop()
                try:
                    self.start()
                except ServerError:
                    self._start_previous(before)
                    raise
            finally:
                self.restart_marker.unlink(missing_ok=True)
            return {"server": "restarted", "pid": self.core_pid()}

    def _start_previous(self, saved: str | None) -> None:
        """A configuration nfacctd refused must not leave the exporters unheard: the
        one that ran before runs again (the caller still gets the refusal)."""
        self.stop()
        if saved is None:
            return
        self.collector = _load(saved)
        self.start()

    def _own_address(self) -> tuple[int, tuple[str, int]]:
        """Where this host reaches the collector: its address, or loopback when it
        listens on every address (``::`` takes IPv4 and IPv6 exporters alike)."""
        listen = ipaddress.ip_address(self.listen_ip)
        if listen.is_unspecified:
            listen = ipaddress.ip_address("::1" if listen.version == 6 else "127.0.0.1")
        family = socket.AF_INET6 if listen.version == 6 else socket.AF_INET
        return family, (str(listen), self.port)

    def _reload_maps(self, core: int, maps: int, timeout: float = 10.0) -> None:
        """SIGUSR2, and wait until the core has re-read every map. pmacct 1.7.7 re-reads
        a plugin's pre_tag_map after the next flow it handles, so a zero-byte record is
        sent until it has (that one flow, and any in flight, go by the old maps)."""
        offset = self.log.stat().st_size if self.log.exists() else 0
        os.kill(core, signal.SIGUSR2)
        deadline = time.monotonic() + timeout
        family, address = self._own_address()
        with socket.socket(family, socket.SOCK_DGRAM) as sock:
            while self._log_since(offset).count(MAP_RELOADED) < maps:
                if time.monotonic() > deadline:
                    raise ServerError(f"nfacctd did not reload its maps{log_tail(self.log)}")
                sock.sendto(_ZERO_RECORD_V5, address)
                time.sleep(0.1)

    def check_database(self) -> None:
        """nfacctd only connects at its first purge, and then loses the rows if it cannot
        write: find out now whether the database and table are there."""
        try:
            with psycopg.connect(
                host=self.db_host, port=self.db_port, dbname=self.db_name, user=self.db_user,
                password=self.db_password or None, connect_timeout=5,
            ) as conn:
                found = conn.execute("SELECT to_regclass(%s)", (self.table,)).fetchone()
        except psycopg.OperationalError as exc:
            raise ServerError(f"nfacctd's database is not reachable: {exc}") from None
        if not found or found[0] is None:
            raise ServerError(f"nfacctd's table {self.table} does not exist in {self.db_name}")

    def core_pid(self) -> int | None:
        pid = _read_pid(self.pidfile)
        return None if pid is None or exited(pid) else pid

    def plugin_pids(self) -> list[int]:
        """Plugins write ``<pidfile>-<type>-<name>``; only the living ones count."""
        pids = (_read_pid(p) for p in self.directory.glob(self.pidfile.name + "-*"))
        return [pid for pid in pids if pid is not None and not exited(pid)]

    @property
    def restart_marker(self) -> Path:
        return self.directory / "restarting"

    def running(self) -> bool:
        """The core is alive, or :meth:`apply` is restarting it (``ebs up``'s watch must
        not take the stack down for those seconds). A marker older than a restart can
        take (its process died) does not count."""
        if self.core_pid() is not None:
            return True
        try:
            age = time.time() - self.restart_marker.stat().st_mtime
        except FileNotFoundError:
            return False
        return age < RESTART_GRACE

    def _log_since(self, offset: int) -> str:
        if not self.log.exists():
            return ""
        with self.log.open("rb") as fh:
            fh.seek(offset)
            return fh.read().decode(errors="replace")

    def start(self) -> None:
        if self.core_pid() is not None:
            return
        self.render()
        self.check_database()
        for stale in self.directory.glob(self.pidfile.name + "*"):
            stale.unlink()
        self._log_offset = self.log.stat().st_size if self.log.exists() else 0
        # pmacct writes time bins as local wall-clock strings and PostgreSQL reads them in
        # the session's zone: pin both to UTC, whatever the host or the server says.
        env = {**os.environ, "TZ": "UTC", "PGTZ": "UTC"}
        result = subprocess.run(
            [binary(), "-f", str(self.conf)], capture_output=True, text=True, env=env,
            check=False,
        )
        if result.returncode != 0:
            raise ServerError(
                f"nfacctd exited {result.returncode}: {result.stdout}{result.stderr}"
                f"{log_tail(self.log)}"
            )

        seen: list[float] = []

        def ready() -> bool:
            text = self._log_since(self._log_offset)
            if " ERROR " in text or "CRIT" in text:
                raise ServerError(f"nfacctd failed to start{log_tail(self.log)}")
            plugins = self.plugin_pids()
            if CORE_READY not in text or PLUGIN_READY not in text or not plugins:
                return False
            seen.append(time.monotonic())
            if all("poll" in wchan(pid) for pid in plugins):
                return True
            return seen[-1] - seen[0] >= PLUGIN_GRACE

        wait_until(ready, 20, f"nfacctd on port {self.port}", self.log)

    def errors(self) -> list[str]:
        """ERROR lines logged since start(): a failed write shows up here, nowhere else.
        A full cache is logged as INFO but miscounts, so it is an error here: its plugin
        needs a larger ``sql_cache_entries``."""
        text = self._log_since(self._log_offset)
        return [line for line in text.splitlines()
                if " ERROR " in line or "CRIT" in line or CACHE_FULL in line]

    def _settle(self, core: int, timeout: float = 5.0) -> None:
        """Wait (a while at most) until nothing is in flight: the socket's queue empty,
        the core and each plugin asleep, twice in a row. A flow handed over at the
        moment the SIGINT lands may be counted twice."""
        def quiet() -> bool:
            counters = socket_counters(self.port) if self.listen_ip == "127.0.0.1" else None
            if counters is not None and counters.queued:
                return False
            return all(wchan(pid) for pid in [core, *self.plugin_pids()])

        deadline = time.monotonic() + timeout
        calm = 0
        while calm < 2 and time.monotonic() < deadline:
            calm = calm + 1 if quiet() else 0
            time.sleep(0.02)

    def _clear_of_purge(self) -> None:
        """Wait until the SIGINT cannot meet a plugin handing its cache to a writer.

        pmacct 1.7.7's SQL plugin purges at the first second past each refresh deadline
        (whole minutes of the wall clock: ``sql_history_roundoff: m``): it forks the
        writer, which ignores SIGINT and writes the queue, and only then empties its own
        queue (``sql_cache_handle_flush_event`` in sql_common.c). A SIGINT between the
        two makes the plugin's exit write that same queue again: every count of the
        minute twice. The core passes our SIGINT on to the plugins 2 s later, so none
        is sent from PURGE_GUARD_BEFORE_S before a deadline to PURGE_GUARD_S after it;
        _settle() then waits for the plugins to be back asleep."""
        time.sleep(purge_wait(time.time(), self.refresh_seconds))

    def stop(self, timeout: float = 30.0) -> None:
        """SIGINT: the plugins purge their caches to PostgreSQL; wait until they have."""
        session = _read_pid(self.pidfile)  # the core called setsid(): its pid names it
        if session is None or not session_members(session):
            return
        deadline = time.monotonic() + timeout
        if session in session_members(session):  # the core itself, not a reused pid
            for _ in range(3):  # a settle that ran into the next purge waits it out too
                self._clear_of_purge()
                self._settle(session)
                if not purge_wait(time.time(), self.refresh_seconds):
                    break
            with contextlib.suppress(ProcessLookupError):
                os.kill(session, signal.SIGINT)
            family, address = self._own_address()
            with socket.socket(family, socket.SOCK_DGRAM) as sock:
                while not exited(session) and time.monotonic() < deadline:
                    sock.sendto(_EMPTY_V5, address)
                    time.sleep(0.1)
        while session_members(session) and time.monotonic() < deadline:
            time.sleep(0.05)
        left = session_members(session)
        if left:
            raise ServerError(
                f"nfacctd did not finish its last write in {timeout:.0f}s "
                f"(still running: {left}){log_tail(self.log)}"
            )
