"""Accounting-Requests as FreeRADIUS writes them to the spool (detail format), for tests
that put traffic in the spool without a NAS."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
NAS, OTHER_NAS = "192.0.2.1", "192.0.2.2"


def entry(status: str, session: str = "", nas: str = NAS, at: int = 0, **attrs) -> str:
    """One detail-file entry; ``at`` is seconds after T0 (Event-Timestamp)."""
    stamp = (T0 + timedelta(seconds=at)).strftime("%b %d %Y %H:%M:%S UTC")
    lines = [f"\tAcct-Status-Type = {status}", f"\tNAS-IP-Address = {nas}",
             f'\tEvent-Timestamp = "{stamp}"']
    if session:
        lines += [f'\tAcct-Session-Id = "{session}"', f'\tUser-Name = "u-{session}"',
                  f'\tAcct-Unique-Session-Id = "{session}-{nas}"']
    lines += [f"\t{name.replace('_', '-')} = {value}" for name, value in attrs.items()]
    return "Sun Nov 29 01:00:00 2026\n" + "\n".join(lines) + "\n\n"


def counters(octets: int, seconds: int) -> dict:
    return {"Acct_Input_Octets": octets, "Acct_Output_Octets": 2 * octets,
            "Acct_Session_Time": seconds}


def spool_file(directory: Path, name: str, entries: list[str]) -> None:
    directory.mkdir(exist_ok=True)
    (directory / name).write_text("".join(entries))
