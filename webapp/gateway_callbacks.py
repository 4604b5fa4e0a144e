"""Where payment providers call us: ExpertBilling 1.5's callback URLs, one per backend.

Each request is stored as it arrived (``gateway_notifications``: body, headers, peer,
believed source, time) and committed before anything acts on it, so a forged, broken or
crashing notification stays for audit. Then: a backend not in GETPAID_BACKENDS, or a
source outside its ``allowed_ip``, is refused in the provider's words; otherwise the
backend's module decides and answers, and the outcome commits together with the payment
it made. A failure on our side rolls that back and answers the provider's "temporary
error", which providers retry — the stored notification and the retry's unique key make
the retry safe.

The routes carry no session, no CSRF token and no staff login: providers call them. The
source address is the connection's unless it comes from a trusted proxy
(WEB_TRUSTED_PROXIES, the staff networks' rule in webapp/staff_networks.py).
"""

from __future__ import annotations

import logging
from dataclasses import replace
from types import ModuleType

from flask import Blueprint, Flask, Response, current_app, request
from psycopg.types.json import Jsonb

from billing import gateways
from billing.gateways.base import (
    Answer,
    GatewayConfigError,
    Notification,
    backend_config,
    source_allowed,
)
from webapp.extensions import db
from webapp.staff_networks import client_address
from webapp.views.ledger import raw_connection

log = logging.getLogger(__name__)
BODY_LIMIT = 64 * 1024  # no provider's notification comes near it
_HIDDEN_HEADERS = {"cookie", "authorization"}



def install(app: Flask) -> None:
    blueprint = Blueprint("gateways", __name__)
    app.extensions["csrf"].exempt(blueprint)
    for module in gateways.BACKENDS.values():
        for path in module.PATHS:
            blueprint.add_url_rule(path, endpoint=module.NAME.replace(".", "_"),
                                   view_func=_view(module), methods=list(module.METHODS),
                                   strict_slashes=False)
    app.register_blueprint(blueprint)


def _view(module: ModuleType):
    def receive() -> Response:
        return _receive(module)
    receive.__name__ = f"receive_{module.NAME.replace('.', '_')}"
    return receive


def _receive(module: ModuleType) -> Response:
    body = request.stream.read(BODY_LIMIT + 1)
    note = Notification(
        backend=module.NAME, method=request.method, path=request.path,
        query=request.query_string.decode("latin-1"), body=body[:BODY_LIMIT],
        headers={k: v for k, v in request.headers.items() if k.lower() not in _HIDDEN_HEADERS},
        source=client_address(), content_type=request.content_type or "")
    # A commit hands the connection back to the pool: each step takes it anew.
    note = replace(note, id=_store(raw_connection(db.session), note, request.remote_addr))
    db.session.commit()
    answer = _decide(module, note, oversized=len(body) > BODY_LIMIT)
    try:
        _record(raw_connection(db.session), note.id, answer)
        db.session.commit()
    except Exception:
        db.session.rollback()
        log.exception("%s: notification %s: the outcome could not be stored",
                      module.NAME, note.id)
        answer = module.failed(note)
    return Response(answer.body.encode(answer.encoding), status=answer.status,
                    content_type=answer.content_type)


def _decide(module: ModuleType, note: Notification, oversized: bool) -> Answer:
    settings = current_app.config["EBS_SETTINGS"]
    if module.NAME not in settings.GETPAID_BACKENDS:
        log.warning("%s: notification %s refused: the backend is not in GETPAID_BACKENDS",
                    module.NAME, note.id)
        return module.refused(note, "forbidden")
    try:
        config = backend_config(module.NAME, settings)
    except GatewayConfigError as exc:
        log.error("%s: notification %s not handled: %s", module.NAME, note.id, exc)
        return module.failed(note)
    if not source_allowed(config, note.source, module.SOURCE_ONLY):
        log.warning("%s: notification %s refused: source %s is not in allowed_ip%s",
                    module.NAME, note.id, note.source,
                    "" if config.allowed is not None else " (none is set)")
        return module.refused(note, "forbidden")
    if oversized:
        log.warning("%s: notification %s refused: body above %d bytes", module.NAME,
                    note.id, BODY_LIMIT)
        return module.refused(note, "bad_format")
    try:
        answer = module.handle(raw_connection(db.session), note, config)
    except GatewayConfigError as exc:
        db.session.rollback()
        log.error("%s: notification %s not handled: %s", module.NAME, note.id, exc)
        return module.failed(note)
    except Exception:
        db.session.rollback()
        log.exception("%s: notification %s failed", module.NAME, note.id)
        return module.failed(note)
    if answer.outcome.startswith("refused:"):
        log.warning("%s: notification %s %s", module.NAME, note.id, answer.outcome)
    return answer


def _store(conn, note: Notification, peer: str | None) -> int:
    return conn.execute(
        """INSERT INTO gateway_notifications
               (backend, peer, source, method, path, query, headers, body)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s) RETURNING id""",
        (note.backend, peer, note.source, note.method, note.path, note.query,
         Jsonb(dict(note.headers)), note.body)).fetchone()[0]


def _record(conn, note_id: int, answer: Answer) -> None:
    conn.execute(
        "UPDATE gateway_notifications SET outcome = %s, answer_status = %s, answer = %s,"
        " payment_id = %s WHERE id = %s",
        (answer.outcome, answer.status, answer.body[:4000], answer.payment_id, note_id))
