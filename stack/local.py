"""The local stack of ``ebs up``: every server under ``./var`` on the configured ports."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import psycopg

from billing import credentials, db_pooler, reject_messages, schema
from billing import settings as settings_mod
from stack import acct_spool, db_roles, nas_sync, radius_clients, secret_file
from stack.servers.acct_drain import acct_drainer
from stack.servers.base import ServerError
from stack.servers.freeradius import FreeRadiusServer, threads_for_cores
from stack.servers.nfacctd import NfacctdServer
from stack.servers.postgres import PostgresServer
from stack.servers.process import ManagedProcess
from stack.servers.redis import RedisServer
from stack.servers.web import WebServer


def collector_server(settings: SimpleNamespace) -> NfacctdServer:
    """The local stack's nfacctd (under STATE_DIR), with its own database role: the same
    for `ebs up` and for the worker that applies a change of classes, pools or NAS."""
    user, password = settings_mod.database_role(settings, "flow")
    return NfacctdServer(
        directory=Path(settings.STATE_DIR) / "nfacctd",
        port=settings.NETFLOW_PORT,
        listen_ip=settings.NETFLOW_LISTEN_IP,
        db_host="127.0.0.1", db_port=settings.DB_PORT, db_name=settings.DB_NAME,
        db_user=user, db_password=password,
        plugin_pipe_size=int(settings.FLOW_PLUGIN_PIPE_BYTES),
    )


@dataclass
class Component:
    name: str
    start: Callable[[], None]
    stop: Callable[[], None]
    running: Callable[[], bool]
    address: str


class Stack:
    def __init__(self, settings: SimpleNamespace) -> None:
        self.settings = settings
        self.state = Path(settings.STATE_DIR)
        self.run_dir = self.state / "run"
        self.log_dir = self.state / "log"
        self.postgres = PostgresServer(
            datadir=self.state / "pg" / "data",
            port=settings.DB_PORT,
            socket_dir=self.run_dir,
            user=settings.DB_USER,
        )
        self.redis = RedisServer(self.state / "redis", settings.REDIS_PORT,
                                 password=settings_mod.redis_password(settings))
        # The roles' passwords exist before anything that logs in with them is configured
        # (the server's start creates the roles from the same files).
        for role in (settings.DB_USER, *db_roles.COMPONENT_ROLES.values()):
            db_roles.ensure_password(self.postgres.secrets, role)

        def database(component: str) -> dict:
            """How a part (FreeRADIUS's rlm_sql, nfacctd) reaches the local database: TCP
            (or PgBouncer, when DB_POOLER_COMPONENTS names it), its own role and password."""
            user, password = settings_mod.database_role(settings, component)
            host, port = (db_pooler.address(settings, component)
                          if db_pooler.pooled(settings, component)
                          else ("127.0.0.1", settings.DB_PORT))
            return {"db_host": host, "db_port": port,
                    "db_name": settings.DB_NAME, "db_user": user, "db_password": password}
        self.freeradius = FreeRadiusServer(
            directory=radius_clients.local_server_dir(self.state),
            auth_port=settings.RADIUS_AUTH_PORT,
            acct_port=settings.RADIUS_ACCT_PORT,
            listen_ip=settings.RADIUS_LISTEN_IP,
            **database("radius"),
            time_zone=settings.TIME_ZONE,
            credentials_key=settings.CREDENTIALS_KEY,
            credentials_key_file=settings.CREDENTIALS_KEY_FILE,
            accounting_mode=settings.RADIUS_ACCT_MODE,
            auth_mode=settings.RADIUS_AUTH_MODE,
            node_name=settings.RADIUS_NODE_NAME,
            start_servers=int(settings.RADIUS_THREADS) or threads_for_cores(),
            max_servers=int(settings.RADIUS_THREADS) or threads_for_cores(),
            degraded_mode=bool(settings.RADIUS_DEGRADED_MODE),
            degraded_max_age=int(settings.RADIUS_DEGRADED_MAX_AGE_SECONDS),
            degraded_max_entries=int(settings.RADIUS_DEGRADED_MAX_ENTRIES),
            reject_messages=reject_messages.texts(settings.LANGUAGE_CODE,
                                                  settings.RADIUS_REJECT_MESSAGES),
        )
        # The spool accounting mode's applier (stack/acct_follow.py).
        self.acct_drain = acct_drainer(
            acct_spool.spool_dir(settings), self.run_dir, self.log_dir)
        self.nfacctd = collector_server(settings)
        # Builds nfacctd's plugins and maps from the database at start (cli sets it to
        # flow.collector_maps.build; a stack module may not import flow). Unset, the
        # server runs the configuration it last ran.
        self.collector_builder: Callable[[psycopg.Connection, Path], object] | None = None
        celery = [sys.executable, "-m", "celery", "-A", "worker.app:celery"]
        root = str(settings_mod.PROJECT_ROOT)
        self.worker = ManagedProcess(
            "celery-worker",
            [*celery, "worker", "--loglevel=INFO", "--concurrency=2", "-n", "ebs@%h"],
            self.run_dir, self.log_dir, cwd=settings_mod.PROJECT_ROOT,
            env={"PYTHONPATH": root},
        )
        self.beat = ManagedProcess(
            "celery-beat",
            [*celery, "beat", "--loglevel=INFO",
             "--schedule", str(self.state / "celery" / "beat-schedule")],
            self.run_dir, self.log_dir, cwd=settings_mod.PROJECT_ROOT,
            env={"PYTHONPATH": root},
        )
        # Keeps FreeRADIUS off a database that does not answer (stack/db_watch.py).
        self.db_watch = ManagedProcess(
            "db-watch", [sys.executable, "-m", "cli.main", "radius", "watch-db"],
            self.run_dir, self.log_dir, cwd=settings_mod.PROJECT_ROOT,
            env={"PYTHONPATH": root},
        )
        self.web = WebServer(
            self.run_dir, self.log_dir, settings.WEB_PORT,
            listen_ip=getattr(settings, "WEB_LISTEN_IP", "127.0.0.1"),
            cwd=settings_mod.PROJECT_ROOT, env={"PYTHONPATH": root},
        )

    def components(self) -> list[Component]:
        s = self.settings
        return [
            Component("postgresql", self._start_postgres, self.postgres.stop,
                      self.postgres.running, f"127.0.0.1:{s.DB_PORT}"),
            Component("redis", self._start_redis, self.redis.stop, self.redis.running,
                      f"127.0.0.1:{s.REDIS_PORT}"),
            Component("freeradius", self._start_freeradius, self.freeradius.stop,
                      self.freeradius.running,
                      f"{s.RADIUS_LISTEN_IP}:{s.RADIUS_AUTH_PORT}/{s.RADIUS_ACCT_PORT} udp"),
            Component("db-watch", self.db_watch.start, self.db_watch.stop,
                      self.db_watch.running, "keeps FreeRADIUS off a silent database"),
            *([Component("acct-drain", self.acct_drain.start, self.acct_drain.stop,
                         self.acct_drain.running, "accounting and auth spool follower")]
              if "spool" in (s.RADIUS_ACCT_MODE, s.RADIUS_AUTH_MODE) else []),
            Component("nfacctd", self._start_nfacctd, self.nfacctd.stop, self.nfacctd.running,
                      f"{s.NETFLOW_LISTEN_IP}:{s.NETFLOW_PORT} udp"),
            Component("celery-worker", self.worker.start, self.worker.stop,
                      self.worker.running, "broker redis"),
            Component("celery-beat", self._start_beat, self.beat.stop, self.beat.running,
                      "one beat"),
            Component("web", self.web.start, self.web.stop, self.web.running, self.web.url),
        ]

    def _start_redis(self) -> None:
        """Redis asks for a password: ``REDIS_PASSWORD`` when set, else the password
        file's, generated (mode 0600) on the first start. The worker, beat and web app
        read the same file through ``billing.settings.redis_url``."""
        if not self.redis.password:
            self.redis.password = secret_file.ensure(
                settings_mod.redis_password_file(self.settings))
        self.redis.start()

    def _start_postgres(self) -> None:
        self.postgres.start()
        self.postgres.create_database(self.settings.DB_NAME)
        with psycopg.connect(self.postgres.conninfo(self.settings.DB_NAME), autocommit=True) as c:
            schema.upgrade(c)

    def _start_nfacctd(self) -> None:
        """The classes, pools and NAS table as they are now, when a builder is given."""
        if self.collector_builder is not None:
            with psycopg.connect(self.postgres.conninfo(self.settings.DB_NAME)) as conn:
                self.nfacctd.collector = self.collector_builder(conn, self.nfacctd.maps_dir)
        self.nfacctd.start()

    def _start_freeradius(self) -> None:
        """FreeRADIUS 3.2.1 does not reload clients on SIGHUP, so the NAS table is read at
        each start; a NAS change restarts the server (stack/nas_sync.py).
        A NAS that cannot be a client is left out with a warning (radius_clients)."""
        with psycopg.connect(self.postgres.conninfo(self.settings.DB_NAME)) as conn:
            found = radius_clients.nas_clients(conn)
        for problem in found.refused:
            print(f"warning: {problem}", file=sys.stderr)
        self.freeradius.clients = [(c.name, c.ip, c.secret) for c in found.clients]
        self.ensure_credentials_key()
        self.freeradius.start()

    def ensure_credentials_key(self) -> None:
        """The key that seals CHAP passwords: without one CHAP never works, so the set-up
        makes it (CREDENTIALS_KEY_FILE, mode 0600) unless CREDENTIALS_KEY is given. The
        admin and the worker read the same file."""
        try:
            credentials.load_key(self.settings.CREDENTIALS_KEY,
                                 self.settings.CREDENTIALS_KEY_FILE, create=True)
        except (credentials.CredentialError, OSError) as exc:
            raise ServerError(f"credentials key: {exc}") from exc

    def sync_radius_clients(self) -> None:
        """Apply the ``nas`` table to the running server, as ``ebs.nas_changed`` does:
        the same procedure, under the same lock, so the beat's check never races it."""
        result = nas_sync.sync_clients(
            self.postgres.conninfo(self.settings.DB_NAME), self.freeradius.directory)
        for problem in result.get("refused", []):
            print(f"warning: {problem}", file=sys.stderr)

    def _start_beat(self) -> None:
        (self.state / "celery").mkdir(parents=True, exist_ok=True)
        self.beat.start()

    def up(self, report: Callable[[str], None]) -> None:
        """Start what is not running; what is, is left alone (PostgreSQL still gets its
        roles and the pending migrations, which cost nothing when there are none)."""
        for component in self.components():
            if component.running():
                report(f"{component.name} is already running ({component.address})")
                if component.name != "postgresql":
                    continue
            else:
                report(f"starting {component.name} ({component.address})")
            component.start()

    def down(self, report: Callable[[str], None]) -> None:
        for component in reversed(self.components()):
            if component.running():
                report(f"stopping {component.name}")
            component.stop()

    @property
    def maintenance_marker(self) -> Path:
        """Present while a backup, restore or upgrade has the services stopped: `ebs up`'s
        watch then does not take the rest down (stack/maintenance.py)."""
        return self.run_dir / "maintenance"

    def pause(self, report: Callable[[str], None]) -> list[str]:
        """Stop every running part but PostgreSQL, the last started first; returns their
        names for :meth:`resume`."""
        stopped = []
        for component in reversed(self.components()):
            if component.name != "postgresql" and component.running():
                report(f"stopping {component.name}")
                component.stop()
                stopped.append(component.name)
        return stopped

    def resume(self, names: list[str], report: Callable[[str], None]) -> None:
        """Start the parts :meth:`pause` stopped, in the order `ebs up` starts them."""
        for component in self.components():
            if component.name in names:
                report(f"starting {component.name}")
                component.start()

    def status(self) -> list[tuple[str, bool, str]]:
        return [(c.name, c.running(), c.address) for c in self.components()]

    def watch(self, stop: threading.Event, report: Callable[[str], None],
              every: float = 5.0) -> None:
        """Return when ``stop`` is set or a part has stopped (reported with where its
        log is); the caller then takes the rest down."""
        while not stop.wait(every):
            if self.maintenance_marker.exists():
                continue
            dead = [name for name, alive, _ in self.status() if not alive]
            if dead:
                report(f"{', '.join(dead)} stopped unexpectedly; see {self.log_dir}")
                return
