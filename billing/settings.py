"""Settings: defaults here, overridden by an operator's ``settings_local.py`` and ``EBS_*``.

The override file is plain Python, as in ExpertBilling, so an operator's existing file
(``GETPAID_BACKENDS``, ``SENDSMS_BACKENDS`` …) keeps working. It is found through the
``EBS_SETTINGS`` environment variable, else ``./settings_local.py``. Secrets may instead
come from the environment: ``EBS_DB_PASSWORD`` overrides ``DB_PASSWORD`` and so on for
every upper-case name defined below.
"""

from __future__ import annotations

import os
import runpy
from pathlib import Path
from types import SimpleNamespace
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent

DEFAULTS: dict[str, Any] = {
    # Where the local stack keeps its data, sockets, logs and pid files.
    "STATE_DIR": str(PROJECT_ROOT / "var"),
    # The ISP's timezone: calendar maths (months, days, access windows) happen in it.
    "TIME_ZONE": "Europe/Moscow",
    "CURRENCY": "RUB",
    # PostgreSQL. An empty DB_HOST means the Unix socket under STATE_DIR/run.
    "DB_HOST": "127.0.0.1",
    "DB_PORT": 55432,
    "DB_NAME": "ebs",
    "DB_USER": "ebs",
    "DB_PASSWORD": "",
    "REDIS_HOST": "127.0.0.1",
    "REDIS_PORT": 56379,
    "REDIS_DB": 0,
    # The local stack listens on loopback; a production box sets its NAS-facing address.
    "RADIUS_LISTEN_IP": "127.0.0.1",
    "RADIUS_AUTH_PORT": 11812,
    "RADIUS_ACCT_PORT": 11813,
    # How accounting reaches PostgreSQL. "spool": FreeRADIUS writes each packet to the
    # spool file and answers, the follower (`ebs acct drain --follow`, started by
    # `ebs up`) applies it in ordered batches with durable commits: several times
    # rlm_sql's rate, a lag of a fraction of a second. "live": rlm_sql applies each
    # packet (a durable commit) before answering, the spool only when that fails.
    "RADIUS_ACCT_MODE": "spool",
    "NETFLOW_LISTEN_IP": "127.0.0.1",
    "NETFLOW_PORT": 12055,
    "WEB_PORT": 8080,
    # Days to keep the record of CoA and Disconnect requests (coa_requests); the daily
    # ebs.prune_coa deletes older finished ones, never the latest of a live session.
    "COA_RETENTION_DAYS": 90,
    # The key that encrypts CHAP cleartext passwords at rest; kept outside the database so
    # a dump alone reveals nothing. EBS_CREDENTIALS_KEY (64 hex digits) overrides the file.
    "CREDENTIALS_KEY_FILE": str(PROJECT_ROOT / "var" / "secrets" / "credentials.key"),
    "CREDENTIALS_KEY": "",
    # Payment gateways and SMS, names as in ExpertBilling's settings.
    "GETPAID_BACKENDS": [],
    "GETPAID_BACKENDS_SETTINGS": {},
    "SENDSMS_BACKENDS": [],
    "SENDSMS_BACKENDS_SETTINGS": {},
    "SENDSMS_DEFAULT_BACKEND": None,
    "SENDSMS_IF_BALLANCE_AMOUNT": None,
}

_INT_SETTINGS = {k for k, v in DEFAULTS.items() if isinstance(v, int) and not isinstance(v, bool)}


class SettingsError(ValueError):
    """A settings file or variable that cannot be used; the message names it."""


def load(environ: dict[str, str] | None = None) -> SimpleNamespace:
    """Merge defaults, the override file and the environment into one namespace."""
    env = os.environ if environ is None else environ
    values = dict(DEFAULTS)
    path = Path(env.get("EBS_SETTINGS", "settings_local.py"))
    if path.exists():
        try:
            found = runpy.run_path(str(path))
        except Exception as exc:  # the operator's file: report which one and why
            raise SettingsError(f"cannot load settings file {path}: {exc}") from exc
        values.update({k: v for k, v in found.items() if k.isupper()})
    elif "EBS_SETTINGS" in env:
        raise SettingsError(f"settings file {path} (from EBS_SETTINGS) does not exist")
    for name in list(values):
        raw = env.get(f"EBS_{name}")
        if raw is None:
            continue
        if name in _INT_SETTINGS:
            try:
                values[name] = int(raw)
            except ValueError:
                raise SettingsError(f"EBS_{name} must be an integer, got {raw!r}") from None
        else:
            values[name] = raw
    return SimpleNamespace(**values)


def database_conninfo(settings: SimpleNamespace, dbname: str | None = None) -> str:
    """A libpq connection string for the configured database."""
    from psycopg.conninfo import make_conninfo

    host = settings.DB_HOST or str(Path(settings.STATE_DIR) / "run")
    params = {
        "host": host,
        "port": settings.DB_PORT,
        "dbname": dbname or settings.DB_NAME,
        "user": settings.DB_USER,
        "application_name": "ebs",
    }
    if settings.DB_PASSWORD:
        params["password"] = settings.DB_PASSWORD
    return make_conninfo(**params)


def redis_url(settings: SimpleNamespace) -> str:
    return f"redis://{settings.REDIS_HOST}:{settings.REDIS_PORT}/{settings.REDIS_DB}"
