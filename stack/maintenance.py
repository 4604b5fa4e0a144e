"""The maintenance window of a restore or an upgrade: every service but PostgreSQL
stopped, the marker that tells `ebs up`'s watch not to take the stack down, and the
services started again afterwards — those that were running, and only if the job says
the database is fit for them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import SimpleNamespace

from stack.installed import services


@dataclass
class Window:
    stack: object  # the local Stack, or the installed system's units (stack/installed.py)
    stopped: list[str] = field(default_factory=list)
    restart: bool = True  # the job clears it when the services must stay down


@contextmanager
def services_stopped(settings: SimpleNamespace, report: Callable[[str], None],
                     postgres_was_running: bool | None = None) -> Iterator[Window]:
    """``postgres_was_running``: as the caller found it, when it started PostgreSQL itself
    to look before deciding (None: as found now)."""
    stack = services(settings)
    marker = stack.maintenance_marker
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text("maintenance\n", encoding="utf-8")
    if postgres_was_running is None:
        postgres_was_running = stack.postgres.running()
    window = Window(stack)
    try:
        window.stopped = stack.pause(report)
        if not stack.postgres.running():
            report("starting postgresql")
            stack.postgres.start()  # not the stack's start: that would migrate
        yield window
    finally:
        try:
            if window.restart:
                # A new Stack: a restore may have brought back other secrets (the Redis
                # password), which the old object read at its creation.
                services(settings).resume(window.stopped, report)
                if not postgres_was_running and not window.stopped:
                    report("stopping postgresql (it was not running before)")
                    stack.postgres.stop()
        finally:
            marker.unlink(missing_ok=True)
