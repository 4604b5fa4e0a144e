"""Where the reports, the dashboard and the traffic statistics read: the replica when one
is configured and current, else the primary.

Those pages only read, and they read the most (sums over months of buckets, series per
hour), so with ``DB_REPLICA_HOST`` set their statements go to a streaming standby
(stack/replica.py) and leave the primary to the cashiers, the API and the billing. Each
view asks :func:`report_session` for its session, never an engine of its own, so the
choice is made here once per request:

* the replica is reached as ``DB_WEB_USER`` (a standby has the primary's roles), every
  transaction read-only and named ``ebs-web-reports`` in ``pg_stat_activity``;
* before the page's first statement one probe asks the standby whether it is one, is
  streaming, and how far its replay is behind (the age of the last replayed commit while
  WAL received waits to be replayed; nothing waiting is no lag). A replica that does
  not answer, was promoted, does not stream or lags beyond ``DB_REPLICA_MAX_LAG_SECONDS``
  is passed over: the page reads the primary, as it would with no replica at all, and
  the web log says so once per change (a warning when reports leave the replica, a note
  when they return), not on every page. A log line rather than a banner: the figures
  staff see are then the primary's, current and right, so there is nothing for them to
  act on, while the operator who can mend the replica watches the log (and the alerts
  built on it);
* after a failed connection the replica is left alone for ``DB_REPLICA_RETRY_SECONDS``,
  so a replica host that is down costs no page a connection timeout each.

Pages that show what someone has just done stay on the primary (the cashier's shift,
the account's balance and ledger): a replica may be a moment behind.
"""

from __future__ import annotations

import logging
import threading
import time
from types import SimpleNamespace

from flask import after_this_request, current_app, g
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from billing import settings as settings_mod

log = logging.getLogger(__name__)

APPLICATION_NAME = "ebs-web-reports"
CONNECT_TIMEOUT_SECONDS = 2

# Is it a standby, does it stream (a WAL receiver runs: any role sees its pid), and how
# many seconds behind is its replay (0 when all it received is replayed).
_PROBE = text(
    """
    SELECT pg_is_in_recovery() AS standby,
           EXISTS (SELECT FROM pg_stat_wal_receiver) AS streaming,
           CASE WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
                ELSE coalesce(extract(epoch FROM clock_timestamp()
                                      - pg_last_xact_replay_timestamp()), 0)
           END::float AS lag_seconds
    """
)


def replica_url(settings: SimpleNamespace) -> URL:
    """The replica as the web app's role (DB_WEB_USER and its password file)."""
    user, password = settings_mod.database_role(settings, "web")
    return URL.create(
        "postgresql+psycopg", username=user, password=password or None,
        host=settings.DB_REPLICA_HOST, port=settings_mod.replica_port(settings),
        database=settings.DB_NAME, query={"application_name": APPLICATION_NAME})


class ReplicaRoute:
    """One app's replica: its engine (made at the first report, in the serving process:
    gunicorn forks after the app is built) and whether reports read it now."""

    def __init__(self, settings: SimpleNamespace) -> None:
        self.settings = settings
        self.where = f"{settings.DB_REPLICA_HOST}:{settings_mod.replica_port(settings)}"
        self.max_lag = float(settings.DB_REPLICA_MAX_LAG_SECONDS)
        self.retry_seconds = float(settings.DB_REPLICA_RETRY_SECONDS)
        self._engine: Engine | None = None
        self._lock = threading.Lock()
        self._retry_at = 0.0
        self.on_replica: bool | None = None  # None until the first report

    @property
    def engine(self) -> Engine:
        with self._lock:
            if self._engine is None:
                self._engine = create_engine(
                    replica_url(self.settings), pool_pre_ping=True, pool_size=2,
                    connect_args={
                        "connect_timeout": CONNECT_TIMEOUT_SECONDS,
                        # Read-only whatever a view runs; no JIT, as on the primary.
                        "options": "-c default_transaction_read_only=on -c jit=off"})
            return self._engine

    def check(self) -> tuple[Session | None, float | None, str]:
        """Probe the replica: a session on it when it may serve reports now (else None),
        its replay lag in seconds when it answered, and why it may not serve ('' when
        it may). Within the retry window after a failed connection it is not asked."""
        if time.monotonic() < self._retry_at:
            return None, None, "did not answer a moment ago"
        session = Session(bind=self.engine)
        try:
            probe = session.execute(_PROBE).mappings().one()
        except DBAPIError as exc:
            session.close()
            self._retry_at = time.monotonic() + self.retry_seconds
            return None, None, f"does not answer ({_first_line(exc)})"
        reason = self._unfit(probe)
        if reason:
            session.close()
            return None, probe["lag_seconds"], reason
        return session, probe["lag_seconds"], ""

    def session(self) -> Session | None:
        """A session on the replica when it may serve reports now, else None (and the
        reason logged when that changes)."""
        session, _lag, reason = self.check()
        if session is None:
            self._leave(reason)
            return None
        if self.on_replica is not True:
            log.info("reports read the replica at %s", self.where)
        self.on_replica = True
        return session

    def _unfit(self, probe) -> str:
        if not probe["standby"]:
            return "is not a standby (promoted?)"
        if not probe["streaming"]:
            return "is not streaming from the primary"
        if probe["lag_seconds"] > self.max_lag:
            return (f"replays {probe['lag_seconds']:.1f} s behind "
                    f"(DB_REPLICA_MAX_LAG_SECONDS {self.max_lag:g})")
        return ""

    def _leave(self, reason: str) -> None:
        if self.on_replica is not False:
            log.warning("reports read the primary: the replica at %s %s", self.where, reason)
        self.on_replica = False

    def dispose(self) -> None:
        if self._engine is not None:
            self._engine.dispose()


def _first_line(exc: Exception) -> str:
    text_ = str(getattr(exc, "orig", exc)).strip()
    return text_.splitlines()[0] if text_ else exc.__class__.__name__


def route(app=None) -> ReplicaRoute | None:
    """The app's replica route, made at first use; None without DB_REPLICA_HOST."""
    app = app or current_app
    found = app.extensions.get("ebs_replica", False)
    if found is False:
        settings = app.config["EBS_SETTINGS"]
        found = ReplicaRoute(settings) if settings.DB_REPLICA_HOST else None
        found = app.extensions.setdefault("ebs_replica", found)
    return found


def figures(app=None) -> tuple[bool, float | None] | None:
    """For the monitoring: whether the replica may serve reports now and its replay lag
    in seconds (None when it did not answer); None without a replica configured."""
    replica = route(app)
    if replica is None:
        return None
    session, lag, _reason = replica.check()
    if session is not None:
        session.close()
    return session is not None, lag


def report_session() -> Session:
    """The session a report, the dashboard or a traffic statistics page reads with: the
    replica's (read-only, closed at the end of the request) when it may serve, else the
    request's own session on the primary. Chosen once per request."""
    # Here, not at the top: webapp.extensions imports the views, which import this.
    from webapp.extensions import db

    if "ebs_report_session" in g:
        return g.ebs_report_session
    replica = route()
    session = replica.session() if replica is not None else None
    chosen = session if session is not None else db.session

    @after_this_request
    def done(response):
        g.pop("ebs_report_session", None)  # a test may keep one app context for many
        if session is not None:
            session.close()
        return response

    g.ebs_report_session = chosen
    return chosen
