"""``/etc/ebs/settings_local.py``: written once with an installed system's places and
ports; after that it is the operator's file and a second install leaves it as it is.

It holds no secret (they are files under ``STATE_DIR/secrets``), so every service
account may read it.
"""

from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace

from billing import settings as settings_mod
from stack.install.files import Changes, ensure_dir, ensure_file
from stack.install.layout import ETC, SETTINGS, STATE_DIR, WEB_PORT

TEXT = f'''"""Settings of this installed system (docs/settings.md lists every one).

Written by `ebs install`, which never overwrites it: edit it, then run `ebs install`
again to render the services' configurations from it.
"""

STATE_DIR = "{STATE_DIR}"

# Debian's PostgreSQL 15 cluster and Redis.
DB_HOST = "127.0.0.1"
DB_PORT = 5432
REDIS_HOST = "127.0.0.1"
REDIS_PORT = 6379

# FreeRADIUS (Debian's freeradius.service) and nfacctd listen for the NASes on every
# address; set the NAS-facing address to narrow that.
RADIUS_LISTEN_IP = "0.0.0.0"
RADIUS_AUTH_PORT = 1812
RADIUS_ACCT_PORT = 1813
NETFLOW_LISTEN_IP = "0.0.0.0"
NETFLOW_PORT = 2055
# A NAS change restarts FreeRADIUS, new collector plugins nfacctd, through systemd.
RADIUS_SERVICE = "freeradius.service"
COLLECTOR_SERVICE = "ebs-nfacctd.service"
# `ebs status` and `ebs upgrade` act on the units; the daily backup is ebs-backup.timer.
SERVICE_MANAGER = "systemd"

# gunicorn on loopback; nginx answers the world on 80 (a redirect) and 443.
WEB_LISTEN_IP = "127.0.0.1"
WEB_PORT = {WEB_PORT}
WEB_HTTPS = True
WEB_TRUSTED_PROXIES = ["127.0.0.1"]
'''


def ensure_settings(changes: Changes) -> SimpleNamespace:
    """Write the file when missing; the settings in force (that file's)."""
    ensure_dir(ETC, 0o755, "root", "root", changes)
    ensure_file(SETTINGS, TEXT, 0o644, "root", "root", changes, keep=True)
    return load()


def load(path: Path = SETTINGS) -> SimpleNamespace:
    return settings_mod.load({**os.environ, "EBS_SETTINGS": str(path)})
