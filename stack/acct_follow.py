"""The spool accounting mode: FreeRADIUS only writes, a follower applies in sets.

With ``RADIUS_ACCT_MODE = "spool"`` FreeRADIUS writes every Accounting-Request to the spool
detail file and answers; no database work happens per packet inside the server. This
loop (``ebs acct drain --follow``, a process of its own under ``ebs up``) applies the spool
as it grows: whenever a spool file is there it runs ``stack.acct_spool.drain``, which
renames the file, applies it in file order in batches and commits each batch durably
together with its file position; otherwise it looks again after ``poll`` seconds.

Why this is the fast path and still correct:
  * rlm_sql commits once per packet (a WAL flush each, shared at best by the packets in
    flight); a batch of thousands of entries costs one COPY, one set-based UPDATE for
    the open sessions' Interim-Updates and one commit.
  * "Applied" means what it means for rlm_sql: committed with ``synchronous_commit`` on.
    What differs is the Accounting-Response: the NAS hears it once the entry is written to
    the spool file (in the page cache, not fsynced), not once it is committed. A
    FreeRADIUS crash loses nothing; a power loss can lose what was answered but not yet
    applied or written back by the kernel (the drain lag, normally under a second).
  * Order holds: files are applied oldest first, entries in file order; a session that
    has a Start, Stop or NAS reboot in a batch goes through ``ebs_acct_apply`` entry by
    entry, so an Interim-Update after a Stop finds the session closed.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

import psycopg

from stack import auth_spool
from stack.acct_spool import BATCH, DrainResult, drain, has_work

log = logging.getLogger(__name__)

POLL = 0.1  # seconds between looks at an empty spool: the drain lag when idle
RETRY = 1.0  # seconds between connection attempts while PostgreSQL is away


def drained(directory: Path) -> bool:
    """True once every answered packet is applied: FreeRADIUS writes an entry before it
    answers, and the drain removes a spool file only after its last batch committed, so
    an entry is in some ``detail-*`` file of the directory until it is applied."""
    return not has_work(directory)


def wait_drained(directory: Path, timeout: float, poll: float = 0.02) -> bool:
    """Wait until ``drained`` (True) or the timeout passes (False)."""
    deadline = time.monotonic() + timeout
    while not drained(directory):
        if time.monotonic() >= deadline:
            return False
        time.sleep(poll)
    return True


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def follow(connect: Callable[[], psycopg.Connection], directory: Path, *,
           poll: float = POLL, retry: float = RETRY, batch_size: int = BATCH,
           stop: threading.Event | None = None,
           on_drain: Callable[[DrainResult], None] | None = None,
           auth_directory: Path | None = None) -> DrainResult:
    """Drain ``directory`` until ``stop`` is set; returns the totals. With
    ``auth_directory``, the auth spool's settled files too (stack/auth_spool.py: the auth
    log and the leases offered from reservations, a couple of seconds behind).

    PostgreSQL going away is not an error here: the spool keeps growing, the loop keeps
    one warning per outage and reconnects every ``retry`` seconds, and the drain resumes
    from the last committed batch (a fresh connection, so no transaction is left open).
    """
    stop = stop or threading.Event()
    total = DrainResult()
    conn: psycopg.Connection | None = None
    outage = False
    try:
        while not stop.is_set():
            answers = auth_directory is not None and auth_spool.has_settled(auth_directory)
            if not has_work(directory) and not answers:
                stop.wait(poll)
                continue
            try:
                if conn is None or conn.closed:
                    conn = connect()
                if answers:
                    auth_spool.drain(conn, auth_directory)
                result = drain(conn, directory, batch_size=batch_size)
            except (psycopg.Error, OSError) as exc:
                # Away (OperationalError): one warning per outage. Anything else (a
                # statement the database refused outside the drain's own recovery, a
                # file it cannot open) is logged each time and retried, never fatal:
                # the spool keeps every packet until it can be applied.
                if not isinstance(exc, psycopg.OperationalError):
                    log.error("accounting spool %s: drain failed, retrying in %s s: %s",
                              directory, retry, _first_line(exc))
                elif not outage:
                    log.warning("accounting spool %s: database unavailable, the spool "
                                "keeps every packet (%s)", directory, _first_line(exc))
                outage = outage or isinstance(exc, psycopg.OperationalError)
                if conn is not None:
                    conn.close()
                conn = None
                stop.wait(retry)
                continue
            if outage:
                log.warning("accounting spool %s: database back, draining", directory)
                outage = False
            if result.busy:  # another drain holds the directory (the beat's task)
                stop.wait(poll)
                continue
            total.files += result.files
            total.applied += result.applied
            total.skipped += result.skipped
            total.batches += result.batches
            total.outcomes.update(result.outcomes)
            if on_drain:
                on_drain(result)
    finally:
        if conn is not None:
            conn.close()
    return total
