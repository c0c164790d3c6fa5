"""The front ends: `upbit-tui gateway`, `headless --gateway`, and `[gateway]` in the config."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from gateway_harness import TIMEOUT_FACTOR, Child, gateway_config_file, wait_until

from upbit_tui.config import ConfigError, load_config
from upbit_tui.eventloop import resolve_event_loop
from upbit_tui.gateway.attach import build_manager
from upbit_tui.gateway.localserver import LocalNatsServer
from upbit_tui.gateway.remote import RemoteWebSocketManager


def closed_port_url() -> str:
    """A loopback URL where nothing listens (the port was just free)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"nats://127.0.0.1:{port}"


async def run_cli(*args: str, within: float = 30.0) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "upbit_tui", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    async with asyncio.timeout(within * TIMEOUT_FACTOR):
        out, err = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_gateway_without_nats_says_so_in_one_line_and_exits_2() -> None:
    url = closed_port_url()
    code, _, err = await run_cli("gateway", "--demo", "--nats", url)
    assert code == 2
    lines = [line for line in err.splitlines() if line.startswith("upbit-tui gateway:")]
    assert len(lines) == 1 and f"cannot reach NATS at {url}" in lines[0]
    assert "Traceback" not in err


async def test_headless_without_nats_says_so_in_one_line_and_exits_2() -> None:
    url = closed_port_url()
    code, out, err = await run_cli("headless", "--gateway", url, "--count", "1")
    assert code == 2 and out == ""
    assert f"upbit-tui headless: cannot reach NATS at {url}" in err
    assert "Traceback" not in err


async def test_headless_streams_through_a_gateway(
    sim: Any, nats_server: LocalNatsServer, tmp_path: Path
) -> None:
    config = gateway_config_file(tmp_path, sim)
    gateway = await Child.start(
        "-m", "upbit_tui", "gateway", "--config", str(config), "--nats", nats_server.url,
        "--name", "cli-gw",
    )  # fmt: skip
    try:
        async with RemoteWebSocketManager(nats_server.url, heartbeat=0.2) as probe:
            await wait_until(lambda: probe.gateway.get("gateway") == "cli-gw", what="gateway up")
        code, out, err = await run_cli(
            "headless", "--gateway", nats_server.url, "--symbols", "KRW-BTC",
            "--types", "trade", "--count", "5",
        )  # fmt: skip
        assert code == 0, err
        events = [json.loads(line) for line in out.splitlines()]
        assert len(events) == 5 and {e["code"] for e in events} == {"KRW-BTC"}
        assert all(e["epoch"] >= 1 and "sequential_id" in e for e in events)
        assert f"streaming trade for KRW-BTC from gateway {nats_server.url} " in err
        # Headless used the gateway's connection: the simulator saw one public socket only.
        public = [s for s in sim.stats()["connections"]["items"] if s["endpoint"] == "public"]
        assert len(public) == 1
        gateway.process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(10 * TIMEOUT_FACTOR):
            assert await gateway.process.wait() == 0
        assert gateway.process.stderr is not None
        logged = (await gateway.process.stderr.read()).decode()
        # `[connection] event_loop` ("auto") applies to the gateway as to the app and headless.
        assert f"cli-gw on {nats_server.url}, {resolve_event_loop('auto')} loop" in logged
    finally:
        await gateway.close()


def test_config_gateway_section_is_checked(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[gateway]\nnats_url = "http://127.0.0.1:4222"\n')
    with pytest.raises(ConfigError, match=r"\[gateway\] nats_url: expected a nats://"):
        load_config(path)
    path.write_text('[gateway]\nnats_url = "nats://127.0.0.1:4222"\nlease_ttl = 4\n')
    config = load_config(path)
    assert config.gateway.nats_url == "nats://127.0.0.1:4222" and config.gateway.lease_ttl == 4.0


@pytest.mark.parametrize(
    "argv",
    [["gateway", "--demo"], ["headless", "--gateway", "nats://127.0.0.1:4222", "--count", "1"]],
)
def test_without_nats_py_the_gateway_commands_say_what_to_install(argv: list[str]) -> None:
    # The default install has no nats-py (it is the `gateway` extra): one line, exit 2.
    code = (
        "import sys; sys.modules['nats'] = None; from upbit_tui.cli import main; "
        f"sys.exit(main({argv!r}))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 2, done.stderr
    lines = [line for line in done.stderr.splitlines() if "INFO" not in line]
    assert len(lines) == 1 and "pip install 'upbit-tui[gateway]'" in lines[0], done.stderr


@pytest.mark.parametrize(("value", "expected"), [("0", None), ("4", 4), ("", 16)])
def test_config_batch_min_codes_reaches_the_remote_manager(
    tmp_path: Path, value: str, expected: int | None
) -> None:
    path = tmp_path / "c.toml"
    line = f"batch_min_codes = {value}\n" if value else ""
    path.write_text(f'[gateway]\nnats_url = "nats://127.0.0.1:4222"\n{line}')
    manager = build_manager(load_config(path), name="bot")
    assert isinstance(manager, RemoteWebSocketManager)
    assert manager.batch_min_codes == expected


def test_config_batch_min_codes_must_be_a_count(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("[gateway]\nbatch_min_codes = -1\n")
    with pytest.raises(ConfigError, match=r"\[gateway\] batch_min_codes"):
        load_config(path)
