"""The web app's extensions, in one place.

Flask-SQLAlchemy can serve several apps (the tests build one per database), so it is a
module singleton. Flask-AppBuilder keeps its views and menu on the instance, so
:func:`make_appbuilder` gives each app its own; so does :func:`make_csrf`, because
CSRFProtect keeps every blueprint it exempts (FAB exempts each REST API's), and one
shared instance would keep every app it ever served alive through them.
"""

from __future__ import annotations

from flask import Flask
from flask_appbuilder import AppBuilder
from flask_appbuilder.utils.legacy import get_sqla_class
from flask_wtf.csrf import CSRFProtect

from webapp.security import EbsSecurityManager
from webapp.views.dashboard import DashboardView

db = get_sqla_class()()


def make_csrf(app: Flask) -> CSRFProtect:
    """CSRF protection for ``app`` alone; found later as ``app.extensions["csrf"]``."""
    return CSRFProtect(app)


def make_appbuilder(app: Flask) -> AppBuilder:
    """Bind Flask-AppBuilder to ``app``; needs an app context (FAB reads current_app)."""
    return AppBuilder(
        app,
        db.session,
        indexview=DashboardView,
        security_manager_class=EbsSecurityManager,
        base_template="ebs_base.html",
    )
