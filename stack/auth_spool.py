"""The auth log's spool: answers FreeRADIUS gave while the database was away, into
``auth_log`` once it is back, each at its own time.

FreeRADIUS writes one line per answer whose auth-log row rlm_sql could not write
(freeradius_conf/mods-enabled/auth_spool), into one file a minute:
``<unix time.microseconds>,<User-Name hex>,<NAS address>,<Calling-Station-Id hex>,
<reason>,<decision>``.
A file is read only when its minute ended :data:`SETTLE` ago, so no writer is raced and no
rename is needed. Each file is applied in one transaction that also records it in
``acct_spool_files`` (by name, inode and mtime): a drain that dies between the commit and
the unlink skips it the next time instead of logging it twice. A line that cannot be
read is counted and logged, and the rest of the file goes on.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from ipaddress import ip_address
from pathlib import Path
from types import SimpleNamespace

import psycopg

from billing.access import Reason
from stack import acct_spool

log = logging.getLogger(__name__)

SPOOL_GLOB = "auth-[0-9]*"
SETTLE = 10.0  # seconds after a file's minute before it is read
_DECISIONS = {"accept": (True, False), "guest": (True, True), "reject": (False, False)}
_REASONS = {str(reason) for reason in Reason} | {"unknown"}


def spool_dir(settings: SimpleNamespace) -> Path:
    """Beside the accounting spool, under FreeRADIUS's radacct directory."""
    return acct_spool.spool_dir(settings).parent / "auth-spool"


@dataclass
class AuthDrain:
    files: int = 0
    logged: int = 0
    bad_lines: int = 0
    skipped_files: int = 0  # applied before (a drain stopped before the unlink)
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"files": self.files, "logged": self.logged, "bad_lines": self.bad_lines,
                "skipped_files": self.skipped_files, "errors": self.errors}


def _text(hex_value: str) -> str:
    """The bytes the NAS sent, as the auth log keeps them (invalid UTF-8 replaced)."""
    return bytes.fromhex(hex_value.removeprefix("0x")).decode("utf-8", "replace")


def parse_line(line: str) -> tuple:
    """(logged_at, username, nas_ip, calling_station_id, reason, accepted, guest) of one
    spooled answer; ValueError with the reason for a line that is not one."""
    parts = line.rstrip("\n").split(",")
    if len(parts) != 6:
        raise ValueError(f"{len(parts)} fields, 6 expected")
    stamp, user, nas, calling, reason, decision = parts
    if reason not in _REASONS:
        raise ValueError(f"unknown reason {reason!r}")
    accepted, guest = _DECISIONS.get(decision, (False, False))
    seconds, _, micro = stamp.partition(".")
    moment = datetime.fromtimestamp(int(seconds), UTC).replace(microsecond=int(micro or 0))
    return (moment, _text(user),
            str(ip_address(nas)) if nas else None, _text(calling), reason, accepted, guest)


def _minute_over(path: Path, now: float) -> bool:
    try:
        minute = datetime.strptime(path.name[len("auth-"):], "%Y%m%d%H%M")
    except ValueError:
        return False  # not ours
    # FreeRADIUS names the file in the server's local time.
    return minute.timestamp() + 60 + SETTLE <= now


def drain(conn: psycopg.Connection, directory: Path, *, now: float | None = None,
          host: str | None = None) -> AuthDrain:
    """Apply every finished minute's file under ``directory``, oldest first."""
    now = time.time() if now is None else now
    host = host or socket.gethostname()
    result = AuthDrain()
    if not directory.is_dir():
        return result
    for path in sorted(directory.glob(SPOOL_GLOB)):
        if not _minute_over(path, now):
            continue
        stat = path.stat()
        key = f"{path}:{stat.st_ino}:{stat.st_mtime_ns}"
        rows, bad = [], 0
        for number, line in enumerate(path.read_text("ascii", "replace").splitlines(), 1):
            if not line.strip():
                continue
            try:
                rows.append(parse_line(line))
            except ValueError as exc:
                bad += 1
                log.error("%s line %d left out: %s: %r", path, number, exc, line[:200])
        result.bad_lines += bad
        with conn.transaction():
            claimed = conn.execute(
                "INSERT INTO acct_spool_files (host, work_file, position, applied, skipped,"
                " done) VALUES (%s, %s, %s, %s, %s, true) ON CONFLICT DO NOTHING RETURNING 1",
                (host, key, stat.st_size, len(rows), bad)).fetchone()
            if claimed and rows:
                columns = list(zip(*rows, strict=True))
                result.logged += conn.execute(
                    "SELECT ebs_auth_log_replay(%s::timestamptz[], %s::text[], %s::inet[],"
                    " %s::text[], %s::text[], %s::boolean[], %s::boolean[])",
                    [list(c) for c in columns]).fetchone()[0]
        if claimed:
            result.files += 1
        else:
            result.skipped_files += 1
        os.unlink(path)
    return result


def has_work(directory: Path) -> bool:
    return directory.is_dir() and any(directory.glob(SPOOL_GLOB))
