"""The web app's extensions, in one place.

Flask-SQLAlchemy and CSRF protection can serve several apps (the tests build one per
database), so they are module singletons. Flask-AppBuilder keeps its views and menu on the
instance, so :func:`make_appbuilder` gives each app its own.
"""

from __future__ import annotations

from flask import Flask
from flask_appbuilder import AppBuilder
from flask_appbuilder.utils.legacy import get_sqla_class
from flask_wtf.csrf import CSRFProtect

from webapp.security import EbsSecurityManager
from webapp.views.dashboard import DashboardView

db = get_sqla_class()()
csrf = CSRFProtect()


def make_appbuilder(app: Flask) -> AppBuilder:
    """Bind Flask-AppBuilder to ``app``; needs an app context (FAB reads current_app)."""
    return AppBuilder(
        app,
        db.session,
        indexview=DashboardView,
        security_manager_class=EbsSecurityManager,
        base_template="ebs_base.html",
    )
