"""Disconnect a session online: the audit row commits first, then the worker is asked by
task name (``ebs.kick_session``); the NAS is reached only by the worker."""

from __future__ import annotations

from flask_appbuilder.api import expose, protect, safe
from flask_appbuilder.security.decorators import permission_name
from sqlalchemy import text

from webapp import audit, tasks_client
from webapp.api.base import EbsBaseApi

_SESSION = text(
    "SELECT acct_unique_id, username, nas_ip, account_id FROM sessions_open"
    " WHERE acct_unique_id = :id"
)


class SessionActionApi(EbsBaseApi):
    resource_name = "session"
    openapi_spec_tag = "Session actions"

    @expose("/<session_id>/kick", methods=["POST"])
    @protect()
    @safe
    @permission_name("kick")
    def kick(self, session_id: str):
        """Disconnect a session (Disconnect-Request through the worker)
        ---
        post:
          parameters:
          - in: path
            name: session_id
            description: The session's acct_unique_id
            schema:
              type: string
          responses:
            202:
              description: The worker was asked to disconnect the session
            401:
              $ref: '#/components/responses/401'
            403:
              $ref: '#/components/responses/403'
            404:
              $ref: '#/components/responses/404'
            503:
              description: The task queue is unavailable; the request is recorded
        """
        session = self.db().execute(_SESSION, {"id": session_id}).mappings().first()
        if session is None:
            return self.response(404, message=f"Session {session_id} is not online.")
        audit.record_action(self.db(), "kick", "sessions_open", session_id, dict(session))
        self.db().commit()
        try:
            tasks_client.send(tasks_client.KICK_SESSION, session_id)
        except tasks_client.QueueUnavailable:
            return self.response(503, message="The task queue is unavailable; try again.")
        return self.response(202, message="Disconnect requested.", session_id=session_id)
