import asyncio
import gc

from suite_harness import TIMEOUT_FACTOR

import upbit_tui
from upbit_tui import Config, GlobalWebSocketManager, WebSocketClientProxy
from upbit_tui.config import ExchangeConfig
from upbit_tui.exchange import ExchangeServer


def test_every_public_name_resolves() -> None:
    for name in upbit_tui.__all__:
        assert getattr(upbit_tui, name) is not None, name


def test_design_example_names_are_importable() -> None:
    from upbit_tui import GlobalWebSocketManager, WebSocketClientProxy, load_config

    assert callable(load_config)
    assert hasattr(WebSocketClientProxy, "subscribe_ticker")
    assert hasattr(GlobalWebSocketManager, "health_check")


def test_errors_the_api_raises_are_exported() -> None:
    from upbit_tui import SymbolError
    from upbit_tui.wire.symbols import normalize_symbol

    try:
        normalize_symbol("BTC")
    except SymbolError as exc:
        assert isinstance(exc, ValueError)
    else:
        raise AssertionError("normalize_symbol('BTC') should raise SymbolError")
    assert "SymbolError" in upbit_tui.__all__


async def test_a_lambda_callback_keeps_receiving_after_garbage_collection() -> None:
    # The README promises the proxy keeps its callbacks alive (the router holds them weakly).
    async with ExchangeServer(seed=3, markets=5, rate=100.0, host="127.0.0.1", port=0) as sim:
        config = Config(
            exchange=ExchangeConfig(
                websocket_url=sim.websocket_url,
                private_websocket_url=sim.private_websocket_url,
                rest_url=sim.rest_url,
            )
        )
        trades: asyncio.Queue[object] = asyncio.Queue()
        async with (
            GlobalWebSocketManager(config) as manager,
            WebSocketClientProxy("lambda-user", manager) as proxy,
        ):
            await proxy.subscribe_trade(["KRW-BTC"], lambda t: trades.put_nowait(t))
            gc.collect()
            async with asyncio.timeout(15 * TIMEOUT_FACTOR):
                for _ in range(3):
                    await trades.get()
