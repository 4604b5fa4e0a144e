"""The daily backup: the archive `ebs backup` makes, at ``BACKUP_DAILY_AT`` (worker/app.py).

Late acknowledgement may deliver the task twice; a second delivery finds the day's archive
made in the last hours and makes no other. A failure (no archive, or a copy off-site that
did not go) fails the task, so it shows in the worker's log and in monitoring.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from billing import settings as settings_mod
from stack import backup
from worker.app import celery

LABEL = "daily"
# A second delivery within this time is the same day's backup.
_SAME_RUN = timedelta(hours=12)


@celery.task(name="ebs.backup")
def daily_backup() -> dict:
    settings = settings_mod.load()
    directory = backup.backup_dir(settings)
    now = datetime.now(UTC)
    for path in reversed(backup.list_backups(directory)):
        made = datetime.strptime(path.name[len("ebs-backup-"):][:16], "%Y%m%dT%H%M%SZ")
        if path.stem.endswith(f"-{LABEL}") and now - made.replace(tzinfo=UTC) < _SAME_RUN:
            return {"skipped": f"{path.name} was made less than 12 hours ago"}
    result = backup.take(settings, directory=directory, label=LABEL, now=now)
    if result.copy_errors:
        raise backup.BackupError(
            f"{result.path} was made, but: {'; '.join(result.copy_errors)}")
    return {"path": str(result.path), "bytes": result.size,
            "seconds": round(result.seconds, 1), "copies": result.copies,
            "removed": [p.name for p in result.removed]}
