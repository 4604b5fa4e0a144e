"""Money moves through ``billing`` services only: no module of ``webapp/`` or ``worker/``
imports the ledger's posting API (``billing.ledger``: ``Entry``, ``post``, ``reverse``…).

Read from the modules' import statements (their syntax trees), so a comment or a string
naming the ledger does not count and an alias or a ``from billing import ledger as l`` does.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ADAPTERS = ("webapp", "worker")
POSTING_API = "billing.ledger"


def imported_modules(source: str) -> set[str]:
    """Every module a source imports, by full dotted name (``from a import b`` gives both
    ``a`` and ``a.b``, since ``b`` may be a module)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def posts_to_the_ledger(source: str) -> bool:
    return any(name == POSTING_API or name.startswith(POSTING_API + ".")
               for name in imported_modules(source))


def _adapter_modules() -> list[Path]:
    files = [p for package in ADAPTERS for p in sorted((ROOT / package).rglob("*.py"))]
    assert len(files) > 20, "the adapters' modules were not found"
    return files


def test_no_adapter_module_imports_the_ledgers_posting_api():
    offenders = [
        str(path.relative_to(ROOT)) for path in _adapter_modules()
        if posts_to_the_ledger(path.read_text(encoding="utf-8"))
    ]
    assert offenders == [], (
        f"{offenders} import {POSTING_API}; post through billing.payments (or another "
        "billing service) instead")


def test_the_check_sees_every_spelling_and_ignores_mere_mentions():
    for source in ("from billing import ledger", "import billing.ledger",
                   "from billing.ledger import Entry, post", "from billing import ledger as l",
                   "import billing.ledger as money", "def f():\n    from billing import ledger\n"):
        assert posts_to_the_ledger(source), source
    for source in ("from billing import payments", "# billing.ledger.post(...)",
                   "doc = 'posted by billing.ledger'", "from billing import ledger_totals",
                   "from webapp.views.ledger import kind_label", "from . import ledger"):
        assert not posts_to_the_ledger(source), source
