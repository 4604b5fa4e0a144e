"""The README's beat table is what the beat runs: every entry, its task and its rhythm."""

from __future__ import annotations

import re

from celery.schedules import crontab

from tests.conftest import ROOT
from worker.app import celery

_ROW = re.compile(r"^\| `(?P<entry>[a-z-]+)` \| `(?P<task>ebs\.[a-z_]+)` \| (?P<every>[^|]+) \|")


def _readme_rows() -> dict[str, tuple[str, str]]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## The worker: Celery tasks and the beat schedule", 1)[1]
    section = section.split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        match = _ROW.match(line)
        if match:
            rows[match["entry"]] = (match["task"], match["every"].strip())
    return rows


def _rhythm(schedule) -> str:
    if isinstance(schedule, crontab):
        hours, minutes = sorted(schedule.hour), sorted(schedule.minute)
        assert len(hours) == 1 and len(minutes) == 1, "the table speaks of one daily time"
        return f"daily {hours[0]:02d}:{minutes[0]:02d}"
    return f"{float(schedule):g} s"


def test_the_readme_lists_every_beat_entry_as_scheduled():
    schedule = celery.conf.beat_schedule
    expected = {
        name: (entry["task"], _rhythm(entry["schedule"])) for name, entry in schedule.items()
    }
    assert _readme_rows() == expected


def test_every_scheduled_task_is_registered():
    celery.loader.import_default_modules()  # the modules the worker imports at start
    for name, entry in celery.conf.beat_schedule.items():
        assert entry["task"] in celery.tasks, f"beat entry {name} names no task"
