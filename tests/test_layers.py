"""The folders are layers: no import circles, nothing below the app imports Textual, and the
simulator and the client share no protocol code (issue 11).

The import graph is read from the source with `ast`, so imports inside functions count as much
as those at the top; only imports under `if TYPE_CHECKING:` are left out (they never run).
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "upbit_tui"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST, module: str, is_package: bool) -> Iterator[str]:
    """Every module name imported anywhere in `tree` except under `if TYPE_CHECKING:`."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            yield from (name for child in node.orelse for name in _imports(child, module, False))
            continue
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".")
                anchor = anchor[: len(anchor) - node.level + (1 if is_package else 0)]
                base = ".".join([*anchor, base] if base else anchor)
            yield base
            # `from package import module` imports the module too.
            yield from (f"{base}.{alias.name}" for alias in node.names)
        yield from _imports(node, module, is_package)


def _graph() -> dict[str, set[str]]:
    paths = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in paths.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        found = set(_imports(tree, name, path.name == "__init__.py"))
        graph[name] = {m for m in found if m in paths and m != name} | {
            m
            for m in found
            if m not in paths  # third-party names, for the Textual check
        }
    return graph


GRAPH = _graph()
OURS = {m for m in GRAPH}


def _under(module: str, prefixes: Iterable[str]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def _cycles(members: set[str], graph: dict[str, set[str]] = GRAPH) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph[node] & members:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(members):
        if node not in index:
            visit(node)
    return found


CLIENT_LAYERS = (
    "upbit_tui.wire",
    "upbit_tui.net",
    "upbit_tui.client",
    "upbit_tui.config",
    "upbit_tui.logsetup",
)
BELOW_THE_APP = (*CLIENT_LAYERS, "upbit_tui.headless", "upbit_tui.exchange")
PROTOCOL_CODE = ("upbit_tui.wire", "upbit_tui.net", "upbit_tui.client")


def test_the_graph_sees_function_level_imports() -> None:
    # manager.py imports MarketDirectory inside a method, never at the top.
    assert "upbit_tui.net.markets" in GRAPH["upbit_tui.client.manager"]
    # health.py names the manager only for type checking: not an edge.
    assert "upbit_tui.client.manager" not in GRAPH["upbit_tui.client.health"]


def test_the_circle_finder_finds_function_level_and_long_circles() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": {"e"}}
    assert _cycles(set(graph), graph) == [["a", "b", "c"]]
    tree = ast.parse("def f():\n    import upbit_tui.client.proxy\n")
    assert list(_imports(tree, "upbit_tui.client.manager", False)) == ["upbit_tui.client.proxy"]


@pytest.mark.parametrize(
    "layers",
    [
        pytest.param(CLIENT_LAYERS, id="client"),
        pytest.param(("upbit_tui.headless",), id="headless"),
        pytest.param(("upbit_tui.exchange",), id="exchange"),
        pytest.param(("upbit_tui.tui",), id="tui"),
        pytest.param(("upbit_tui.gateway",), id="gateway"),
    ],
)
def test_no_import_circles(layers: tuple[str, ...]) -> None:
    members = {m for m in OURS if _under(m, layers)}
    assert members, f"no modules under {layers}"
    assert _cycles(members) == []


# Each client layer may import itself and the layers before it, nothing after.
LAYER_ORDER = (
    ("upbit_tui.wire",),
    ("upbit_tui.config", "upbit_tui.logsetup"),
    ("upbit_tui.net",),
    ("upbit_tui.client",),
)


@pytest.mark.parametrize("position", range(len(LAYER_ORDER)), ids=lambda i: LAYER_ORDER[i][0])
def test_a_client_layer_imports_only_the_layers_before_it(position: int) -> None:
    allowed = [p for layer in LAYER_ORDER[: position + 1] for p in layer]
    later = [p for layer in LAYER_ORDER[position + 1 :] for p in layer]
    upward = {
        module: sorted(m for m in imported if _under(m, later) and not _under(m, allowed))
        for module, imported in GRAPH.items()
        if _under(module, LAYER_ORDER[position])
    }
    assert {m: i for m, i in upward.items() if i} == {}


def test_nothing_below_the_app_imports_textual() -> None:
    forbidden = ("textual", "textual_plotext", "upbit_tui.tui", "widgets")
    offenders = {
        module: sorted(m for m in imported if _under(m, forbidden))
        for module, imported in GRAPH.items()
        if _under(module, BELOW_THE_APP)
    }
    assert {m: i for m, i in offenders.items() if i} == {}


def test_the_simulator_and_the_client_share_no_protocol_code() -> None:
    crossings = {
        module: sorted(
            m
            for m in imported
            if (_under(module, ("upbit_tui.exchange",)) and _under(m, PROTOCOL_CODE))
            or (_under(module, PROTOCOL_CODE) and _under(m, ("upbit_tui.exchange",)))
        )
        for module, imported in GRAPH.items()
    }
    assert {m: i for m, i in crossings.items() if i} == {}
