"""Suite-wide fixtures and options."""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any

import pytest
import pytest_textual_snapshot

ROOT = Path(__file__).resolve().parent.parent


class _TopLevelSnapshots(pytest_textual_snapshot.SVGImageExtension):
    """Keep accepted SVG snapshots in the repo's top-level snapshots/ folder.

    pytest-textual-snapshot pins syrupy 4.8, which has no --snapshot-dirname; snap_compare looks
    this class up by name when called, so replacing it is enough.
    """

    @classmethod
    def dirname(cls, *, test_location):  # type: ignore[no-untyped-def]
        return str(ROOT / "snapshots" / Path(test_location.filepath).stem)


pytest_textual_snapshot.SVGImageExtension = _TopLevelSnapshots  # type: ignore[misc]


# UPBIT_TUI_TEST_LOOPS=uvloop (or asyncio,uvloop: each test once per loop) runs the async tests
# on the loops named, as `[connection] event_loop` lets the app and headless run; unset, every
# test runs on pytest-asyncio's default (asyncio's own loop).
_LOOPS = [name for name in os.environ.get("UPBIT_TUI_TEST_LOOPS", "").split(",") if name]
if _LOOPS:
    from upbit_tui.eventloop import new_event_loop

    def pytest_asyncio_loop_factories(config: pytest.Config, item: pytest.Item) -> dict[str, Any]:
        return {name: functools.partial(new_event_loop, name) for name in _LOOPS}


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--run-soak", action="store_true", help="run long soak/chaos tests (marked 'soak')"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--run-soak"):
        return
    skip = pytest.mark.skip(reason="soak test: opt in with --run-soak")
    for item in items:
        if "soak" in item.keywords:
            item.add_marker(skip)
