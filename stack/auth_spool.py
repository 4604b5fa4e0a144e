"""The auth log's spool into the database: ``auth_log`` rows and the leases offered from
a node's reserved addresses, each at its own time, in batches.

FreeRADIUS writes one line per answer (freeradius_conf/mods-enabled/auth_spool): every
answer in RADIUS_AUTH_MODE "spool", only those it could not log through rlm_sql (the
database away) in "live". Lines:
``<arrival>,<User-Name hex>,<NAS address>,<Calling-Station-Id hex>,<reason>,<decision>,
<written>,<reserved lease id>,<subaccount id>`` (the first six only, in files written
before the answer time and the reservations; their rows have no answer time).
Files are named by the second they were written in (``auth-<unix seconds>``; earlier
servers wrote one a minute, ``auth-YYYYmmddHHMM`` in local time). A file is read only
when its period ended :data:`SETTLE` ago, so no writer is raced and no rename is
needed. Each file is applied in one transaction that also records it in
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
SETTLE = 2.0  # seconds after a file's period (its second, or a minute) before it is read
OFFER_SECONDS = 60  # an offered lease expires this long after its accept (ebs_radius_lease)
_DECISIONS = {"accept": (True, False), "guest": (True, True), "reject": (False, False)}
_REASONS = {str(reason) for reason in Reason} | {"unknown"}


def spool_dir(settings: SimpleNamespace) -> Path:
    """Beside the accounting spool, under FreeRADIUS's radacct directory."""
    return acct_spool.spool_dir(settings).parent / "auth-spool"


@dataclass
class AuthDrain:
    files: int = 0
    logged: int = 0
    offers: int = 0  # leases offered from reservations, recorded
    busy: bool = False  # another drain held the directory: nothing done
    bad_lines: int = 0
    skipped_files: int = 0  # applied before (a drain stopped before the unlink)
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"files": self.files, "logged": self.logged, "offers": self.offers,
                "busy": self.busy, "bad_lines": self.bad_lines,
                "skipped_files": self.skipped_files, "errors": self.errors}


def _text(hex_value: str) -> str:
    """The bytes the NAS sent, as the auth log keeps them (invalid UTF-8 replaced)."""
    return bytes.fromhex(hex_value.removeprefix("0x")).decode("utf-8", "replace")


def _moment(stamp: str) -> datetime:
    seconds, _, micro = stamp.partition(".")
    return datetime.fromtimestamp(int(seconds), UTC).replace(microsecond=int(micro or 0))


@dataclass(frozen=True)
class SpooledAnswer:
    """One line: the auth-log row and, for an address from a reservation, its offer."""

    row: tuple  # (logged_at, username, nas_ip, calling_station_id, reason, accepted,
    #             guest, answer_us): ebs_auth_log_replay's columns
    lease_id: int | None = None
    subaccount_id: int | None = None


def parse_line(line: str) -> SpooledAnswer:
    """One spooled answer; ValueError with the reason for a line that is not one."""
    parts = line.rstrip("\n").split(",")
    if len(parts) not in (6, 9):
        raise ValueError(f"{len(parts)} fields, 6 or 9 expected")
    stamp, user, nas, calling, reason, decision = parts[:6]
    if reason not in _REASONS:
        raise ValueError(f"unknown reason {reason!r}")
    accepted, guest = _DECISIONS.get(decision, (False, False))
    arrived = _moment(stamp)
    answer_us = lease_id = subaccount_id = None
    if len(parts) == 9:
        written, lease, subaccount = parts[6:]
        # Clamped at zero (a clock stepped back) and at an hour, as ebs_auth_log_write.
        took = (_moment(written) - arrived).total_seconds()
        answer_us = round(min(max(took, 0.0), 3600.0) * 1_000_000)
        if lease and accepted:
            lease_id, subaccount_id = int(lease), int(subaccount)
    row = (arrived, _text(user), str(ip_address(nas)) if nas else None, _text(calling),
           reason, accepted, guest, answer_us)
    return SpooledAnswer(row, lease_id, subaccount_id)


def _settled(path: Path, now: float) -> bool:
    """Is the file's period (its second, or its minute for an older server's file)
    over by :data:`SETTLE`?"""
    stamp = path.name[len("auth-"):]
    if len(stamp) == 12:  # an older server's minute, in the server's local time
        try:
            return datetime.strptime(stamp, "%Y%m%d%H%M").timestamp() + 60 + SETTLE <= now
        except ValueError:
            return False
    return stamp.isdigit() and int(stamp) + 1 + SETTLE <= now


def _apply(conn: psycopg.Connection, answers: list[SpooledAnswer], result: AuthDrain) -> None:
    columns = [list(c) for c in zip(*(a.row for a in answers), strict=True)]
    result.logged += conn.execute(
        "SELECT ebs_auth_log_replay(%s::timestamptz[], %s::text[], %s::inet[],"
        " %s::text[], %s::text[], %s::boolean[], %s::boolean[], %s::integer[])",
        columns).fetchone()[0]
    offers = [a for a in answers if a.lease_id is not None]
    if offers:
        result.offers += conn.execute(
            "SELECT ebs_lease_offers_apply(%s::bigint[], %s::bigint[], %s::inet[],"
            " %s::timestamptz[], %s)",
            ([a.lease_id for a in offers], [a.subaccount_id for a in offers],
             [a.row[2] for a in offers], [a.row[0] for a in offers],
             OFFER_SECONDS)).fetchone()[0]


def drain(conn: psycopg.Connection, directory: Path, *, now: float | None = None,
          host: str | None = None) -> AuthDrain:
    """Apply every settled file under ``directory``, oldest first."""
    now = time.time() if now is None else now
    host = host or socket.gethostname()
    result = AuthDrain()
    if not directory.is_dir():
        return result
    # One drain at a time (the follower and the beat's task both call this): a second
    # could read a file the first has applied and, its record gone, apply it again.
    with acct_spool.drain_lock(directory) as held:
        if not held:
            result.busy = True
            return result
        _drain_files(conn, directory, now, host, result)
    return result


def _drain_files(conn: psycopg.Connection, directory: Path, now: float, host: str,
                 result: AuthDrain) -> None:
    for path in sorted(directory.glob(SPOOL_GLOB)):
        if not _settled(path, now):
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
                _apply(conn, rows, result)
        if claimed:
            result.files += 1
        else:
            result.skipped_files += 1
        os.unlink(path)
        # Gone, so its record is no longer needed (one file a second would keep 86,400
        # a day); a drain stopped just before this leaves one row, which nothing reads.
        conn.execute("DELETE FROM acct_spool_files WHERE host = %s AND work_file = %s",
                     (host, key))
        if not conn.autocommit:
            conn.commit()


def has_work(directory: Path) -> bool:
    return directory.is_dir() and any(directory.glob(SPOOL_GLOB))


def has_settled(directory: Path, now: float | None = None) -> bool:
    """A file :func:`drain` would read now (the follower's cheap look)."""
    now = time.time() if now is None else now
    return directory.is_dir() and any(_settled(p, now) for p in directory.glob(SPOOL_GLOB))
