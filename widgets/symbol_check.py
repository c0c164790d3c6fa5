"""Telling a market that does not exist from a network that is down.

Upbit answers a subscription to an unknown code with silence, so a typo would give a row that
never updates. A REST ticker snapshot answers "Code not found" instead; we ask it before
subscribing and treat any other failure as "cannot tell yet" (subscribe anyway: the live stream
will fill the row when the network comes back).
"""

from __future__ import annotations

import logging

from upbit_tui.client.proxy import WebSocketClientProxy
from upbit_tui.wire.events import TickerEvent

log = logging.getLogger(__name__)

NOT_LISTED = "not listed on the exchange"


def is_not_found(exc: BaseException) -> bool:
    status = getattr(exc, "status", None) or getattr(exc, "status_code", None)
    if status == 404:
        return True
    text = str(exc).lower()
    return "404" in text or "not found" in text


async def split_listed(
    proxy: WebSocketClientProxy, symbols: list[str]
) -> tuple[list[str], list[TickerEvent], dict[str, str]]:
    """(listed symbols, their snapshots, {unlisted symbol: reason})."""
    try:
        snapshots = await proxy.get_ticker_snapshot(symbols)
    except Exception as exc:
        if not is_not_found(exc):
            log.warning("ticker snapshot failed, subscribing without checking: %s", exc)
            return list(symbols), [], {}
        if len(symbols) == 1:
            return [], [], {symbols[0]: NOT_LISTED}
        listed: list[str] = []
        found: list[TickerEvent] = []
        unlisted: dict[str, str] = {}
        for symbol in symbols:
            one_listed, one_found, one_unlisted = await split_listed(proxy, [symbol])
            listed += one_listed
            found += one_found
            unlisted.update(one_unlisted)
        return listed, found, unlisted
    got = {event.symbol for event in snapshots}
    unlisted = {s: NOT_LISTED for s in symbols if s not in got}
    return [s for s in symbols if s in got], list(snapshots), unlisted
