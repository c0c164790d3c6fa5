"""The monitor (`d`) of an app attached to a gateway shows the gateway and its clients.

A real `upbit-tui gateway --demo` process on its own nats-server, the app attached with
`[gateway] nats_url`; the dashboard reads the gateway's health answer. Snapshots at 80 and 100
columns (snapshots/test_gateway_dashboard/): only figures that depend on the run (ports, ids,
elapsed time, counters, rates) are pinned; names, states, clients and subscriptions are what
the gateway reported.
"""

from __future__ import annotations

import dataclasses
import io
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest
from gateway_harness import (
    TIMEOUT_FACTOR,
    fast_config,
    fast_settings,
    unique_prefix,
    wait_until,
)
from rich.console import Console
from textual.pilot import Pilot

from upbit_tui.client.proxy import WebSocketClientProxy
from upbit_tui.config import ConnectionConfig, LoggingConfig, WatchlistConfig, load_config
from upbit_tui.gateway.attach import with_gateway
from upbit_tui.gateway.localserver import LocalNatsServer
from upbit_tui.gateway.remote import RemoteWebSocketManager
from upbit_tui.gateway.service import GatewayService
from upbit_tui.tui.app import UpbitApp, make_app
from widgets.dashboard import DashboardPane, render_gateway, render_health

SYMBOLS = ("KRW-BTC", "KRW-ETH", "KRW-XRP")
PANES = ("watchlist", "orderbook", "balances")
PINNED_URL = "nats://127.0.0.1:4222"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A nats-server of its own and `upbit-tui gateway --demo` on it; yields the NATS URL."""
    tmp = tmp_path_factory.mktemp("gwdash")
    # --demo serves the simulator's account over an open server too (test_nats_auth.py has
    # the refusal for real keys), so the balances pane shows data.
    with LocalNatsServer() as server:
        log = (tmp / "gateway.log").open("wb")
        process = subprocess.Popen(
            [sys.executable, "-m", "upbit_tui", "gateway", "--demo", "--nats", server.url,
             "--name", "gw-east"],
            stdout=subprocess.DEVNULL, stderr=log,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 20 * TIMEOUT_FACTOR
            while "is active" not in (tmp / "gateway.log").read_text(errors="replace"):
                assert process.poll() is None, (tmp / "gateway.log").read_text()
                assert time.monotonic() < deadline, "the gateway never became active"
                time.sleep(0.05)
            yield server.url
        finally:
            process.terminate()
            process.wait(timeout=10)
            log.close()


def attached_app(url: str) -> UpbitApp:
    config = load_config(None, environ={})
    config = config.replace(
        watchlist=WatchlistConfig(symbols=SYMBOLS),
        connection=dataclasses.replace(ConnectionConfig(), batch_window=0.01),
        logging=LoggingConfig(level="DEBUG", file=""),
    )
    return make_app(with_gateway(config, url), health_interval=None, panes=PANES)


def _components(health: dict[str, Any] | None) -> set[str]:
    gateway = (health or {}).get("gateway") or {}
    out: set[str] = set()
    for client in gateway.get("clients", ()):
        out.update(component.split("-")[0] for component in client["subscriptions"])
    return out


def pin_run_figures(data: dict[str, Any], health: dict[str, Any]) -> None:
    """Pin what differs from run to run (ports, ids, elapsed time, counters, rates), in place."""
    gateway = health["gateway"]
    gateway.update(
        instance="5f3a9c1e" + "0" * 24,
        nats_url=PINNED_URL,
        active_for_s=754.0,
        published=48_213,
        requests_served=1_207,
    )
    for index, client in enumerate(gateway["clients"]):
        client.update(last_seen_s=0.4, session=f"session-{index}")
    data["gateway"].update(nats_url=PINNED_URL, last_reply_s=0.3, session="session-0")
    for conn in health["connections"].values():
        conn["uptime"] = 754.0
    for sub in data["subscribers"]:
        sub["delivered"] = 1
    health.update(
        messages_per_second=40.0,
        average_latency_ms=3.2,
        p50_latency_ms=2.1,
        p99_latency_ms=9.8,
        max_latency_ms=14.0,
        memory_usage_mb=80.0,
        cpu_usage_percent=4.0,
    )


def dashboard_shown(app: UpbitApp) -> Any:
    async def run_before(pilot: Pilot[Any]) -> None:
        await pilot.press("d")
        dashboard = app.screen.query_one(DashboardPane)
        deadline = time.monotonic() + 20 * TIMEOUT_FACTOR
        while not (
            _components(dashboard.health) >= {"watchlist", "orderbook", "balances"}
            and (dashboard.health or {}).get("status") == "healthy"
        ):
            assert time.monotonic() < deadline, f"the gateway's clients: {dashboard.health}"
            await pilot.pause(0.05)
        await pilot.press("p")  # freeze it, as a user would to read it
        assert dashboard.data is not None and dashboard.health is not None
        pin_run_figures(dashboard.data, dashboard.health)
        app.sub_title = "gateway 127.0.0.1:4222"  # the server's port differs from run to run
        dashboard.rates.clear()
        dashboard.rates.extend([40.0, 38.0, 41.0, 40.0] * 5)
        dashboard.frame_rates = dict.fromkeys(dashboard.health["connections"], 40.0)
        dashboard.show(dashboard.data, dashboard.health)
        await pilot.pause()

    return run_before


def test_dashboard_shows_the_gateway_at_80_columns(served: str, snap_compare: Any) -> None:
    app = attached_app(served)
    assert snap_compare(app, terminal_size=(80, 44), run_before=dashboard_shown(app))


def test_dashboard_shows_the_gateway_at_100_columns(served: str, snap_compare: Any) -> None:
    app = attached_app(served)
    assert snap_compare(app, terminal_size=(100, 40), run_before=dashboard_shown(app))


@pytest.mark.parametrize("width", [80, 100])
async def test_gateway_section_lists_clients_and_fits(served: str, width: int) -> None:
    """The gateway's own health answer, unpinned, rendered: who serves, the NATS link without
    credentials, every client with its subscriptions, within the width."""
    url = served.replace("nats://", "nats://someone:pw-Hq7@")  # the server takes anyone
    async with RemoteWebSocketManager(url, name="bot-7") as remote:
        proxy = WebSocketClientProxy("signals", remote)
        await proxy.subscribe_ticker(["KRW-BTC", "KRW-ETH"], lambda event: None)
        health = await proxy.health_check()
        text = _plain(render_gateway(health, remote.dashboard(), width - 2), width)
    lines = text.splitlines()
    assert all(len(line) <= width for line in lines), text
    assert "Gateway gw-east · active" in text
    assert f"NATS {served} · connected" in text
    assert "linked via nats://***@127.0.0.1:" in text and "pw-Hq7" not in text
    assert "no auth" in text and "private data served" in text
    row = next(line for line in lines if line.lstrip().startswith("bot-7"))
    assert "(this app)" in row and "ticker" in row and "KRW-BTC, KRW-ETH" in row
    if width >= 100:
        assert "signals" in row  # the component column is kept when it fits
    # The private channel shown is the gateway's, not one of this app's own.
    assert "Private data: available via the gateway's websocket" in _plain(
        render_health(health, remote.dashboard()), width
    )


def _plain(renderable: Any, width: int) -> str:
    console = Console(width=width, record=True, file=io.StringIO(), color_system=None)
    console.print(renderable)
    return console.export_text()


async def test_no_gateway_answering_is_said_once(served: str) -> None:
    """A prefix no gateway serves: the monitor says so, and health names the problem once."""
    async with RemoteWebSocketManager(served, prefix="nobody", name="lonely") as remote:
        proxy = WebSocketClientProxy("x", remote)
        await proxy.subscribe_ticker("KRW-BTC", lambda event: None)  # waits for a gateway
        health = await proxy.health_check()
        text = _plain(render_gateway(health, remote.dashboard(), 78), 80)
    assert text.startswith("Gateway: no gateway answered")
    assert f"NATS {served} · connected" in text
    problems = [r for r in health["reasons"] if "no gateway answered" in r]
    assert len(problems) == 1, health["reasons"]


async def test_the_active_gateway_names_its_standbys(
    sim: Any, nats_server: LocalNatsServer
) -> None:
    prefix = unique_prefix()
    config = fast_config(sim)
    async with GatewayService(
        config, nats_url=nats_server.url, name="gw-a", settings=fast_settings(prefix)
    ) as active:
        await active.wait_active()
        async with RemoteWebSocketManager(nats_server.url, prefix=prefix) as remote:
            proxy = WebSocketClientProxy("mon", remote)

            async def standbys() -> list[str]:
                health = await proxy.health_check()
                return [p["name"] for p in health["gateway"]["standbys"]]

            assert await standbys() == []
            async with GatewayService(
                config, nats_url=nats_server.url, name="gw-b", settings=fast_settings(prefix)
            ) as standby:

                async def named() -> bool:
                    return await standbys() == ["gw-b"]

                await wait_until(named, what="the standby in the active's health")
                assert not standby.active

            async def gone() -> bool:
                return await standbys() == []

            await wait_until(gone, what="the stopped standby gone from health")
