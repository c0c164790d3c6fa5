"""The simulator's modules import each other without circles (issue 11).

Every import counts: module level, inside functions and under TYPE_CHECKING, since a circle
of any kind means neither module can be read (or moved) without the other.
"""

from __future__ import annotations

import ast
from pathlib import Path

import upbit_tui.exchange

PACKAGE = "upbit_tui.exchange"
ROOT = Path(upbit_tui.exchange.__file__).parent


def _imports(path: Path) -> set[str]:
    """The sibling modules `path` imports, anywhere in the file."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names: list[str] = []
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            names = [str(node.args[0].value)]
        for name in names:
            if name.startswith(PACKAGE + "."):
                module = name.removeprefix(PACKAGE + ".").split(".")[0]
                if (ROOT / f"{module}.py").exists():
                    found.add(module)
    return found


def _graph() -> dict[str, set[str]]:
    modules = {path.stem: path for path in ROOT.glob("*.py") if path.stem != "__init__"}
    return {name: _imports(path) - {name} for name, path in modules.items()}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle, as a path of module names, or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for child in sorted(graph.get(node, ())):
            if state.get(child) == 1:
                return [*stack[stack.index(child) :], child]
            if child not in state and (found := visit(child)) is not None:
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)) is not None:
            return found
    return None


def test_the_finder_sees_a_circle() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_exchange_modules_import_without_circles() -> None:
    graph = _graph()
    assert "server" in graph and "fanout" in graph  # the scan found the package
    assert _cycle(graph) is None, " -> ".join(_cycle(graph) or [])
