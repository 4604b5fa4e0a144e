"""Where an installed system keeps things, and who runs what: one place for the names the
install's steps, its units and its check share."""

from __future__ import annotations

import os
from pathlib import Path

OPT = Path("/opt/ebs")
VENV = OPT / "venv"  # made by scripts/install.sh with Debian's /usr/bin/python3
SRC = OPT / "src"  # the code, installed into VENV in editable mode (templates, sql/)
ETC = Path("/etc/ebs")
SETTINGS = ETC / "settings_local.py"
TLS_DIR = ETC / "tls"
STATE_DIR = Path("/var/lib/ebs")
SYSTEMD_DIR = Path("/etc/systemd/system")

# The web app, the Celery worker and beat, and nfacctd run as SERVICE_USER; FreeRADIUS,
# its accounting drain and the database watch as Debian's freerad (they share its files).
SERVICE_USER = "ebs"
RADIUS_USER = "freerad"
RADIUS_UNIT = "freeradius.service"

# Ports of an installed system (settings_local.py may change them; the steps read them
# from the settings, not from here).
WEB_PORT = 8000  # gunicorn on 127.0.0.1, behind nginx


def systemd_wanted() -> bool:
    """False under ``EBS_INSTALL_NO_SYSTEMD=1`` (a chroot, a container without systemd):
    the units are written and checked but nothing is started, enabled or restarted."""
    return os.environ.get("EBS_INSTALL_NO_SYSTEMD", "") not in ("1", "yes", "true")
