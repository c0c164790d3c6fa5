"""Handshakes a hostile server refuses (issue 9, item 15)."""

from __future__ import annotations

from hostile_upbit import HostileUpbit

from upbit_tui.client.manager import GlobalWebSocketManager
from upbit_tui.client.proxy import WebSocketClientProxy


async def test_a_public_401_does_not_blame_the_api_keys(
    manager: GlobalWebSocketManager, upbit: HostileUpbit
) -> None:
    proxy = WebSocketClientProxy("pane", manager)
    await proxy.subscribe_ticker(["KRW-BTC"], lambda e: None)
    await upbit.wait_for_request()
    upbit.refuse_handshakes = 401
    await upbit.drop()
    await upbit.wait_for_refusals(2)  # the first refusal was handled before the second try
    # The public stream sends no keys: the error must not send the user to check them.
    assert manager.connection_status()["public"]["last_error"] == "handshake refused: HTTP 401"
