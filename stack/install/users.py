"""System accounts: ``ebs`` for the web app, the Celery worker and beat and nfacctd;
FreeRADIUS keeps Debian's ``freerad`` (its package makes it), which also runs the
accounting drain and the database watch beside it, since they share its files."""

from __future__ import annotations

import os
import pwd
import subprocess
import sys
import traceback
from collections.abc import Callable

from stack.install.files import Changes
from stack.install.layout import RADIUS_USER, SERVICE_USER


class MissingAccount(RuntimeError):
    """An account a Debian package should have made is not there."""


class AccountStepError(RuntimeError):
    """A step run as another account failed; its traceback went to stderr."""


def ensure_system_user(name: str, changes: Changes) -> None:
    try:
        pwd.getpwnam(name)
    except KeyError:
        subprocess.run(["useradd", "--system", "--user-group", "--home-dir", "/nonexistent",
                        "--no-create-home", "--shell", "/usr/sbin/nologin", name], check=True)
        changes.add(f"system user {name} created")


def ensure_users(changes: Changes) -> None:
    ensure_system_user(SERVICE_USER, changes)
    try:
        pwd.getpwnam(RADIUS_USER)
    except KeyError:
        raise MissingAccount(f"no {RADIUS_USER} account: is Debian's freeradius package "
                             "installed (scripts/install.sh installs it)?") from None


def as_account(account: str, work: Callable[[], object]) -> None:
    """Run ``work`` in a child process as ``account``: the cluster's peer login as
    ``postgres``, a configuration check as the account that will read it."""
    entry = pwd.getpwnam(account)
    pid = os.fork()
    if pid == 0:  # the child: drop to the account, do the work, never return
        code = 1
        try:
            os.setgroups([])
            os.setgid(entry.pw_gid)
            os.setuid(entry.pw_uid)
            work()
            code = 0
        except BaseException:
            traceback.print_exc(file=sys.stderr)
        finally:
            sys.stderr.flush()
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise AccountStepError(f"the step run as {account} failed (its error is above)")
