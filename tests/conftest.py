"""Suite-wide fixtures and options."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import pytest_textual_snapshot

ROOT = Path(__file__).resolve().parent.parent

# Timing constants in tests scale with one factor for slow machines (as python-websockets does).
TIMEOUT_FACTOR = float(os.environ.get("UPBIT_TUI_TEST_TIMEOUT_FACTOR", "1"))


class _TopLevelSnapshots(pytest_textual_snapshot.SVGImageExtension):
    """Keep accepted SVG snapshots in the repo's top-level snapshots/ folder.

    pytest-textual-snapshot pins syrupy 4.8, which has no --snapshot-dirname; snap_compare looks
    this class up by name when called, so replacing it is enough.
    """

    @classmethod
    def dirname(cls, *, test_location):  # type: ignore[no-untyped-def]
        return str(ROOT / "snapshots" / Path(test_location.filepath).stem)


pytest_textual_snapshot.SVGImageExtension = _TopLevelSnapshots  # type: ignore[misc]


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
