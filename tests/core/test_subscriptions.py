"""SubscriptionStateManager: the spec's section 5.1 tests plus reference counting and options."""

from __future__ import annotations

import random

import pytest

from upbit_tui.wire.codec import OrderbookOptions, build_request
from upbit_tui.wire.events import DataType
from upbit_tui.wire.subscriptions import ALL_SYMBOLS, SubscriptionStateManager
from upbit_tui.wire.symbols import SymbolError


class TestSubscriptionStateManager:
    """shared/spec-v6.md 5.1, verbatim apart from imports."""

    async def test_subscription_consolidation(self) -> None:
        manager = SubscriptionStateManager()
        await manager.add_subscription("client_a", DataType.TICKER, {"KRW-BTC", "KRW-ETH"})
        await manager.add_subscription("client_b", DataType.TICKER, {"KRW-BTC", "KRW-DOGE"})
        consolidated = manager.get_consolidated_subscription()
        assert consolidated[DataType.TICKER] == {"KRW-BTC", "KRW-ETH", "KRW-DOGE"}

    async def test_client_removal_cleanup(self) -> None:
        manager = SubscriptionStateManager()
        await manager.add_subscription("client_a", DataType.TICKER, {"KRW-BTC"})
        await manager.add_subscription("client_b", DataType.TICKER, {"KRW-ETH"})
        diff = await manager.remove_client("client_a")
        consolidated = manager.get_consolidated_subscription()
        assert consolidated[DataType.TICKER] == {"KRW-ETH"}
        assert "KRW-BTC" in diff.removed_symbols


def test_three_components_consolidate_like_spec_3_1_1() -> None:
    state = SubscriptionStateManager()
    state.add_subscription("chart", DataType.TICKER, ["KRW-BTC", "KRW-ETH"])
    state.add_subscription("orderbook", DataType.TICKER, ["KRW-BTC"])
    state.add_subscription("portfolio", DataType.TICKER, ["KRW-DOGE", "KRW-ADA"])
    assert state.get_consolidated_subscription() == {
        DataType.TICKER: {"KRW-BTC", "KRW-ETH", "KRW-DOGE", "KRW-ADA"}
    }


def test_diff_reports_only_changes_to_the_union() -> None:
    state = SubscriptionStateManager()
    first = state.add_subscription("a", DataType.TICKER, ["KRW-BTC", "KRW-ETH"])
    assert first.added == {DataType.TICKER: {"KRW-BTC", "KRW-ETH"}}
    assert first.added_symbols == {"KRW-BTC", "KRW-ETH"} and not first.is_empty
    overlap = state.add_subscription("b", DataType.TICKER, ["KRW-BTC"])
    assert overlap.is_empty and not overlap  # the union did not change: send nothing
    again = state.add_subscription("a", DataType.TICKER, ["KRW-BTC"])
    assert again.is_empty


def test_reference_counting_keeps_shared_symbols() -> None:
    state = SubscriptionStateManager()
    state.add_subscription("a", DataType.TICKER, ["KRW-BTC", "KRW-ETH"])
    state.add_subscription("b", DataType.TICKER, ["KRW-BTC"])
    diff = state.remove_subscription("a", DataType.TICKER, ["KRW-BTC"])
    assert diff.is_empty  # b still holds it
    diff = state.remove_subscription("b", DataType.TICKER, ["KRW-BTC"])
    assert diff.removed == {DataType.TICKER: {"KRW-BTC"}}
    assert state.get_consolidated_subscription() == {DataType.TICKER: {"KRW-ETH"}}


def test_remove_whole_type_and_unknown_things_are_harmless() -> None:
    state = SubscriptionStateManager()
    state.add_subscription("a", DataType.TRADE, ["KRW-BTC", "KRW-ETH"])
    state.add_subscription("a", DataType.TICKER, ["KRW-BTC"])
    diff = state.remove_subscription("a", DataType.TRADE)
    assert diff.removed == {DataType.TRADE: {"KRW-BTC", "KRW-ETH"}}
    assert state.client_subscriptions("a") == {DataType.TICKER: {"KRW-BTC"}}
    assert state.remove_subscription("a", DataType.TRADE).is_empty
    assert state.remove_subscription("nobody", DataType.TICKER).is_empty
    assert state.remove_subscription("a", DataType.TICKER, ["KRW-XRP"]).is_empty
    assert state.remove_client("nobody").is_empty


def test_remove_client_forgets_it_and_empties_the_union() -> None:
    state = SubscriptionStateManager()
    state.add_subscription("a", DataType.TICKER, ["KRW-BTC"])
    state.add_subscription("a", DataType.CANDLE_1M, ["KRW-BTC"])
    state.add_subscription("a", DataType.ORDERBOOK, ["KRW-BTC"], depth=5)
    diff = state.remove_client("a")
    assert diff.removed == {
        DataType.TICKER: {"KRW-BTC"},
        DataType.CANDLE_1M: {"KRW-BTC"},
        DataType.ORDERBOOK: {"KRW-BTC"},
    }
    assert state.clients() == [] and state.get_consolidated_subscription() == {}
    assert state.get_orderbook_options() == {} and state.desired().is_empty


def test_symbols_are_normalised_and_validated() -> None:
    state = SubscriptionStateManager()
    diff = state.add_subscription("a", DataType.TICKER, "krw-btc")
    assert diff.added_symbols == {"KRW-BTC"}
    with pytest.raises(SymbolError, match="'BTC' is not an Upbit market code"):
        state.add_subscription("a", DataType.TICKER, ["BTC"])
    with pytest.raises(SymbolError, match="no market codes"):
        state.add_subscription("a", DataType.TICKER, [])
    with pytest.raises(ValueError, match="need market codes"):
        state.add_subscription("a", DataType.TRADE, None)
    # A failed call changed nothing.
    assert state.get_consolidated_subscription() == {DataType.TICKER: {"KRW-BTC"}}


def test_orderbook_depth_is_the_max_wanted_and_level_first_holder() -> None:
    state = SubscriptionStateManager()
    state.add_subscription("small", DataType.ORDERBOOK, ["KRW-BTC"], depth=5, level=10000)
    assert state.get_orderbook_options() == {"KRW-BTC": OrderbookOptions(5, 10000.0)}
    diff = state.add_subscription("big", DataType.ORDERBOOK, ["KRW-BTC"], depth=15)
    assert diff.options_changed == {"KRW-BTC"} and not diff.added and not diff.is_empty
    assert state.get_orderbook_options() == {"KRW-BTC": OrderbookOptions(15, 10000.0)}
    # Same request again: nothing changes on the wire.
    assert state.add_subscription("big", DataType.ORDERBOOK, ["KRW-BTC"], depth=15).is_empty
    diff = state.remove_client("small")
    assert diff.options_changed == {"KRW-BTC"} and not diff.removed
    assert state.get_orderbook_options() == {"KRW-BTC": OrderbookOptions(15, 0.0)}
    diff = state.add_subscription("big", DataType.ORDERBOOK, ["KRW-BTC"], depth=1)
    assert diff.options_changed == {"KRW-BTC"}
    assert state.get_orderbook_options()["KRW-BTC"].depth == 1


def test_orderbook_options_are_validated() -> None:
    state = SubscriptionStateManager()
    with pytest.raises(ValueError, match="depth 10 is not one of 1, 5, 15, 30"):
        state.add_subscription("a", DataType.ORDERBOOK, ["KRW-BTC"], depth=10)
    with pytest.raises(ValueError, match="level must be a number >= 0"):
        state.add_subscription("a", DataType.ORDERBOOK, ["KRW-BTC"], level=-1)
    with pytest.raises(ValueError, match="apply to orderbook"):
        state.add_subscription("a", DataType.TICKER, ["KRW-BTC"], depth=5)
    assert state.get_consolidated_subscription() == {}


def test_private_types_use_the_all_symbols_marker() -> None:
    state = SubscriptionStateManager()
    state.add_subscription("wallet", DataType.BALANCE, None)
    state.add_subscription("orders", DataType.ORDER, ["KRW-BTC"])
    private = state.desired(private=True)
    assert private.codes == {DataType.BALANCE: frozenset(), DataType.ORDER: {"KRW-BTC"}}
    state.add_subscription("all_orders", DataType.ORDER, None)
    assert state.get_consolidated_subscription()[DataType.ORDER] == {"KRW-BTC", ALL_SYMBOLS}
    assert state.desired(private=True).codes[DataType.ORDER] == frozenset()
    assert state.desired(private=False).is_empty


def test_desired_state_builds_one_request_with_everything() -> None:
    state = SubscriptionStateManager()
    state.add_subscription("chart", DataType.TICKER, ["KRW-BTC"])
    state.add_subscription("chart", DataType.CANDLE_1M, ["KRW-BTC"])
    state.add_subscription("book", DataType.ORDERBOOK, ["KRW-ETH"], depth=15)
    state.add_subscription("wallet", DataType.BALANCE, None)
    raw = build_request("t", state.desired(is_only_realtime=True))
    assert raw == (
        b'[{"ticket":"t"},'
        b'{"type":"ticker","codes":["KRW-BTC"],"is_only_realtime":true},'
        b'{"type":"orderbook","codes":["KRW-ETH.15"],"is_only_realtime":true},'
        b'{"type":"candle.1m","codes":["KRW-BTC"],"is_only_realtime":true},'
        b'{"format":"DEFAULT"}]'
    )


def test_summary_is_json_ready() -> None:
    state = SubscriptionStateManager()
    state.add_subscription("chart", DataType.TICKER, ["KRW-ETH", "KRW-BTC"])
    assert state.summary() == {"chart": {"ticker": ["KRW-BTC", "KRW-ETH"]}}
    assert state.is_subscribed(DataType.TICKER, "KRW-BTC")
    assert not state.is_subscribed(DataType.TRADE, "KRW-BTC")


def test_random_operations_match_a_naive_model() -> None:
    """Whatever the order of adds and removes, the union and every diff match set arithmetic."""
    rng = random.Random(7)
    state = SubscriptionStateManager()
    model: dict[str, dict[DataType, set[str]]] = {}
    symbols = [f"KRW-C{i}" for i in range(6)]
    types = [DataType.TICKER, DataType.TRADE, DataType.CANDLE_1M]

    def union() -> dict[DataType, set[str]]:
        out: dict[DataType, set[str]] = {}
        for held in model.values():
            for t, s in held.items():
                if s:
                    out.setdefault(t, set()).update(s)
        return out

    for _ in range(2000):
        client = rng.choice(["a", "b", "c"])
        data_type = rng.choice(types)
        before = union()
        op = rng.random()
        if op < 0.5:
            chosen = set(rng.sample(symbols, rng.randint(1, 3)))
            diff = state.add_subscription(client, data_type, chosen)
            model.setdefault(client, {}).setdefault(data_type, set()).update(chosen)
        elif op < 0.9:
            chosen = set(rng.sample(symbols, rng.randint(1, 3)))
            diff = state.remove_subscription(client, data_type, chosen)
            model.get(client, {}).get(data_type, set()).difference_update(chosen)
        else:
            diff = state.remove_client(client)
            model.pop(client, None)
        after = union()
        assert state.get_consolidated_subscription() == after
        for t in types:
            assert diff.added.get(t, set()) == after.get(t, set()) - before.get(t, set())
            assert diff.removed.get(t, set()) == before.get(t, set()) - after.get(t, set())
        assert diff.is_empty == (before == after)
