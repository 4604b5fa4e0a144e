"""The subscriber cabinet: the same app as the admin, for subscribers, who are not staff.

Its pages live under ``/cabinet`` with their own session cookie
(webapp/cabinet/sessions.py); every action calls the same ``billing`` function the admin,
the cashier and the API call, so the rules are the same wherever a subscriber or an
operator acts.
"""

from __future__ import annotations

import importlib
import pkgutil

from flask import Flask, g
from flask_babel import get_locale

from webapp.cabinet.sessions import PathSessionInterface


def install(app: Flask, appbuilder, settings) -> None:
    """Register the cabinet's pages, its session cookie and its login limits."""
    from webapp.cabinet import login
    from webapp.cabinet.blueprint import MENU, bp

    # Each page module of this package adds its routes to the blueprint as it is imported.
    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")

    app.session_interface = PathSessionInterface()
    app.register_blueprint(bp)
    app.context_processor(lambda: {"cabinet_menu": MENU,
                                   "cabinet_language": str(get_locale() or "ru"),
                                   "subscriber": g.get("cabinet_subscriber")})
    limiter = appbuilder.sm.limiter
    from webapp import login_guard

    # The staff login's two limits (per source address, per login name; only failures
    # count) around the cabinet's login form.
    per_address = limiter.shared_limit(
        settings.WEB_LOGIN_RATE_LIMIT, scope="ebs-cabinet-address", methods=["post"],
        deduct_when=login_guard.failed_attempt)
    per_login = limiter.shared_limit(
        settings.WEB_LOGIN_RATE_LIMIT_PER_LOGIN, scope="ebs-cabinet-login", methods=["post"],
        key_func=login_guard.login_name, deduct_when=login_guard.failed_attempt)
    app.view_functions["cabinet.login"] = per_login(per_address(login.login))
