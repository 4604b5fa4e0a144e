"""The accounting spool: Accounting-Requests applied in batches.

FreeRADIUS answers every Accounting-Request; in the live accounting mode a packet goes to
the spool detail file (``mods-enabled/acct_spool``) when rlm_sql fails (PostgreSQL down,
a query error), in the spool mode every packet does (``stack/acct_follow.py``).
FreeRADIUS's own reader replays such files one packet at a time through the server
(~2k/s with durable commits); this drain reads them itself and applies whole batches, each
in one transaction with one commit, so an outage's backlog is gone in seconds.

Why it neither loses nor repeats an entry:
  * File hand-over follows FreeRADIUS's detail reader: rename ``detail-*`` to a work file,
    take an fcntl write lock on it and hold it until the file is removed. The writer
    (``locking = yes``) only appends under a lock it tries without waiting; while we hold
    ours it reopens the file by name, which is a new file; after the unlink it sees the
    link count is zero and reopens too.
  * Each batch is applied in one transaction together with the work file's new read
    position (``acct_spool_files``): a drain that dies resumes after the last commit.
  * Every entry goes through ``ebs_acct_apply`` (or its own fast path, below), which is
    idempotent and order-insensitive anyway, so even a packet rlm_sql did apply before
    reporting a failure changes nothing when it is applied again.
"""

from __future__ import annotations

import fcntl
import logging
import os
import queue
import socket
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import psycopg

from stack.acct_detail import ROW_COLUMNS, MalformedEntry, batch_row, read_entries

log = logging.getLogger(__name__)

BATCH = 5000
SPOOL_GLOB = "detail-*"
WORK_SUFFIX = ".work"

_CREATE_BATCH = """
CREATE TEMP TABLE IF NOT EXISTS acct_spool_batch (
    seq integer PRIMARY KEY, status text, unique_id text, session_id text, username text,
    nas_ip inet, framed_ip inet, calling text, called text, port_id text,
    in_oct bigint, in_gw bigint, out_oct bigint, out_gw bigint, session_time integer,
    event_time timestamptz, cause text, interim_interval integer, delay integer,
    arrival double precision, class text
) ON COMMIT DELETE ROWS
"""

# The common case in one statement: sessions that only have Interim-Updates in this batch
# (no Start, Stop or NAS reboot that their order would matter against) and are open get
# their counters raised at once, by the same rule as the live interim query in
# mods-config/sql/accounting.conf (counters only grow; the last address and interval sent
# win; the lease is renewed for its hold when sql/functions/ebs_lease_renew_due.sql says
# so). Their rows leave the batch.
_FAST_INTERIMS = """
WITH reset AS (
    SELECT DISTINCT nas_ip FROM acct_spool_batch
     WHERE status IN ('Accounting-On', 'Accounting-Off')
), agg AS (
    SELECT unique_id,
           max(in_gw * 4294967296 + in_oct) AS input_octets,
           max(out_gw * 4294967296 + out_oct) AS output_octets,
           max(greatest(session_time, 0)) AS session_time,
           (array_agg(framed_ip ORDER BY seq DESC)
                FILTER (WHERE framed_ip IS NOT NULL))[1] AS framed_ip,
           (array_agg(interim_interval ORDER BY seq DESC)
                FILTER (WHERE interim_interval IS NOT NULL))[1] AS interim_interval
      FROM acct_spool_batch
     WHERE unique_id <> '' AND nas_ip IS NOT NULL
     GROUP BY unique_id
    HAVING bool_and(status = 'Interim-Update')
       AND NOT coalesce(bool_or(nas_ip IN (SELECT nas_ip FROM reset)), true)
), applied AS (
    UPDATE sessions_open o
       SET updated_at = greatest(o.updated_at, now()),
           framed_ip = coalesce(a.framed_ip, o.framed_ip),
           input_octets = greatest(o.input_octets, a.input_octets),
           output_octets = greatest(o.output_octets, a.output_octets),
           session_time = greatest(o.session_time, a.session_time),
           interim_interval = coalesce(a.interim_interval, o.interim_interval)
      FROM agg a
     WHERE o.acct_unique_id = a.unique_id
    RETURNING o.acct_unique_id, o.interim_interval
), lease AS (
    UPDATE ip_leases l
       SET expires_at = now() + ebs_session_hold(a.interim_interval)
      FROM applied a
     WHERE l.session_key = a.acct_unique_id
       AND ebs_lease_renew_due(l.expires_at, a.interim_interval)
)
DELETE FROM acct_spool_batch b USING applied
 WHERE b.unique_id = applied.acct_unique_id
"""

# Everything else, one ebs_acct_apply call per entry in file order (PostgreSQL evaluates
# volatile output expressions after the ORDER BY). The delay grows by the time the entry
# spent in the spool, as FreeRADIUS's reader does, so a packet without Event-Timestamp
# keeps the moment it arrived.
_APPLY_REST = """
SELECT ebs_acct_apply(status, unique_id, session_id, username, nas_ip, framed_ip,
                      calling, called, port_id, in_oct, in_gw, out_oct, out_gw,
                      session_time, event_time, cause, interim_interval,
                      delay + greatest(0, floor(extract(epoch FROM now()) - arrival))::integer,
                      false, class)
  FROM acct_spool_batch
 ORDER BY seq
"""

_SAVE_POSITION = """
INSERT INTO acct_spool_files AS f (host, work_file, position, applied, skipped)
VALUES (%(host)s, %(file)s, %(position)s, %(applied)s, %(skipped)s)
ON CONFLICT (host, work_file) DO UPDATE
   SET position = excluded.position, applied = f.applied + excluded.applied,
       skipped = f.skipped + excluded.skipped, updated_at = now()
"""


@dataclass
class DrainResult:
    files: int = 0
    applied: int = 0
    skipped: int = 0
    batches: int = 0
    busy: bool = False
    outcomes: Counter = field(default_factory=Counter)

    def as_dict(self) -> dict:
        return {"files": self.files, "applied": self.applied, "skipped": self.skipped,
                "batches": self.batches, "busy": self.busy, "outcomes": dict(self.outcomes)}


Progress = Callable[[str, int, int, DrainResult], None]


def spool_dir(settings: SimpleNamespace) -> Path:
    """Where FreeRADIUS spools (``RADIUS_ACCT_SPOOL_DIR``, else the local stack's)."""
    configured = getattr(settings, "RADIUS_ACCT_SPOOL_DIR", None)
    if configured:
        return Path(configured)
    return Path(settings.STATE_DIR) / "freeradius" / "radacct" / "spool"


# --- applying ----------------------------------------------------------------------------

def _copy_rows(conn: psycopg.Connection, rows: list[tuple]) -> None:
    with conn.cursor().copy(
        f"COPY acct_spool_batch ({', '.join(ROW_COLUMNS)}) FROM STDIN"
    ) as copy:
        for row in rows:
            copy.write_row(row)


def _apply_rows(conn: psycopg.Connection, rows: list[tuple]) -> Counter:
    """Apply one batch inside the caller's transaction: COPY, the set-based interim
    update, then the rest in file order. Returns ebs_acct_apply's outcomes."""
    outcomes: Counter = Counter()
    _copy_rows(conn, rows)
    fast = conn.execute(_FAST_INTERIMS).rowcount
    if fast > 0:
        outcomes["updated"] += fast
    for (outcome,) in conn.execute(_APPLY_REST):
        outcomes[outcome.split(":")[0]] += 1
    return outcomes


def _apply_one_by_one(conn: psycopg.Connection, rows: list[tuple], where: str
                      ) -> tuple[Counter, int]:
    """A batch the database refused: each entry in its own savepoint, so one entry the
    database cannot take (a value out of range) is logged and skipped, not the batch."""
    outcomes: Counter = Counter()
    skipped = 0
    for row in rows:
        try:
            with conn.transaction():
                _copy_rows(conn, [row])
                for (outcome,) in conn.execute(_APPLY_REST):
                    outcomes[outcome.split(":")[0]] += 1
                conn.execute("DELETE FROM acct_spool_batch")
        except psycopg.errors.DataError as exc:
            skipped += 1
            log.warning("acct spool %s: entry %s (user %r) skipped, the database refused "
                        "it: %s", where, row[3] or row[2], row[4],
                        str(exc).strip().splitlines()[0])
    return outcomes, skipped


@dataclass
class _Batch:
    rows: list[tuple] = field(default_factory=list)
    skipped: int = 0
    end: int = 0


def _save_position(conn: psycopg.Connection, host: str, work: Path, batch: _Batch,
                   applied: int) -> None:
    conn.execute(_SAVE_POSITION, {"host": host, "file": str(work), "position": batch.end,
                                  "applied": applied, "skipped": batch.skipped})


def _commit_batch(conn: psycopg.Connection, host: str, work: Path, batch: _Batch,
                  result: DrainResult) -> None:
    """One transaction: the batch's effects and the file position after it."""
    try:
        with conn.transaction():
            outcomes = _apply_rows(conn, batch.rows)
            _save_position(conn, host, work, batch, len(batch.rows))
    except (psycopg.errors.DataError, psycopg.errors.DeadlockDetected):
        with conn.transaction():
            outcomes, refused = _apply_one_by_one(conn, batch.rows, work.name)
            batch.skipped += refused
            _save_position(conn, host, work, batch, len(batch.rows) - refused)
    result.applied += sum(outcomes.values())
    result.skipped += batch.skipped
    result.outcomes.update(outcomes)
    result.batches += 1


def _position(conn: psycopg.Connection, host: str, work: Path) -> int:
    row = conn.execute(
        "SELECT position FROM acct_spool_files WHERE host = %s AND work_file = %s",
        (host, str(work)),
    ).fetchone()
    conn.commit()
    return int(row[0]) if row else 0


def _batches(fh, start: int, batch_size: int, name: str) -> Iterator[_Batch]:
    """The file from ``start`` as batches of rows; malformed entries are logged, counted
    and passed over (the position still moves past them)."""
    batch = _Batch(end=start)
    for entry in read_entries(fh, start):
        batch.end = entry.end
        try:
            if entry.attributes is None:
                raise MalformedEntry(entry.error or "unreadable")
            batch.rows.append(batch_row(len(batch.rows), entry.attributes))
        except MalformedEntry as exc:
            batch.skipped += 1
            log.warning("acct spool %s: entry at byte %d skipped: %s", name, entry.start, exc)
        if len(batch.rows) + batch.skipped >= batch_size:
            yield batch
            batch = _Batch(end=batch.end)
    yield batch


def _read_ahead(batches: Iterator[_Batch], depth: int = 2) -> Iterator[_Batch]:
    """Parse the next batches in a thread while the database applies this one (parsing
    is Python work, applying is mostly waiting on PostgreSQL, which frees the GIL)."""
    done = object()
    ahead: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                ahead.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False  # the consumer has gone

    def produce() -> None:
        try:
            for batch in batches:
                if not put(batch):
                    return
            put(done)
        except BaseException as exc:  # handed to the consumer, which re-raises it
            put(exc)

    thread = threading.Thread(target=produce, name="acct-spool-parse", daemon=True)
    thread.start()
    try:
        while (item := ahead.get()) is not done:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        thread.join()


def drain_file(conn: psycopg.Connection, work: Path, *, host: str, batch_size: int = BATCH,
               result: DrainResult, progress: Progress | None = None) -> None:
    """Apply one work file from its committed position, then remove it.

    The fcntl lock is FreeRADIUS's own hand-over (module docstring): held from before the
    first read until after the unlink, so no writer appends to a file we have read.
    """
    with open(work, "r+b") as fh:
        fcntl.lockf(fh.fileno(), fcntl.LOCK_EX)
        size = os.fstat(fh.fileno()).st_size
        start = _position(conn, host, work)
        for batch in _read_ahead(_batches(fh, start, batch_size, work.name)):
            _commit_batch(conn, host, work, batch, result)
            if progress:
                progress(work.name, batch.end, size, result)
        # Every entry is applied; mark the file done before it goes (a drain stopped
        # between the two finds it done and only removes it).
        conn.execute("UPDATE acct_spool_files SET done = true, updated_at = now()"
                     " WHERE host = %s AND work_file = %s", (host, str(work)))
        conn.commit()
        os.unlink(work)
    conn.execute("DELETE FROM acct_spool_files WHERE host = %s AND work_file = %s",
                 (host, str(work)))
    conn.commit()
    result.files += 1


def _forget_removed(conn: psycopg.Connection, host: str, directory: Path) -> None:
    """Position rows of work files already removed (a drain stopped between the unlink
    and the row's delete); work-file names are never reused, so they are safe to drop."""
    rows = conn.execute(
        "SELECT work_file FROM acct_spool_files WHERE host = %s AND work_file LIKE %s",
        (host, f"{directory}/%"),
    ).fetchall()
    gone = [name for (name,) in rows if not Path(name).exists()]
    if gone:
        conn.execute("DELETE FROM acct_spool_files WHERE host = %s AND work_file = ANY(%s)",
                     (host, gone))
    conn.commit()


def has_work(directory: Path) -> bool:
    """Anything to drain? (Cheap: lets a frequent beat skip the database entirely.)"""
    return directory.is_dir() and any(directory.glob(SPOOL_GLOB))


def _work_name(spooled: Path) -> Path:
    """A name never used before that sorts in renaming order after its spool file's hour
    (work files left by an interrupted drain are applied in the order they were taken)."""
    return spooled.with_name(
        f"{spooled.name}.{time.time_ns():020d}{uuid.uuid4().hex[:6]}{WORK_SUFFIX}")


@contextmanager
def drain_lock(directory: Path) -> Iterator[bool]:
    """One drain per spool directory at a time: True while held, False when another
    drain holds it. The lock is on the directory itself: no lock file whose owner (root
    running the command, the service account running Celery) could shut the other out."""
    lock = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(lock)


def drain(conn: psycopg.Connection, directory: Path, *, batch_size: int = BATCH,
          progress: Progress | None = None, host: str | None = None) -> DrainResult:
    """Apply every spooled entry under ``directory``: work files left by an interrupted
    drain first, then each ``detail-*`` file that is there now, oldest first.

    One drain per directory at a time (an flock); a second returns at once with
    ``busy``. Connection failures propagate: nothing is lost, the next run resumes.
    """
    host = host or socket.gethostname()
    result = DrainResult()
    if not directory.is_dir():
        return result
    conn.autocommit = False
    conn.execute(_CREATE_BATCH)
    # Applied means durable, whatever the database's default: the same promise as a
    # committed rlm_sql query.
    conn.execute("SET synchronous_commit = on")
    conn.commit()
    with drain_lock(directory) as held:
        if not held:
            result.busy = True
            return result
        _forget_removed(conn, host, directory)
        for work in sorted(directory.glob(f"{SPOOL_GLOB}{WORK_SUFFIX}")):
            drain_file(conn, work, host=host, batch_size=batch_size, result=result,
                       progress=progress)
        for spooled in sorted(p for p in directory.glob(SPOOL_GLOB)
                              if not p.name.endswith(WORK_SUFFIX)):
            work = _work_name(spooled)
            try:
                os.rename(spooled, work)
            except FileNotFoundError:  # removed since the listing
                continue
            drain_file(conn, work, host=host, batch_size=batch_size, result=result,
                       progress=progress)
    return result
