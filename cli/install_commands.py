"""``ebs install``: this checkout as system services on Debian 12 (stack/install/)."""

from __future__ import annotations

import subprocess

import click
import psycopg

from stack.install import os_release
from stack.install.run import InstallError, install
from stack.servers.base import ServerError


@click.command("install")
def install_command() -> None:
    """Install or bring up to date the production system on this Debian 12 host: the
    accounts, /etc/ebs/settings_local.py, the generated secrets, PostgreSQL's roles and
    schema, Redis's password, FreeRADIUS, the systemd units and nginx with TLS. Run by
    scripts/install.sh after the packages and /opt/ebs/venv; safe to run again (it then
    says that nothing changed). EBS_INSTALL_NO_SYSTEMD=1 starts, enables and restarts
    nothing (a chroot)."""
    try:
        install(lambda line: click.echo(f"install: {line}"))
    except (os_release.UnsupportedSystem, InstallError, ServerError, psycopg.Error,
            RuntimeError, subprocess.CalledProcessError) as exc:
        raise click.ClickException(str(exc)) from None
