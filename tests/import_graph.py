"""Who imports what, read from the source: every ``import``, ``from … import``, relative
import and ``importlib.import_module("…")`` of a module, at any depth (inside functions
and ``if TYPE_CHECKING:`` blocks too), without importing anything.

Tests hold DESIGN.md's arrows with it (tests/unit/test_import_rules.py) and may add rules
of their own over the same pairs, e.g.::

    for module, name in project_imports():
        if module.startswith("webapp.") and is_within(name, "billing.ledger"):
            ...

A name is the full dotted name of what was imported: ``from billing.ledger import post``
gives ``billing.ledger.post``, ``from billing import ledger`` gives ``billing.ledger``,
``import psycopg.rows`` gives ``psycopg.rows``; :func:`is_within` matches a prefix by
whole components.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# The project's packages (pyproject.toml), tests aside: they may import anything.
PACKAGES = ("billing", "rlm_ebs", "flow", "worker", "webapp", "stack", "cli", "bench")


def is_within(name: str, prefix: str) -> bool:
    """``billing.ledger.post`` is within ``billing.ledger`` and ``billing``; ``billing_x``
    is not within ``billing``."""
    return name == prefix or name.startswith(prefix + ".")


def _resolve(module: str, is_package: bool, level: int, target: str | None) -> str:
    """The absolute name of a relative import (``from ..x import y`` in ``module``)."""
    parts = module.split(".") if is_package else module.split(".")[:-1]
    if level > 1:
        parts = parts[: len(parts) - (level - 1)]
    return ".".join([*parts, target] if target else parts)


def module_imports(module: str, source: str, *, is_package: bool = False) -> Iterator[str]:
    """Every name the source of ``module`` imports, in source order."""
    for node in ast.walk(ast.parse(source, filename=module)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = _resolve(module, is_package, node.level, node.module)
            for alias in node.names:
                yield base if alias.name == "*" else f"{base}.{alias.name}"
        elif (
            isinstance(node, ast.Call)
            and _called_name(node.func) in ("importlib.import_module", "import_module")
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            yield node.args[0].value


def _called_name(func: ast.expr) -> str:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
        return f"{func.value.id}.{func.attr}"
    return ""


def module_name(path: Path, root: Path) -> tuple[str, bool]:
    """``webapp/api/__init__.py`` → (``webapp.api``, True); ``stack/local.py`` →
    (``stack.local``, False)."""
    parts = path.relative_to(root).with_suffix("").parts
    if parts[-1] == "__init__":
        return ".".join(parts[:-1]), True
    return ".".join(parts), False


def project_imports(
    root: Path = ROOT, packages: Iterable[str] = PACKAGES
) -> Iterator[tuple[str, str]]:
    """(module, imported name) for every import of every module of ``packages`` under
    ``root``."""
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            if "__pycache__" in path.parts:
                continue
            module, is_package = module_name(path, root)
            source = path.read_text(encoding="utf-8")
            for name in module_imports(module, source, is_package=is_package):
                yield module, name
