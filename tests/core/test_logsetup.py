"""Log hygiene: repeated messages are rate-limited, the file rotates, tokens never reach it."""

from __future__ import annotations

import logging
import logging.handlers
from collections.abc import Iterator
from pathlib import Path

import pytest

from upbit_tui import logsetup
from upbit_tui.config import LoggingConfig
from upbit_tui.logsetup import RepeatFilter, setup_logging
from upbit_tui.redaction import REDACTED_JWT, redact

# A token shaped like ours (HS512 header, a payload with an access key): never to be seen.
JWT = (
    "eyJhbGciOiJIUzUxMiIsInR5cCI6IkpXVCJ9."
    "eyJhY2Nlc3Nfa2V5IjoiYWNjZXNzLWtleS0xMjMiLCJub25jZSI6IjEifQ."
    "c2lnbmF0dXJlLXNpZ25hdHVyZS1zaWduYXR1cmU"
)


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _record(msg: str, *args: object, name: str = "upbit_tui.x") -> logging.LogRecord:
    return logging.LogRecord(name, logging.WARNING, __file__, 1, msg, args, None)


def test_repeat_filter_passes_a_burst_then_counts_and_reports_the_rest() -> None:
    clock = FakeClock()
    repeat = RepeatFilter(burst=3, interval=60.0, clock=clock)
    passed = [repeat.filter(_record("error frame: %s", i)) for i in range(20)]
    assert passed == [True] * 3 + [False] * 17
    assert repeat.filter(_record("another kind")) is True  # kinds are counted apart
    clock.now += 61.0
    record = _record("error frame: %s", 20)
    assert repeat.filter(record) is True
    assert record.getMessage() == "error frame: 20 [suppressed 17 similar messages before this]"
    assert repeat.suppressed_total == 17


@pytest.fixture
def root_logger() -> Iterator[logging.Logger]:
    root = logging.getLogger()
    saved = (list(root.handlers), root.level, logging.getLogRecordFactory())
    yield root
    for handler in list(root.handlers):
        root.removeHandler(handler)
        handler.close()
    for handler in saved[0]:
        root.addHandler(handler)
    root.setLevel(saved[1])
    logging.setLogRecordFactory(saved[2])


def _flush(root: logging.Logger) -> None:
    for handler in root.handlers:
        handler.flush()


def test_the_log_file_rotates(
    tmp_path: Path, root_logger: logging.Logger, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(logsetup, "LOG_MAX_BYTES", 10_000)
    path = setup_logging(LoggingConfig(level="INFO", file=str(tmp_path / "a.log")))
    assert isinstance(root_logger.handlers[0], logging.handlers.RotatingFileHandler)
    log = logging.getLogger("upbit_tui.test")
    for i in range(2000):
        log.info("line %d %s", i, "x" * 50)  # one kind: most are suppressed
        log.info(f"distinct line {i} {'y' * 50}")
    _flush(root_logger)
    files = sorted(tmp_path.glob("a.log*"))
    assert [f.name for f in files] == ["a.log", "a.log.1", "a.log.2", "a.log.3"]
    assert all(f.stat().st_size <= 10_000 for f in files)
    assert "distinct line 1999" in path.read_text()


def test_a_flood_of_one_message_writes_a_burst_not_megabytes(
    tmp_path: Path, root_logger: logging.Logger
) -> None:
    path = setup_logging(LoggingConfig(level="INFO", file=str(tmp_path / "a.log")))
    log = logging.getLogger("upbit_tui.client.manager")
    for _ in range(20_000):
        log.warning("Upbit %s WebSocket error frame: %s", "public", "INVALID_PARAM: bad")
    _flush(root_logger)
    assert len(path.read_text().splitlines()) == logsetup.REPEAT_BURST


def test_no_token_reaches_the_log_file_tracebacks_included(
    tmp_path: Path, root_logger: logging.Logger
) -> None:
    path = setup_logging(LoggingConfig(level="INFO", file=str(tmp_path / "a.log")))
    log = logging.getLogger("upbit_tui.test")
    log.warning("server said: %s", f"bad header Authorization: Bearer {JWT}")
    try:
        raise RuntimeError(f"refused token {JWT}")
    except RuntimeError:
        log.exception("call failed")
    _flush(root_logger)
    text = path.read_text()
    assert "RuntimeError: refused token [redacted JWT]" in text
    assert "Bearer [redacted]" in text
    assert "eyJ" not in text and "c2lnbmF0dXJl" not in text


def test_other_handlers_get_redacted_records_too(
    tmp_path: Path, root_logger: logging.Logger, capsys: pytest.CaptureFixture[str]
) -> None:
    # Headless logs to stderr with its own handler: the record itself is redacted.
    setup_logging(LoggingConfig(level="INFO", file=str(tmp_path / "a.log")))
    stderr = logging.StreamHandler()
    root_logger.addHandler(stderr)
    logging.getLogger("upbit_tui.test").error("quoted: Authorization: bearer %s", JWT)
    assert "eyJ" not in capsys.readouterr().err


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"Authorization: Bearer {JWT}", "Authorization: Bearer [redacted]"),
        (f"authorization=bearer%20{JWT}&x=1", "authorization=bearer [redacted]&x=1"),
        (f'{{"token": "{JWT}"}}', f'{{"token": "{REDACTED_JWT}"}}'),
        ("INVALID_PARAM: WRONG FORMAT", "INVALID_PARAM: WRONG FORMAT"),
        ("eyJ alone is not a token", "eyJ alone is not a token"),
    ],
)
def test_redact(text: str, expected: str) -> None:
    assert redact(text) == expected
