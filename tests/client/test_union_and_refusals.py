"""WireUnion and Refusals together: the one request per connection, grace, refused codes."""

from __future__ import annotations

import asyncio

import msgspec
from client_harness import Spawner

from upbit_tui.client.refusals import Refusals
from upbit_tui.client.union import WireUnion
from upbit_tui.net.markets import MarketDirectory
from upbit_tui.wire.codec import SubscriptionList
from upbit_tui.wire.events import DataType
from upbit_tui.wire.subscriptions import SubscriptionStateManager


class Parts:
    """A union with its refusals, recording what it asks of the manager."""

    def __init__(self, listed: list[str], grace: float = 0.0) -> None:
        self.state = SubscriptionStateManager()
        self.woken: list[str] = []
        self.forgotten: list[tuple[DataType, str]] = []
        self.changes = 0
        self.spawner = Spawner()

        async def fetch() -> list[str]:
            return listed

        self.markets = MarketDirectory(fetch)
        self.data_frames = 0
        self.refusals = Refusals(
            lambda: self.markets,
            lambda: self.union.public_codes(),
            self.spawner,
            self._changed,
            lambda: self.data_frames,
        )
        self.union = WireUnion(
            self.state,
            "ticket",
            grace,
            self.refusals,
            lambda: False,
            lambda t, s: self.forgotten.append((t, s)),
            self._wake,
        )
        self.woke = asyncio.Event()

    def _wake(self, kind: str) -> None:
        self.woken.append(kind)
        self.woke.set()

    def _changed(self) -> None:
        self.changes += 1
        self.union.changed()

    def codes_on_the_wire(self) -> list[str]:
        request = self.union.request("public")
        if request is None:
            return []
        return sorted(
            code for item in msgspec.json.decode(request) for code in item.get("codes", ())
        )


def test_one_request_carries_every_client_and_wakes_the_public_connection() -> None:
    parts = Parts([])
    parts.union.apply(parts.state.add_subscription("a", DataType.TICKER, ["KRW-BTC"]))
    parts.union.apply(parts.state.add_subscription("b", DataType.TICKER, ["KRW-ETH"]))
    assert parts.codes_on_the_wire() == ["KRW-BTC", "KRW-ETH"]
    assert parts.woken == ["public", "public"]
    assert parts.union.request("private") is None  # no keys


async def test_a_removed_symbol_stays_on_the_wire_for_its_grace() -> None:
    parts = Parts([], grace=0.05)
    parts.union.loop = asyncio.get_running_loop()
    parts.union.apply(parts.state.add_subscription("a", DataType.TRADE, ["KRW-BTC"]))
    parts.union.apply(parts.state.remove_client("a"))
    assert parts.codes_on_the_wire() == ["KRW-BTC"]
    assert parts.union.symbols(DataType.TRADE) == {"KRW-BTC"}
    parts.woke.clear()
    await asyncio.wait_for(parts.woke.wait(), 5)  # the grace timer woke the connection
    assert parts.codes_on_the_wire() == []
    assert parts.forgotten == [(DataType.TRADE, "KRW-BTC")]


def test_a_code_named_in_the_refusal_is_kept_off_the_wire_while_held() -> None:
    parts = Parts([])
    parts.union.apply(parts.state.add_subscription("a", DataType.TICKER, ["KRW-BTC", "KRW-OLD"]))
    parts.refusals.on_refused("INVALID_PARAM: KRW-OLD", parts.union.request("public"))
    assert parts.refusals.codes == {"KRW-OLD": "INVALID_PARAM: KRW-OLD"}
    assert parts.changes == 1
    assert parts.codes_on_the_wire() == ["KRW-BTC"]
    parts.union.apply(parts.state.remove_subscription("a", DataType.TICKER, ["KRW-OLD"]))
    parts.codes_on_the_wire()
    assert parts.refusals.codes == {}  # nobody holds it: forgotten


async def test_a_refusal_naming_no_code_is_looked_up_in_a_fresh_market_list() -> None:
    parts = Parts(["KRW-BTC"])
    parts.union.apply(parts.state.add_subscription("a", DataType.TICKER, ["KRW-BTC", "KRW-GONE"]))
    parts.refusals.on_refused("INVALID_PARAM", parts.union.request("public"))
    await parts.spawner.settle()
    assert list(parts.refusals.codes) == ["KRW-GONE"]


async def test_a_refused_request_stands_until_the_subscription_changes() -> None:
    parts = Parts(["KRW-BTC"])  # the list names nothing missing
    parts.union.apply(parts.state.add_subscription("a", DataType.TICKER, ["KRW-BTC"]))
    request = parts.union.request("public")
    parts.refusals.on_refused("INVALID_PARAM", request)
    await parts.spawner.settle()
    assert parts.refusals.standing(request) == "INVALID_PARAM"
    parts.union.apply(parts.state.add_subscription("a", DataType.TICKER, ["KRW-ETH"]))
    assert parts.refusals.standing(parts.union.request("public")) is None
    listing = SubscriptionList(result=[])
    assert not parts.refusals.listing_matches(parts.union.request("public") or b"", listing)
