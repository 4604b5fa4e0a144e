"""Our systemd units, made from the command lines ``ebs up`` runs (stack/local.py), so an
installed system runs each part exactly as the tests do: the Celery worker, exactly one
beat (a single unit; celery-redbeat's lock in Redis keeps it one even across hosts), the
web app under gunicorn on loopback, the accounting drain and the database watch beside
FreeRADIUS (as ``freerad``, whose files they share), nfacctd, and the path units through
which the worker asks root for what its account may not do (stack/systemd_requests.py):
a NAS change to reach FreeRADIUS, nfacctd restarted for new plugins. Each restarts when it dies
and logs to the journal (``journalctl -u ebs-worker``). The daily backup is a timer's
oneshot run as root, who may read every secret the archive keeps (the beat's
``ebs.backup`` is the local stack's).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

from stack import systemd_requests
from stack.install.files import Changes, ensure_dir, ensure_file
from stack.install.layout import (
    RADIUS_UNIT,
    RADIUS_USER,
    SERVICE_USER,
    SETTINGS,
    SYSTEMD_DIR,
    VENV,
    systemd_wanted,
)
from stack.install.systemd import daemon_reload, enable_now, restart
from stack.local import Stack
from stack.servers.process import ManagedProcess

_PLAIN = re.compile(r"^[A-Za-z0-9_@%+=:,./()-]+$")
AFTER_STORES = "postgresql.service redis-server.service"


def quote(arg: str) -> str:
    """One argument of an Exec line: systemd's specifiers (%) and variables ($) literal."""
    arg = arg.replace("%", "%%").replace("$", "$$")
    if _PLAIN.match(arg):
        return arg
    return '"' + arg.replace("\\", "\\\\").replace('"', '\\"') + '"'


def exec_line(argv: list[str]) -> str:
    return " ".join(quote(a) for a in argv)


@dataclass(frozen=True)
class Unit:
    name: str
    text: str
    start: bool = True  # enabled and started (a oneshot run by its path unit is not)


def service(name: str, description: str, process: ManagedProcess, user: str, *,
            after: str = AFTER_STORES, kind: str = "simple", extra: str = "") -> Unit:
    """A long-running part: restarted whenever it dies, enabled at boot. A oneshot (run
    by its path unit) is neither."""
    env = {**process.env, "EBS_SETTINGS": str(SETTINGS)}
    environment = "\n".join(f"Environment={quote(f'{k}={v}')}" for k, v in sorted(env.items()))
    oneshot = kind == "oneshot"
    policy = "" if oneshot else "Restart=always\nRestartSec=5\n"
    install = "" if oneshot else "\n[Install]\nWantedBy=multi-user.target\n"
    return Unit(name, f"""# Written by `ebs install` from the command `ebs up` runs.
[Unit]
Description={description}
After=network-online.target {after}
Wants=network-online.target

[Service]
Type={kind}
User={user}
Group={user}
WorkingDirectory={process.cwd}
{environment}
ExecStart={exec_line(process.argv)}
{policy}SyslogIdentifier={name.removesuffix('.service')}
{extra}{install}""", start=not oneshot)


def units(settings: SimpleNamespace) -> list[Unit]:
    stack = Stack(settings)
    ebs = str(VENV / "bin" / "ebs")
    web = stack.web.process
    collector = ManagedProcess("nfacctd", [ebs, "flow", "start"], stack.run_dir,
                               stack.log_dir, cwd=web.cwd, env=web.env)
    sync = ManagedProcess("radius-clients", [ebs, "radius", "sync-clients"], stack.run_dir,
                          stack.log_dir, cwd=web.cwd, env=web.env)
    found = [
        service("ebs-web.service", "EBS billing: the web app (gunicorn, behind nginx)", web,
                SERVICE_USER),
        service("ebs-worker.service", "EBS billing: the Celery worker", stack.worker,
                SERVICE_USER),
        service("ebs-beat.service", "EBS billing: the Celery beat (one schedule)",
                stack.beat, SERVICE_USER),
        service("ebs-nfacctd.service", "EBS billing: the NetFlow collector (nfacctd)",
                collector, SERVICE_USER, kind="forking",
                extra=f"PIDFile={stack.nfacctd.pidfile}\n"
                      f"ExecStop={exec_line([ebs, 'flow', 'stop'])}\nTimeoutStopSec=60\n"),
        service("ebs-db-watch.service",
                "EBS billing: keeps FreeRADIUS off a PostgreSQL that does not answer",
                stack.db_watch, RADIUS_USER, after=f"{AFTER_STORES} {RADIUS_UNIT}"),
    ]
    if "spool" in (settings.RADIUS_ACCT_MODE, settings.RADIUS_AUTH_MODE):
        found.append(service(
            "ebs-acct-drain.service", "EBS billing: FreeRADIUS's accounting and auth "
            "spools to PostgreSQL", stack.acct_drain, RADIUS_USER,
            after=f"{AFTER_STORES} {RADIUS_UNIT}"))
    restart_collector = ManagedProcess(
        "nfacctd-restart", ["/bin/systemctl", "restart", settings.COLLECTOR_SERVICE],
        stack.run_dir, stack.log_dir, cwd=web.cwd, env=web.env)
    found += [
        service("ebs-radius-clients.service", "EBS billing: a NAS change to FreeRADIUS",
                sync, "root", kind="oneshot"),
        watch("ebs-radius-clients", "a NAS change to FreeRADIUS",
              systemd_requests.request_path(settings.STATE_DIR, systemd_requests.RADIUS_CLIENTS)),
        service("ebs-nfacctd-restart.service", "EBS billing: nfacctd restarted for new "
                "plugins", restart_collector, "root", kind="oneshot"),
        watch("ebs-nfacctd-restart", "a restart of nfacctd for new plugins",
              systemd_requests.request_path(settings.STATE_DIR,
                                            systemd_requests.COLLECTOR_RESTART)),
    ]
    if settings.BACKUP_DAILY_AT:
        backup = ManagedProcess("backup", [ebs, "backup", "--label", "daily"], stack.run_dir,
                                stack.log_dir, cwd=web.cwd, env=web.env)
        found += [
            service("ebs-backup.service", "EBS billing: the daily backup", backup, "root",
                    kind="oneshot"),
            daily("ebs-backup", "the daily backup", settings.BACKUP_DAILY_AT,
                  settings.TIME_ZONE),
        ]
    return found


def restart_running(settings: SimpleNamespace, changes: Changes, why: str) -> None:
    """Restart FreeRADIUS and our services that are running (rlm_ebs and the rest import
    the code once, at start)."""
    if not systemd_wanted():
        return
    from stack.installed import InstalledServices, unit_states

    running = [unit for unit, (active, _) in
               unit_states(InstalledServices(settings).app_units()).items()
               if active == "active"]
    for unit in running:
        restart(unit, changes, why)


def daily(name: str, what: str, hhmm: str, zone: str) -> Unit:
    """A timer running ``name``.service each day at ``hhmm`` in ``zone`` (the ISP's time,
    as the beat's schedules are), once at boot when the day's run was missed."""
    if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", hhmm):
        raise ValueError(f"BACKUP_DAILY_AT must be HH:MM, got {hhmm!r}")
    return Unit(f"{name}.timer", f"""# Written by `ebs install`.
[Unit]
Description=EBS billing: {what} at {hhmm} ({zone})

[Timer]
OnCalendar=*-*-* {hhmm}:00 {zone}
Persistent=true
Unit={name}.service

[Install]
WantedBy=timers.target
""")


def watch(name: str, what: str, request: Path) -> Unit:
    """The path unit through which the worker (``ebs``) asks root for ``what``."""
    return Unit(f"{name}.path", f"""# Written by `ebs install`.
[Unit]
Description=EBS billing: the worker's requests for {what}

[Path]
PathChanged={request}
Unit={name}.service

[Install]
WantedBy=multi-user.target
""")


def ensure_units(settings: SimpleNamespace, changes: Changes) -> list[Path]:
    """Write the units and the directories they run in; enable and start them (a changed
    unit is restarted). The paths of the unit files."""
    state = Path(settings.STATE_DIR)
    # What the services of SERVICE_USER write under STATE_DIR (root's): the worker's
    # requests, the beat's schedule, nfacctd, the web app's compiled catalogues, backups
    # and the bank statements to import.
    for sub, mode in (("run", 0o755), ("log", 0o750), ("celery", 0o750), ("nfacctd", 0o750),
                      ("cache", 0o750), ("backups", 0o700), ("payments", 0o750)):
        ensure_dir(state / sub, mode, SERVICE_USER, SERVICE_USER, changes)
    written, changed = [], []
    for unit in units(settings):
        path = SYSTEMD_DIR / unit.name
        if ensure_file(path, unit.text, 0o644, "root", "root", changes):
            changed.append(unit)
        written.append(path)
    daemon_reload()
    enable_now([u.name for u in units(settings) if u.start], changes)
    for unit in changed:
        if unit.start and not unit.name.endswith(".path"):
            restart(unit.name, changes, "unit changed")
    return written
