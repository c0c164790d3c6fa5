"""Which trade ids a market has seen lately: de-duplication by identity, not by order.

Upbit promises that sequential_id is unique, not that it grows, so "not above the last one"
would drop real trades. Both ends of the gateway keep this bounded window per market (the
manager's own continuity does the same, client/trades.py); JetStream's `Nats-Msg-Id` guards the
stream itself.
"""

from __future__ import annotations

# Ids remembered per market: far more than a re-subscription, a bridge or a replay overlaps.
WINDOW = 1024


class SeenTradeIds:
    """Per market, the last WINDOW to 2 * WINDOW ids; `add` answers whether one is new."""

    def __init__(self) -> None:
        self._ids: dict[str, set[int]] = {}
        self._order: dict[str, list[int]] = {}

    def add(self, code: str, sid: int) -> bool:
        """Remember `sid` for `code`; False when it was seen already (a duplicate)."""
        seen = self._ids.setdefault(code, set())
        if sid in seen:
            return False
        seen.add(sid)
        order = self._order.setdefault(code, [])
        order.append(sid)
        if len(order) > 2 * WINDOW:
            for old in order[:WINDOW]:
                seen.discard(old)
            del order[:WINDOW]
        return True
