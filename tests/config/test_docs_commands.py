"""The README's commands are the ones that work: two set-up lines first, CI's lint line verbatim."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
CI = (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def test_readme_starts_with_two_set_up_commands_app_then_tests() -> None:
    first_block = re.match(r"# upbit-tui\n\n```sh\n(.*?)```", README, re.DOTALL)
    assert first_block is not None
    lines = first_block.group(1).splitlines()
    assert len(lines) == 2
    assert lines[0].endswith(".venv/bin/upbit-tui --demo")
    assert lines[1].endswith(".venv/bin/pytest")


def test_readme_lint_line_is_what_ci_runs() -> None:
    lint = [line for line in README.splitlines() if "ruff check" in line]
    assert len(lint) == 1
    command = lint[0].split("#")[0].strip()
    assert command == ".venv/bin/ruff check . && .venv/bin/ruff format --check . && .venv/bin/mypy"
    assert command in CI
    ci_lint = [line for line in CI.splitlines() if "ruff" in line and not line.startswith("#")]
    assert ci_lint == [f"{command} || exit 1"]


def test_lint_tools_are_pinned_exactly() -> None:
    dev = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    pins = {re.split(r"[=<>!~ ]", d)[0]: d for d in dev["dev"]}
    for tool in ("ruff", "mypy", "pytest-textual-snapshot"):
        assert re.fullmatch(rf"{tool}==[\d.]+", pins[tool]), pins[tool]


def test_readme_commands_after_set_up_say_how_to_reach_the_venv() -> None:
    set_up_end = README.index("```", README.index("```sh") + 3)
    note = README[set_up_end : README.index("## Why it exists")]
    assert ". .venv/bin/activate" in note and "`.venv/bin/`" in note
