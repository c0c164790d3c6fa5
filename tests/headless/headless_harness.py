"""Shared helpers of the headless tests: run the real `upbit-tui headless` as a subprocess."""

from __future__ import annotations

import os

# The suite's one timing factor (tests/conftest.py reads the same variable).
TIMEOUT_FACTOR = float(os.environ.get("UPBIT_TUI_TEST_TIMEOUT_FACTOR", "1"))
