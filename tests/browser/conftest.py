"""Real headless Chromium (Debian's ``chromium`` package, driven by Playwright) against the
web app served by gunicorn exactly as ``ebs up`` serves it (``stack/servers/web.py``), on a
free port of 127.0.0.1, with a real Celery worker on the test Redis and PostgreSQL.

Playwright's own browser downloads are never used: ``executable_path`` names Debian's
binary. Chromium's sandbox stays on, except when the tests run as root (CI may), where
Chromium refuses to start without ``--no-sandbox``. Pages may reach 127.0.0.1 only; any
other request is aborted and recorded, and the tests assert there were none.
"""

from __future__ import annotations

import os
import shutil
import sys
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from billing import settings as settings_mod
from stack.servers.base import ServerError, free_port, log_tail
from stack.servers.process import ManagedProcess
from stack.servers.web import WebServer
from tests.conftest import ARTEFACTS, ebs_env
from tests.harness import start_with_retry
from tests.web import conftest as web_conftest

# Each test's database is a copy of the web tests' template, where FAB's rows are synced.
web_state, web_template, db = web_conftest.web_state, web_conftest.web_template, web_conftest.db

CHROMIUM = os.environ.get("EBS_CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = ARTEFACTS / "screenshots"
REDIS_DB = "7"  # apart from the queues other tests read
LOCAL_HOSTS = {"127.0.0.1", "localhost"}
TIMEOUT_MS = 60_000  # two shared cores: a page may wait behind other suites

# Quiet and offline: no first-run work, no component updates, no reporting home.
CHROMIUM_ARGS = [
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-default-apps", "--disable-domain-reliability", "--disable-breakpad",
    "--no-first-run", "--no-default-browser-check", "--metrics-recording-only",
    "--disable-dev-shm-usage",
]


def chromium_args(euid: int | None = None) -> list[str]:
    """Chromium's flags; ``--no-sandbox`` only for root, whom the sandbox refuses."""
    euid = os.geteuid() if euid is None else euid
    return [*CHROMIUM_ARGS, *(["--no-sandbox"] if euid == 0 else [])]


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make venv` installs Debian's chromium package")
    from playwright.sync_api import Error, expect, sync_playwright

    expect.set_options(timeout=TIMEOUT_MS)

    with sync_playwright() as playwright:
        try:
            chromium = playwright.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=chromium_args(),
                timeout=TIMEOUT_MS)
        except Error as exc:
            pytest.fail(f"Chromium did not start (as uid {os.geteuid()}; its sandbox needs "
                        f"user namespaces unless run as root): {exc}")
        yield chromium
        chromium.close()


@dataclass
class Stack:
    """The web app and a Celery worker on one test database."""

    url: str
    env: dict[str, str]
    logs: list[Path] = field(default_factory=list)

    def log_tails(self) -> str:
        return "".join(log_tail(path) for path in self.logs)


@pytest.fixture
def stack_settings() -> str:
    """The stack's settings_local.py text; a module overrides this fixture to run the
    stack with settings of its own (payment backends, …)."""
    return ""


@pytest.fixture
def stack(db, redis_server, tmp_path, stack_settings) -> Iterator[Stack]:
    settings_file = tmp_path / "settings_local.py"
    # The database is a copy of the synced web template: FAB's rows are there already.
    settings_file.write_text("WEB_SYNC_PERMISSIONS = False\n" + stack_settings)
    env = {
        **ebs_env(db, settings_file),
        "EBS_STATE_DIR": str(tmp_path / "state"),
        "EBS_REDIS_HOST": "127.0.0.1",
        "EBS_REDIS_PORT": str(redis_server.port),
        "EBS_REDIS_DB": REDIS_DB,
        "EBS_REDIS_PASSWORD": redis_server.password,
        "EBS_SECRET_KEY": uuid.uuid4().hex,
        "EBS_LANGUAGE_CODE": "en",
        "PYTHONPATH": str(settings_mod.PROJECT_ROOT),
    }
    run, logs = tmp_path / "run", tmp_path / "log"
    worker = ManagedProcess(
        "celery-worker",
        [sys.executable, "-m", "celery", "-A", "worker.app:celery",
         "worker", "--loglevel=INFO", "--concurrency=1", "--without-gossip",
         "--without-mingle", "-n", f"browser-{uuid.uuid4().hex[:8]}@%h"],
        run, logs, cwd=settings_mod.PROJECT_ROOT, env=env)
    web = start_with_retry(lambda: WebServer(run, logs, free_port(), workers=2,
                                             cwd=settings_mod.PROJECT_ROOT, env=env))
    try:
        worker.start()
    except ServerError:
        web.stop()
        raise
    try:
        yield Stack(web.url, env, [web.process.log, worker.log])
    finally:
        # Both wind down at once: a warm Celery shutdown and gunicorn's take seconds each.
        with ThreadPoolExecutor(2) as pool:
            for stopping in [pool.submit(worker.stop), pool.submit(web.stop)]:
                stopping.result()


@dataclass
class Shots:
    """Screenshots of one test, taken once a step's assertions have passed."""

    directory: Path
    taken: list[Path] = field(default_factory=list)

    def take(self, page, name: str) -> Path:
        path = self.directory / f"{len(self.taken) + 1:02d}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        self.taken.append(path)
        return path


@pytest.fixture
def shots(request) -> Shots:
    directory = SCREENSHOTS / request.node.name
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    print(f"screenshots: {directory}")
    return Shots(directory)


@dataclass
class Outside:
    """Requests a page tried to send beyond this machine (aborted)."""

    urls: list[str] = field(default_factory=list)


@pytest.fixture
def page(browser, stack, shots, request):
    context = browser.new_context(base_url=stack.url, locale="en-US",
                                  viewport={"width": 1366, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    outside = Outside()

    def only_local(route):
        if urlsplit(route.request.url).hostname in LOCAL_HOSTS:
            route.continue_()
        else:
            outside.urls.append(route.request.url)
            route.abort()

    context.route("**/*", only_local)
    tab = context.new_page()
    tab.outside = outside
    # Uncaught script errors of any page (a broken inline script silently disables
    # the buttons it wires up).
    tab.script_errors = []
    tab.on("pageerror", lambda error: tab.script_errors.append(str(error)))
    yield tab
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        tab.screenshot(path=str(shots.directory / "failed.png"), full_page=True)
        print(stack.log_tails())
    context.close()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


def pytest_terminal_summary(terminalreporter):
    if SCREENSHOTS.exists() and any(SCREENSHOTS.iterdir()):
        terminalreporter.write_line(f"browser screenshots: {SCREENSHOTS}")
