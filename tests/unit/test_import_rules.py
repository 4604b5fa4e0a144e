"""DESIGN.md's arrows, held by reading every module's imports (tests/import_graph.py):
adapters depend on ``billing``, never the reverse; adapters never import each other
except ``worker`` → ``flow``, ``worker`` → ``stack`` and ``cli`` → anything. The web app
asks the worker for work by Celery task name, never by importing ``worker``."""

from __future__ import annotations

import sys
from collections.abc import Iterable

import pytest

from tests.import_graph import PACKAGES, ROOT, is_within, module_imports, project_imports

ANY = None  # may import any package of ours
# The table's "may import" column, each package also importing itself.
MAY_IMPORT: dict[str, set[str] | None] = {
    "billing": {"billing"},
    "rlm_ebs": {"rlm_ebs", "billing"},
    "flow": {"flow", "billing"},
    "worker": {"worker", "billing", "flow", "stack"},
    "webapp": {"webapp", "billing"},
    "stack": {"stack", "billing"},
    "cli": ANY,
    "bench": ANY,
}
OURS = {*PACKAGES, "tests"}
# billing's outside world: the standard library, psycopg 3, SQLAlchemy where a service
# truly needs it, and pycryptodome (MD4 and AES-GCM for credentials: hashlib has no MD4
# on OpenSSL 3), a computation library with no I/O; for notifications, phonenumbers
# (libphonenumber's numbering plans) and Jinja's sandbox (the operator's templates), two
# more of the kind. No Flask, no Celery, no radiusd.
BILLING_OUTSIDE = {"psycopg", "psycopg_pool", "sqlalchemy", "Crypto", "phonenumbers",
                   "jinja2"}
# Only FreeRADIUS's embedded interpreter has radiusd; one module turns its tuples into
# typed requests and replies.
RADIUSD_ONLY_IN = {"rlm_ebs.hooks"}


def arrow_violations(pairs: Iterable[tuple[str, str]]) -> list[str]:
    """``module -> name`` for every import that breaks the table, in the order given."""
    found = []
    for module, name in pairs:
        package, top = module.split(".")[0], name.split(".")[0]
        if top == "radiusd":
            broken = module not in RADIUSD_ONLY_IN
        elif top in OURS:
            allowed = MAY_IMPORT.get(package, set())
            broken = allowed is not ANY and top not in allowed
        elif top in sys.stdlib_module_names:
            broken = False
        else:
            broken = package == "billing" and top not in BILLING_OUTSIDE
        if broken:
            found.append(f"{module} -> {name}")
    return found


def test_every_package_has_a_row():
    """A new top-level package gets its arrows written down before it can import."""
    on_disk = {p.parent.name for p in ROOT.glob("*/__init__.py")} - {"tests"}
    assert on_disk == set(PACKAGES) == set(MAY_IMPORT)


def test_the_project_keeps_the_arrows():
    pairs = list(project_imports())
    assert len({module for module, _ in pairs}) > 100  # the walk found the project
    assert arrow_violations(pairs) == []


def _violations(module: str, source: str, *, is_package: bool = False) -> list[str]:
    return arrow_violations(
        (module, name) for name in module_imports(module, source, is_package=is_package))


@pytest.mark.parametrize(("module", "source", "broken"), [
    # billing imports no adapter and no framework, not even from inside a function
    ("billing.synthetic", "def later():\n    import flask\n", "flask"),
    ("billing.synthetic", "def later():\n    from celery import shared_task\n",
     "celery.shared_task"),
    ("billing.synthetic", "from stack.acct_spool import drain\n", "stack.acct_spool.drain"),
    ("billing.synthetic", "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                          "    from webapp import app\n", "webapp.app"),
    ("billing.synthetic", "import importlib\nimportlib.import_module('worker.coa')\n",
     "worker.coa"),
    # the web app asks the worker by task name; it imports neither worker nor stack nor cli
    ("webapp.views.synthetic", "from worker.coa import send\n", "worker.coa.send"),
    ("webapp.views.synthetic", "from ...stack import nas_sync\n", "stack.nas_sync"),
    ("webapp.synthetic", "import cli.main\n", "cli.main"),
    # billing never imports stack; stack never imports worker or cli
    ("stack.synthetic", "from worker import app\n", "worker.app"),
    ("flow.synthetic", "import stack\n", "stack"),
    ("rlm_ebs.core", "import radiusd\n", "radiusd"),
    ("worker.synthetic", "from webapp import tasks_client\n", "webapp.tasks_client"),
])
def test_a_module_that_breaks_an_arrow_is_named(module, source, broken):
    assert _violations(module, source) == [f"{module} -> {broken}"]


@pytest.mark.parametrize(("module", "source"), [
    ("billing.synthetic", "import decimal\nfrom psycopg import sql\nfrom . import money\n"),
    ("worker.synthetic", "from stack import nas_sync\nfrom flow import rating\n"),
    ("stack.synthetic", "from billing import settings\nimport psycopg\n"),
    ("rlm_ebs.hooks", "import radiusd\nfrom rlm_ebs import core\n"),
    ("webapp.synthetic", "from celery import Celery\nfrom billing import accounts\n"),
    ("cli.synthetic", "from stack.local import Stack\nfrom worker import app\n"),
])
def test_an_allowed_arrow_passes(module, source):
    assert _violations(module, source) == []


def test_a_violation_on_disk_is_found_by_the_walk(tmp_path):
    """The walk reads packages and relative imports as the project has them."""
    (tmp_path / "billing" / "charging").mkdir(parents=True)
    (tmp_path / "billing" / "__init__.py").write_text("")
    (tmp_path / "billing" / "charging" / "__init__.py").write_text("from .. import money\n")
    (tmp_path / "billing" / "charging" / "late.py").write_text(
        "def tick():\n    from stack.servers.freeradius import restart\n    restart()\n")
    (tmp_path / "webapp").mkdir()
    (tmp_path / "webapp" / "__init__.py").write_text("from .views import base\n")
    pairs = list(project_imports(tmp_path, ("billing", "webapp")))
    assert ("billing.charging", "billing.money") in pairs
    assert ("webapp", "webapp.views.base") in pairs
    assert arrow_violations(pairs) == [
        "billing.charging.late -> stack.servers.freeradius.restart"]


def test_within_matches_whole_components():
    assert is_within("billing.ledger.post", "billing.ledger")
    assert is_within("billing.ledger", "billing.ledger")
    assert not is_within("billing.ledger_totals", "billing.ledger")
