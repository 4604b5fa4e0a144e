"""Money moves through ``billing`` services only: no module of ``webapp/`` or ``worker/``
imports the ledger's posting API (``billing.ledger``: ``Entry``, ``post``, ``reverse``…).

Read from the modules' imports (``tests/import_graph.py``: every spelling, at any depth,
relative ones and ``import_module`` included), so a comment or a string naming the ledger
does not count and an alias or a ``from billing import ledger as l`` does.
"""

from __future__ import annotations

from tests.import_graph import is_within, module_imports, project_imports

ADAPTERS = ("webapp", "worker")
POSTING_API = "billing.ledger"


def ledger_imports(pairs) -> list[str]:
    """``module -> name`` for every import of the posting API among ``pairs``."""
    return [f"{module} -> {name}" for module, name in pairs if is_within(name, POSTING_API)]


def test_no_adapter_module_imports_the_ledgers_posting_api():
    pairs = list(project_imports(packages=ADAPTERS))
    assert len({module for module, _ in pairs}) > 20, "the adapters' modules were not found"
    assert ledger_imports(pairs) == [], (
        f"adapters import {POSTING_API}; post through billing.payments (or another billing "
        "service) instead")


def _pairs(source: str, module: str = "webapp.views.x") -> list[tuple[str, str]]:
    return [(module, name) for name in module_imports(module, source)]


def test_the_check_sees_every_spelling_and_ignores_mere_mentions():
    for source in ("from billing import ledger", "import billing.ledger",
                   "from billing.ledger import Entry, post", "from billing import ledger as l",
                   "import billing.ledger as money", "def f():\n    from billing import ledger\n",
                   "import importlib\nimportlib.import_module('billing.ledger')"):
        assert ledger_imports(_pairs(source)), source
    for source in ("from billing import payments", "# billing.ledger.post(...)",
                   "doc = 'posted by billing.ledger'", "from billing import ledger_totals",
                   "from webapp.views.ledger import kind_label", "from . import ledger"):
        assert not ledger_imports(_pairs(source)), source
