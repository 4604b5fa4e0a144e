"""Worker tasks sent from the web app by name, never by import.

The web app does not import ``worker/`` (DESIGN.md): it holds a Celery instance of its own
that only publishes, configured from ``billing.settings`` with the worker's broker and
serializer, and names the task. A task is sent once the change it reports is committed:
a worker acting on a transaction that later rolled back would push a NAS into a state the
database never had.
"""

from __future__ import annotations

import contextlib
import logging

from celery import Celery
from flask import current_app
from sqlalchemy import event

from billing import settings as settings_mod

KICK_SESSION = "ebs.kick_session"  # (session_id): Disconnect-Request
CHANGE_SPEED = "ebs.change_speed"  # (session_id): CoA with the tariff's speed now
NAS_CHANGED = "ebs.nas_changed"  # (nas_id): FreeRADIUS reloads its clients
FLOW_CHANGED = "ebs.flow_changed"  # (): nfacctd's maps and plugins follow the database

_PENDING = "ebs_pending_tasks"
log = logging.getLogger(__name__)


class QueueUnavailable(Exception):
    """The broker refused or could not be reached; nothing was sent."""


def make_client(settings) -> Celery:
    client = Celery("ebs-web", set_as_current=False)
    client.conf.update(
        broker_url=settings_mod.redis_url(settings),
        task_serializer="json",
        accept_content=["json"],
        broker_transport_options={"visibility_timeout": 3600},  # as the worker's
        broker_connection_timeout=3,
    )
    return client


def client() -> Celery:
    """The app's publisher, made on first use (gunicorn forks before any request)."""
    extensions = current_app.extensions
    if "ebs_celery" not in extensions:
        extensions["ebs_celery"] = make_client(current_app.config["EBS_SETTINGS"])
    return extensions["ebs_celery"]


def send(name: str, *args) -> None:
    """Publish one task now; raises QueueUnavailable when the broker cannot take it."""
    try:
        client().send_task(name, args=list(args), retry_policy={"max_retries": 2})
    except Exception as exc:  # kombu's connection errors have no common public base
        log.warning("could not send %s%r: %s", name, args, exc)
        raise QueueUnavailable(str(exc)) from exc


def _real(session):
    """The Session behind Flask-SQLAlchemy's scoped session (events bind to sessions)."""
    registry = getattr(session, "registry", None)
    return registry() if registry is not None else session


def _send_quietly(name: str, args: tuple) -> None:
    # Logged by send; the worker's periodic tasks catch up with what was missed.
    with contextlib.suppress(QueueUnavailable):
        send(name, *args)


def _flush(session) -> None:
    for name, args in session.info.pop(_PENDING, []):
        _send_quietly(name, args)


def _drop(session) -> None:
    session.info.pop(_PENDING, None)


def send_after_commit(session, name: str, *args) -> None:
    """Send when the session's open transaction commits (dropped if it rolls back); at
    once when no transaction is open, e.g. in FAB's post_* hooks, which run after the
    commit. A broker failure after the commit is logged, never raised into the request."""
    session = _real(session)
    if not session.in_transaction():
        _send_quietly(name, args)
        return
    if not event.contains(session, "after_commit", _flush):
        event.listen(session, "after_commit", _flush)
        event.listen(session, "after_rollback", _drop)
    session.info.setdefault(_PENDING, []).append((name, args))
