"""The two nfacctd set-ups ``ebs bench flow`` compares, and how each is watched.

Ours is the production collector: stack.servers.nfacctd.NfacctdServer running the
plugins and maps that flow.collector_maps renders from the benchmark's database. The
baseline is the same server (socket buffer, pipes, cache size, binning) with pmacct's
own ``print`` plugin writing CSV to a file: what nfacctd sustains when no
classification and no database are involved.

A lost datagram shows in one of three places, and each is read: the kernel's counter of
the socket (``drops`` in /proc/net/udp, per socket, so a fresh server starts at zero),
nfacctd's own log (a full plugin pipe is logged as a warning), and the bytes that land
(every record carries the same byte count, bench/flow_data.py).
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from flow.collector_maps import prime_at_least
from stack.servers.base import free_port, start_with_retry
from stack.servers.nfacctd import CACHE_FULL, NfacctdServer, SavedCollector
from stack.servers.procs import cpu_seconds

PRINT_TEMPLATE = Path(__file__).with_name("nfacctd_print.conf.tmpl")
PROBLEM_MARKS = (CACHE_FULL, " WARN ", " ERROR ", "CRIT")
NO_SQL_PLUGINS = SavedCollector((), {})  # the template names its one print plugin


@dataclass
class PrintNfacctd(NfacctdServer):
    """nfacctd with one print plugin; its CSV file is appended at every purge."""

    template: Path = PRINT_TEMPLATE
    collector: SavedCollector | None = NO_SQL_PLUGINS

    @property
    def print_file(self) -> Path:
        return self.directory / "print.csv"

    def _values(self, collector) -> dict[str, object]:
        return {**super()._values(collector), "print_file": self.print_file,
                "plugin_pipe_size": self.plugin_pipe_size,
                "refresh_seconds": self.refresh_seconds,
                "history": f"{self.refresh_seconds // 60}m",
                "cache_entries": self.cache_entries}

    def landed_bytes(self) -> tuple[int, int]:
        """(rows, bytes) the plugin wrote to its file."""
        per_key = self.landed_per_key()
        return sum(rows for rows, _ in per_key.values()), sum(b for _, b in per_key.values())

    def landed_per_key(self) -> dict[tuple[str, str], tuple[int, int]]:
        """(rows, bytes) the plugin wrote per (source, destination)."""
        found: dict[tuple[str, str], tuple[int, int]] = {}
        if not self.print_file.exists():
            return found
        with self.print_file.open(newline="") as fh:
            for row in csv.DictReader(fh):
                if row.get("BYTES", "").isdigit():  # the header repeats per purge
                    key = (row["SRC_IP"], row["DST_IP"])
                    rows, total = found.get(key, (0, 0))
                    found[key] = (rows + 1, total + int(row["BYTES"]))
        return found


def start_on_free_port(make: Callable[[int], NfacctdServer], attempts: int = 5) -> NfacctdServer:
    """Start a server built by ``make(port)`` (in a directory of its own per port);
    another process may take the port first."""
    return start_with_retry(lambda: make(free_port(udp=True, tcp=False)), attempts)


def cpu_use(server: NfacctdServer) -> dict[str, float | None]:
    """CPU seconds nfacctd's core and its plugins (together) used since they started:
    where a side's time goes, read before stop() (the writers it forks are not in it)."""
    core = server.core_pid()
    plugins = [cpu_seconds(pid) for pid in server.plugin_pids()]
    return {"core_cpu_s": round(cpu_seconds(core) or 0.0, 1) if core else None,
            "plugins_cpu_s": round(sum(p for p in plugins if p is not None), 1)}


def log_size(server: NfacctdServer) -> int:
    return server.log.stat().st_size if server.log.exists() else 0


def log_problems(server: NfacctdServer, stop_offset: int) -> list[str]:
    """Warnings and errors in the server's log (each step's server has a directory of
    its own, so the whole log is this step's). ``stop_offset`` is the log's size when
    stop() was called: from then on a plugin that ends its last purge after the core's
    final read is logged as a lost connection (a warning), so only errors count there,
    e.g. a failed last write."""
    if not server.log.exists():
        return []
    text = server.log.read_bytes()
    found = []
    for part, marks in ((text[:stop_offset], PROBLEM_MARKS),
                        (text[stop_offset:], tuple(m for m in PROBLEM_MARKS if m != " WARN "))):
        found += [line for line in part.decode(errors="replace").splitlines()
                  if any(m in line for m in marks)]
    return found


def print_cache_entries(keys: int) -> int:
    """The print plugin's cache: a prime a tenth above the keys a bin holds. Its entries
    take about 4 kB each here (the SQL plugins' 0.4 kB), and a full print cache purges
    early and loses nothing, so it needs no room for a second bin."""
    return prime_at_least(max(65537, keys + keys // 10))
