"""Refusals a person meets (403, 404) as pages of the app: its layout and menu, the
reason in the user's language and a way back to the start page, instead of the bare
pages of Flask. The REST API keeps its own JSON answers (webapp.api)."""

from __future__ import annotations

from flask import render_template, request
from flask_babel import lazy_gettext as _l
from werkzeug.exceptions import HTTPException

MESSAGES = {
    403: (_l("Access denied"), _l("Your role does not allow this page or action.")),
    404: (_l("Page not found"), _l("There is no such page, or what it showed no longer "
                                   "exists.")),
}


def install(app, appbuilder) -> None:
    """Register the app's own pages for the statuses in MESSAGES."""

    def page(error: HTTPException):
        if request.path.startswith("/api/"):
            return error
        title, reason = MESSAGES[error.code]
        return render_template("error.html", appbuilder=appbuilder,
                               base_template=appbuilder.base_template, status=error.code,
                               title=title, reason=reason), error.code

    for status in MESSAGES:
        app.register_error_handler(status, page)
