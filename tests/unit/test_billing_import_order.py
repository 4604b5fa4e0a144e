"""No import circle inside ``billing``, not even one hidden in a function body.

The charge tick runs the services' steps (scheduled tariff changes, suspensions ending),
so the services must not need the tick: what they share with it (the settled time) lives
in ``billing.charging.runs``. A circle means two modules are one rule split in two.
"""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _billing_imports(path: Path, modules: set[str]) -> set[str]:
    """Every billing module ``path`` imports, at the top or inside a function."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        else:
            continue
        found.update(name for name in names if name in modules)
    return found


def _graph() -> dict[str, set[str]]:
    paths = sorted((ROOT / "billing").rglob("*.py"))
    modules = {_module_name(p) for p in paths}
    graph = {_module_name(p): _billing_imports(p, modules) for p in paths}
    for name, targets in graph.items():  # a package's __init__ is not a dependency
        targets.discard(name.rsplit(".", 1)[0])
        targets.discard("billing")
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                return [*stack[stack.index(target):], target]
            if target not in state and (found := visit(target)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_billing_has_no_import_circle() -> None:
    assert _cycle(_graph()) is None


def test_the_tick_needs_the_services_not_the_reverse() -> None:
    graph = _graph()
    assert "billing.tariff_change" in graph["billing.charging.tick"]
    for service in ("billing.tariff_change", "billing.suspension", "billing.promise"):
        assert "billing.charging.tick" not in graph[service]


def test_the_circle_finder_finds_one() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
