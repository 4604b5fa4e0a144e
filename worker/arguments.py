"""What a task accepts from the broker, checked before any work.

Anything that can write to Redis can post a task, so a task's arguments are input like a
form's: a charge tick may not name a moment beyond the clock (it would charge months
ahead), an id is an integer, the accounting drain reads only the spool directory this
host is configured with. A refusal raises :class:`TaskArgumentError`: the worker logs it
as the task's failure and nothing retries it. ``ebs charge --at`` and the tests that run
``billing`` directly are not tasks and stay free to name any moment.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

from stack import acct_spool


class TaskArgumentError(ValueError):
    """A task argument refused at the boundary; the message says which and why."""


def moment(at: object, settings: SimpleNamespace, *, now: datetime | None = None) -> datetime:
    """``at`` (ISO 8601; naive means UTC), or now when None; not further ahead of the
    worker's clock than ``TASK_CLOCK_SKEW_SECONDS``."""
    clock = now or datetime.now(UTC)
    if at is None:
        return clock
    if not isinstance(at, str):
        raise TaskArgumentError(f"at must be an ISO 8601 time, not {type(at).__name__}")
    try:
        when = datetime.fromisoformat(at)
    except ValueError:
        raise TaskArgumentError(f"at is not an ISO 8601 time: {at[:40]!r}") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    skew = timedelta(seconds=int(settings.TASK_CLOCK_SKEW_SECONDS))
    if when > clock + skew:
        raise TaskArgumentError(
            f"at {when.isoformat()} is in the future (the clock says {clock.isoformat()}, "
            f"allowed skew {skew.total_seconds():.0f} s); ebs charge --at runs ahead")
    return when


def integer_id(value: object, name: str) -> int | None:
    """An id: an integer (JSON has no other kind of id here) or None."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise TaskArgumentError(f"{name} must be an integer id, not {value!r:.40}")
    return value


def text(value: object, name: str, longest: int = 200) -> str:
    """A short text argument (a reason for the record)."""
    if not isinstance(value, str) or len(value) > longest:
        raise TaskArgumentError(f"{name} must be text of at most {longest} characters")
    return value


def session_key(value: object) -> str:
    """An open session's Acct-Unique-Session-Id: text, as long as RADIUS allows at most."""
    if not isinstance(value, str) or not value or len(value) > 253:
        raise TaskArgumentError(f"session_id must be an Acct-Unique-Session-Id, not {value!r:.40}")
    return value


def spool_directory(value: object, settings: SimpleNamespace) -> Path:
    """The configured spool directory; any other one is refused (a task naming a
    directory of its choosing would make the worker read and delete files there)."""
    configured = acct_spool.spool_dir(settings)
    if value is None:
        return configured
    if not isinstance(value, str) or Path(value).resolve() != configured.resolve():
        raise TaskArgumentError(
            f"spool_dir {value!r:.80} is not the configured spool directory {configured}")
    return configured
