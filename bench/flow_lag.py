"""The rater as the beat runs it, with the lag from each bin's end to its charges.

Celery beat sends ``ebs.rate_traffic`` every 60 s at whatever phase it started; this
thread calls the same ``flow.rater.rate`` with the same settings on the same schedule,
on the worker's database role. After each run it reads ``traffic_bin_marks`` (what each
rated bin held): a bin whose mark appeared or grew in that run was charged when the run
committed, and its lag is that moment minus the bin's end. A bin's rows arrive at
nfacctd's purge just after the bin ends, so the lag is the purge's write, the wait for
the next run and the run itself; under two bins means the rating keeps up.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import psycopg

from billing.settings import DEFAULTS
from flow.rater import rate
from flow.rating import BIN


class BeatRater(threading.Thread):
    def __init__(self, conninfo: str, period: float = 60.0) -> None:
        super().__init__(name="bench-beat-rater", daemon=True)
        self.conninfo = conninfo
        self.period = period
        self.stopping = threading.Event()
        self.ran = threading.Condition()
        self.marks: dict[datetime, int] = {}  # bin -> rows it held when last charged
        self.lag: dict[datetime, float] = {}  # bin -> seconds from its end to its charges
        self.run_seconds: list[float] = []
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            with psycopg.connect(self.conninfo, autocommit=True) as conn:
                next_run = time.monotonic()
                while not self.stopping.is_set():
                    self._once(conn)
                    next_run += self.period
                    self.stopping.wait(max(0.0, next_run - time.monotonic()))
        except BaseException as exc:  # reported by finish(), the thread must not hide it
            self.error = exc
            with self.ran:
                self.ran.notify_all()

    def _once(self, conn: psycopg.Connection) -> None:
        started = time.perf_counter()
        rate(conn, datetime.now(UTC), ZoneInfo("UTC"),
             late_minutes=int(DEFAULTS["FLOW_RATE_LATE_MINUTES"]),
             chunk_minutes=int(DEFAULTS["FLOW_RATE_CHUNK_MINUTES"]), wait=True)
        done = datetime.now(UTC)
        self.run_seconds.append(time.perf_counter() - started)
        with self.ran:
            for bin_, rows in conn.execute("SELECT bin, row_count FROM traffic_bin_marks"):
                if self.marks.get(bin_) != rows:
                    self.marks[bin_] = rows
                    self.lag[bin_] = (done - (bin_ + BIN)).total_seconds()
            self.ran.notify_all()

    def finish(self, expected: dict[datetime, int], timeout: float) -> dict[datetime, float]:
        """Wait (at most ``timeout`` s) until runs on the schedule have charged every bin
        of ``expected`` (bin -> rows the rater counts), then stop. Returns the lag of each
        expected bin that was charged; one that was not is missing."""
        deadline = time.monotonic() + timeout
        with self.ran:
            while (self.error is None and time.monotonic() < deadline
                   and any(self.marks.get(b) != n for b, n in expected.items())):
                self.ran.wait(max(0.0, deadline - time.monotonic()))
        self.stopping.set()
        self.join()
        if self.error is not None:
            raise self.error
        return {b: self.lag[b] for b, n in expected.items() if self.marks.get(b) == n}


def bins_landed(conn: psycopg.Connection, since: datetime) -> dict[datetime, int]:
    """The bins from ``since`` on and the rows each holds, as the rater counts them
    (flow_bin_rows: a subscriber's address, not one a plugin zeroed)."""
    return dict(conn.execute(
        "SELECT bin, count(*) FROM flow_bin_rows WHERE bin >= %s GROUP BY 1",
        (since,)).fetchall())
