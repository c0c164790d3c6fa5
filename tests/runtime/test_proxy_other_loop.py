"""A proxy called from another thread's event loop is refused at the call, never half-used."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from upbit_tui.client.manager import GlobalWebSocketManager
from upbit_tui.client.proxy import WebSocketClientProxy

Call = Callable[[WebSocketClientProxy], Awaitable[Any]]

CALLS: dict[str, Call] = {
    "subscribe_ticker": lambda p: p.subscribe_ticker("KRW-BTC", lambda e: None),
    "subscribe_trade": lambda p: p.subscribe_trade("KRW-BTC", lambda e: None),
    "subscribe_candle": lambda p: p.subscribe_candle("KRW-BTC", "1m", lambda e: None),
    "unsubscribe_ticker": lambda p: p.unsubscribe_ticker("KRW-BTC"),
    "unsubscribe_all": lambda p: p.unsubscribe_all(),
    "get_ticker_snapshot": lambda p: p.get_ticker_snapshot("KRW-BTC"),
    "get_orderbook_snapshot": lambda p: p.get_orderbook_snapshot("KRW-BTC"),
    "get_candle_snapshot": lambda p: p.get_candle_snapshot("KRW-BTC", "1m", 5),
}


def _in_another_thread(call: Callable[[], Awaitable[Any]]) -> BaseException | None:
    """Run `call` under asyncio.run in a new thread; the exception it raised, if any."""
    raised: list[BaseException] = []

    def run() -> None:
        async def main() -> None:
            await call()

        try:
            asyncio.run(main())
        except BaseException as exc:
            raised.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(30)
    return raised[0] if raised else None


@pytest.mark.parametrize("name", list(CALLS))
async def test_a_call_from_another_loop_is_refused_and_changes_nothing(
    manager: GlobalWebSocketManager, name: str
) -> None:
    proxy = WebSocketClientProxy("elsewhere", manager)
    await proxy.subscribe_ticker("KRW-ETH", lambda e: None)  # on the manager's loop: fine
    before = proxy.subscriptions()
    # The other thread only starts the call; the manager's loop stays free meanwhile.
    error = await asyncio.to_thread(_in_another_thread, lambda: CALLS[name](proxy))
    assert isinstance(error, RuntimeError), error
    assert "another event loop" in str(error)
    assert proxy.subscriptions() == before
    await proxy.cleanup()
