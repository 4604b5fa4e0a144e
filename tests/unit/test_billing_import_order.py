"""No import circle inside ``billing``, not even one hidden in a function body.

The charge tick runs the services' steps (scheduled tariff changes, suspensions ending),
so the services must not need the tick: what they share with it (the settled time) lives
in ``billing.charging.runs``. A circle means two modules are one rule split in two.
"""

from tests.import_graph import ROOT, module_name, project_imports


def _graph() -> dict[str, set[str]]:
    """billing's modules and the billing modules each imports (at the top or inside a
    function); a package's own ``__init__`` is not counted as a dependency."""
    imports = list(project_imports(packages=("billing",)))
    modules = {module for module, _ in imports} | {
        module_name(p, ROOT)[0] for p in (ROOT / "billing").rglob("*.py")
    }
    graph: dict[str, set[str]] = {module: set() for module in modules}
    for module, name in imports:
        if name in modules:
            graph[module].add(name)
        elif name.rsplit(".", 1)[0] in modules:  # ``from billing.x import f``
            graph[module].add(name.rsplit(".", 1)[0])
    for name, targets in graph.items():
        targets.discard(name.rsplit(".", 1)[0])
        targets.discard("billing")
        targets.discard(name)
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
