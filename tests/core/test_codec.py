"""codec: every docs fixture decodes to the right typed event; requests match the docs' shapes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import msgspec
import pytest

from upbit_tui.wire.codec import (
    DesiredSubscription,
    ErrorMessage,
    FrameDecoder,
    OrderbookOptions,
    StatusMessage,
    SubscriptionList,
    build_request,
    list_subscriptions_request,
    parse_timeframe,
)
from upbit_tui.wire.events import (
    BalanceEvent,
    CandleEvent,
    DataType,
    OrderbookEvent,
    OrderEvent,
    TickerEvent,
    TradeEvent,
)

# The docs' own examples, copied from shared/fixtures into the repo.
WS = Path(__file__).resolve().parents[1] / "fixtures" / "upbit_docs" / "ws"


def load(name: str) -> Any:
    return json.loads((WS / name).read_bytes())


def compact(obj: Any) -> bytes:
    """The bytes Upbit actually sends: compact JSON, keys in the docs' order."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


def wire_fields(cls: type[msgspec.Struct]) -> dict[str, str]:
    """wire name -> attribute name, from the Struct itself."""
    info = msgspec.structs.fields(cls)
    return {f.encode_name: f.name for f in info}


def assert_matches_default(event: msgspec.Struct, obj: dict[str, Any]) -> None:
    """Every DEFAULT key of the docs object that the event models has the docs' value."""
    names = wire_fields(type(event))
    checked = 0
    for key, value in obj.items():
        attr = names.get(key)
        if attr is None or key in ("orderbook_units", "assets"):
            continue
        got = getattr(event, attr)
        if isinstance(value, float | int) and not isinstance(value, bool) and value is not None:
            assert got == pytest.approx(value, rel=1e-12), key
        else:
            assert got == value, key
        checked += 1
    assert checked >= 4


DEFAULT_SINGLE = [
    ("ticker.default.json", TickerEvent),
    ("myOrder.default.json", OrderEvent),
    ("myAsset.default.json", BalanceEvent),
    ("prev/orderbook.default.json", OrderbookEvent),
]
DEFAULT_WRAPPED = [  # the fixture wraps several back-to-back DEFAULT messages in an array
    ("trade.default.json", TradeEvent),
    ("prev/trade.default.json", TradeEvent),
    ("orderbook.default.json", OrderbookEvent),
    ("candle.default.json", CandleEvent),
    ("prev/candle.default.json", CandleEvent),
]
LIST_FRAMES = [  # the fixture is itself one JSON_LIST message
    ("trade.json_list.json", TradeEvent),
    ("myOrder.json_list.json", OrderEvent),
    ("myAsset.json_list.json", BalanceEvent),
    ("guide/orderbook.json_list.json", OrderbookEvent),
]


@pytest.mark.parametrize(("name", "cls"), DEFAULT_SINGLE)
def test_default_fixture_decodes_field_by_field(name: str, cls: type) -> None:
    obj = load(name)
    decoder = FrameDecoder()
    for frame in ((WS / name).read_bytes(), compact(obj)):
        event = decoder.decode(frame, epoch=7, received_at=123.5)
        assert type(event) is cls
        assert event.epoch == 7 and event.received_at == 123.5
        assert_matches_default(event, obj)
    assert decoder.malformed == 0


@pytest.mark.parametrize(("name", "cls"), DEFAULT_WRAPPED)
def test_each_default_message_of_a_fixture_decodes(name: str, cls: type) -> None:
    decoder = FrameDecoder()
    for obj in load(name):
        event = decoder.decode(compact(obj), epoch=1)
        assert type(event) is cls
        assert_matches_default(event, obj)
    assert decoder.malformed == 0


@pytest.mark.parametrize(("name", "cls"), LIST_FRAMES)
def test_json_list_frame_gives_every_item(name: str, cls: type) -> None:
    items = load(name)
    decoder = FrameDecoder()
    for frame in ((WS / name).read_bytes(), compact(items)):
        events = decoder.decode(frame, epoch=2)
        assert isinstance(events, list) and len(events) == len(items)
        for event, obj in zip(events, items, strict=True):
            assert type(event) is cls and event.epoch == 2
            assert_matches_default(event, obj)
    assert decoder.malformed == 0


def test_ticker_default_values() -> None:
    event = FrameDecoder().decode((WS / "ticker.default.json").read_bytes())
    assert isinstance(event, TickerEvent)
    assert event.symbol == "KRW-BTC"
    assert event.trade_price == 32287000.0
    assert event.change_rate == pytest.approx(0.0126713295)
    assert event.trade_volume == pytest.approx(0.03103806)
    assert event.timestamp_ms == 1676965262177
    assert event.timestamp.isoformat() == "2023-02-21T07:41:02.177000+00:00"
    assert event.delisting_date is None
    assert event.stream_type == "REALTIME"


def test_orderbook_units_decode_in_order() -> None:
    messages = load("orderbook.default.json")
    decoder = FrameDecoder()
    btc = decoder.decode(compact(messages[0]))
    eth = decoder.decode(compact(messages[1]))
    assert isinstance(btc, OrderbookEvent) and isinstance(eth, OrderbookEvent)
    assert len(btc.orderbook_units) == 30 and btc.level == 10000
    assert eth.symbol == "KRW-ETH" and eth.level == 0
    for unit, raw in zip(btc.orderbook_units, messages[0]["orderbook_units"], strict=True):
        assert (unit.ask_price, unit.bid_price, unit.ask_size, unit.bid_size) == (
            raw["ask_price"],
            raw["bid_price"],
            raw["ask_size"],
            raw["bid_size"],
        )


@pytest.mark.parametrize(
    ("ms", "expected"),
    [
        (2**63 - 1, "9999-12-31T23:59:59.999000+00:00"),
        (-(2**63), "0001-01-01T00:00:00+00:00"),
        (-1, "1969-12-31T23:59:59.999000+00:00"),
    ],
)
def test_timestamp_of_any_long_is_a_datetime(ms: int, expected: str) -> None:
    frame = json.dumps({"type": "ticker", "code": "KRW-BTC", "trade_price": 1, "timestamp": ms})
    event = FrameDecoder().decode(frame.encode())
    assert isinstance(event, TickerEvent)
    assert event.timestamp.isoformat() == expected


def test_candle_types_and_spec_names() -> None:
    first, second = FrameDecoder().decode((WS / "candle.default.json").read_bytes())
    assert isinstance(first, CandleEvent) and isinstance(second, CandleEvent)
    assert (first.type, first.timeframe) == ("candle.1m", "1m")
    assert second.timeframe == "15m"
    assert first.open_price == 109715000.0 and first.close_price == 109756000.0
    assert first.volume == pytest.approx(0.71326612)
    assert first.start.isoformat() == "2026-08-26T08:08:00+00:00"
    assert first.stream_type == "SNAPSHOT"


def test_private_events_keep_nulls_and_assets() -> None:
    decoder = FrameDecoder()
    order = decoder.decode((WS / "myOrder.default.json").read_bytes())
    assert isinstance(order, OrderEvent)
    assert order.time_in_force is None and order.is_maker is True
    assert order.identifier == "test-1" and order.trades_count == 1
    asset = decoder.decode((WS / "myAsset.default.json").read_bytes())
    assert isinstance(asset, BalanceEvent)
    assert [a.currency for a in asset.balances] == ["KRW"]
    assert asset.assets[0].balance == pytest.approx(1386929.3723106677)
    assert asset.assets[0].locked == pytest.approx(10329.670127489597)


def test_ticker_simple_list_maps_every_abbreviation() -> None:
    (event,) = FrameDecoder().decode((WS / "ticker.simple_list.json").read_bytes())
    assert isinstance(event, TickerEvent)
    # Values typed from the fixture by hand, so a wrong key in the SIMPLE table fails here.
    expected = {
        "symbol": "KRW-BTC",
        "opening_price": 148500000.0,
        "high_price": 149064000.0,
        "low_price": 148050000.0,
        "trade_price": 148956000.0,
        "prev_closing_price": 148500000.0,
        "acc_trade_price": 16115868486.03173,
        "change": "RISE",
        "change_price": 456000.0,
        "signed_change_price": 456000.0,
        "change_rate": 0.0030707071,
        "signed_change_rate": 0.0030707071,
        "ask_bid": "BID",
        "trade_volume": 0.0602652,
        "acc_trade_volume": 108.51228784,
        "trade_date": "20250707",
        "trade_time": "022055",
        "trade_timestamp": 1751854855934,
        "acc_ask_volume": 36.9943567,
        "acc_bid_volume": 71.51793114,
        "highest_52_week_price": 163325000.0,
        "highest_52_week_date": "2025-01-20",
        "stream_type": "SNAPSHOT",
    }
    assert {k: getattr(event, k) for k in expected} == expected


def test_orderbook_simple_list_maps_units_and_level() -> None:
    (event,) = FrameDecoder().decode((WS / "orderbook.simple_list.json").read_bytes())
    assert isinstance(event, OrderbookEvent)
    assert event.symbol == "KRW-BTC" and event.timestamp_ms == 1751855921432
    assert (event.total_ask_size, event.total_bid_size) == (17.12835169, 4.81969018)
    assert event.level == 10000
    first = event.orderbook_units[0]
    assert (first.ask_price, first.bid_price, first.ask_size, first.bid_size) == (
        148880000,
        148830000,
        0.37765316,
        0.34809059,
    )
    assert len(event.orderbook_units) == 3
    (guide,) = FrameDecoder().decode((WS / "guide/orderbook.simple_list.json").read_bytes())
    assert guide.level == 0 and guide.orderbook_units[2].bid_size == 0.00670897


def test_candle_simple_list_including_partial_item() -> None:
    first, second = FrameDecoder().decode((WS / "candle.simple_list.json").read_bytes())
    assert isinstance(first, CandleEvent) and isinstance(second, CandleEvent)
    assert (first.type, first.symbol, first.candle_date_time_utc) == (
        "candle.1s",
        "KRW-BTC",
        "2025-07-07T02:29:24",
    )
    assert first.candle_date_time_kst == "2025-07-07T11:29:24"
    assert (first.opening_price, first.high_price, first.low_price, first.trade_price) == (
        149000000.0,
        149000000.0,
        149000000.0,
        149000000.0,
    )
    assert (first.candle_acc_trade_volume, first.candle_acc_trade_price) == (0.00033557, 49999.93)
    assert first.timestamp_ms == 1751855364161
    # The docs elided `catp` and `tms` of the second item: defaults, not a skipped frame.
    assert second.symbol == "KRW-ETH" and second.candle_acc_trade_volume == 0.01


def test_legacy_guide_shapes_decode() -> None:
    decoder = FrameDecoder()
    tickers = decoder.decode((WS / "guide/ticker.default.json").read_bytes())
    assert [type(t) for t in tickers] == [TickerEvent, TickerEvent]
    assert tickers[0].symbol == "KRW-BTC" and tickers[0].trade_price == 8629000.0
    assert tickers[1].timestamp_ms == 1524046050758
    trades = decoder.decode((WS / "guide/trade.simple.json").read_bytes())
    assert [t.symbol for t in trades] == ["KRW-BTC", "BTC-BCH", "KRW-BTC"]
    assert trades[1].sequential_id == 15235317454810000
    assert trades[1].trade_date == "2018-04-12" and trades[1].trade_time == "11:15:48"
    assert trades[2].stream_type == "REALTIME" and trades[0].best_ask_price is None
    assert decoder.malformed == 0


def test_simple_single_object_frame() -> None:
    obj = load("guide/trade.simple.json")[0] | {"ty": "trade", "cd": "KRW-BTC"}
    del obj["mk"]
    event = FrameDecoder().decode(compact(obj), epoch=4)
    assert isinstance(event, TradeEvent) and event.epoch == 4
    assert event.trade_price == 7691000.0 and event.ask_bid == "BID"


def test_status_and_error_frames_are_distinct_results() -> None:
    decoder = FrameDecoder()
    assert decoder.decode((WS / "status_up.json").read_bytes()) == StatusMessage("UP")
    generic, auth = load("errors.json")
    assert decoder.decode(compact(generic)) == ErrorMessage("ERRPR_CODE", "ERROR_MESSAGE")
    error = decoder.decode(compact(auth))
    assert error == ErrorMessage("INVALID_AUTH", "인증 정보가 올바르지 않습니다.")
    assert (decoder.status, decoder.errors, decoder.malformed) == (1, 2, 0)


def test_list_subscriptions_answers() -> None:
    public, private = load("list_subscriptions.json")
    decoder = FrameDecoder()
    answer = decoder.decode(compact(public))
    assert isinstance(answer, SubscriptionList)
    assert answer.ticket == "unique uuid"
    assert [(r.type, r.codes, r.level) for r in answer.result] == [
        ("ticker", ["KRW-BTC", "KRW-ETH"], None),
        ("orderbook", ["KRW-BTC", "KRW-ETH"], 0),
    ]
    answer = decoder.decode(compact(private))
    assert [(r.type, r.codes) for r in answer.result] == [
        ("myAsset", []),
        ("myOrder", ["KRW-BTC", "KRW-ETH"]),
    ]
    simple = {
        "mthd": "LIST_SUBSCRIPTIONS",
        "rslt": [{"ty": "ticker", "cds": ["KRW-BTC"]}],
        "tckt": "t",
    }
    answer = decoder.decode(compact(simple))
    assert answer.result[0].codes == ["KRW-BTC"] and answer.ticket == "t"


def test_text_frames_and_key_order_do_not_matter() -> None:
    obj = load("ticker.default.json")
    reordered = dict(reversed(list(obj.items())))
    decoder = FrameDecoder()
    a = decoder.decode(compact(obj).decode())
    b = decoder.decode(compact(reordered))
    c = decoder.decode(bytearray(compact(obj)))
    assert a == b == c


def test_unknown_fields_are_ignored() -> None:
    obj = load("ticker.default.json") | {"brand_new_field": {"x": [1, 2]}, "another": None}
    event = FrameDecoder().decode(compact(obj))
    assert isinstance(event, TickerEvent) and event.trade_price == 32287000.0


@pytest.mark.parametrize(
    "frame",
    [
        b"",
        b"   ",
        b"\x00\xff\xfe garbage",
        b'{"type":"ticker","code":"KRW-BTC","trade_price":',  # truncated
        b'{"type":"ticker","code":"KRW-BTC","trade_price":"not a number"}',
        b'{"type":"ticker","trade_price":1.0}',  # no code
        b'{"type":"trade","code":"KRW-BTC"}',  # required fields missing
        b'{"ty":"orderbook","cd":"KRW-BTC","obu":"nope"}',
        b"[1, 2",
        b'"just a string"',
        b"42",
        b'{"error": "not an object"}',
    ],
)
def test_malformed_frames_are_counted_and_skipped(frame: bytes) -> None:
    decoder = FrameDecoder()
    assert decoder.decode(frame) is None
    assert decoder.malformed + decoder.unknown == 1
    assert decoder.last_problem


def test_unknown_type_is_counted_not_malformed() -> None:
    decoder = FrameDecoder()
    assert decoder.decode(b'{"type":"announcement","code":"X"}') is None
    assert decoder.decode(b'{"hello":"world"}') is None
    assert (decoder.unknown, decoder.malformed) == (2, 0)


def test_bad_item_in_a_list_frame_loses_only_that_item() -> None:
    good = load("trade.json_list.json")
    frame = compact([good[0], {"type": "trade", "code": "KRW-X"}, good[1]])
    decoder = FrameDecoder()
    events = decoder.decode(frame)
    assert [e.symbol for e in events] == ["KRW-BTC", "KRW-ETH"]
    assert decoder.malformed == 1


# --------------------------------------------------------------------------- timeframes


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1s", DataType.CANDLE_1S),
        ("second1", DataType.CANDLE_1S),
        ("1m", DataType.CANDLE_1M),
        ("minute1", DataType.CANDLE_1M),
        ("candle.1m", DataType.CANDLE_1M),
        ("3m", DataType.CANDLE_3M),
        ("minute15", DataType.CANDLE_15M),
        ("60m", DataType.CANDLE_60M),
        ("minute60", DataType.CANDLE_60M),
        ("240m", DataType.CANDLE_240M),
        ("Minute240", DataType.CANDLE_240M),
        (" 5m ", DataType.CANDLE_5M),
        (DataType.CANDLE_10M, DataType.CANDLE_10M),
    ],
)
def test_parse_timeframe_accepts_upbit_and_spec_spellings(text: str, expected: DataType) -> None:
    assert parse_timeframe(text) is expected


@pytest.mark.parametrize("bad", ["minut1", "2m", "1h", "", "candle.1d", "ticker", DataType.TICKER])
def test_parse_timeframe_rejects_with_the_valid_list(bad: str) -> None:
    with pytest.raises(ValueError, match=r"unknown candle timeframe .*1s, 1m, 3m.*240m"):
        parse_timeframe(bad)


# --------------------------------------------------------------------------- requests


def docs_request(source_suffix: str, revision: str, index: int = 0) -> list[dict[str, Any]]:
    matches = [
        r["message"]
        for r in load("requests.json")
        if r["source"].endswith(source_suffix) and r["revision"] == revision
    ]
    return matches[index]


def canonical(message: list[dict[str, Any]]) -> list[str]:
    return sorted(json.dumps(o, sort_keys=True) for o in message)


def test_ticker_request_matches_docs() -> None:
    docs = docs_request("websocket-ticker", "2025-readme", 0)
    ours = build_request(docs[0]["ticket"], {DataType.TICKER: {"KRW-ETH", "KRW-BTC"}})
    assert json.loads(ours) == docs


def test_trade_request_with_list_format_matches_docs() -> None:
    docs = docs_request("websocket-trade", "2025-readme", 1)
    ours = build_request(docs[0]["ticket"], {DataType.TRADE: ["KRW-BTC", "KRW-ETH"]}, "SIMPLE_LIST")
    assert json.loads(ours) == docs


def test_orderbook_request_groups_levels_and_depths_like_docs() -> None:
    docs = docs_request("websocket-orderbook", "2026-09-09")
    desired = DesiredSubscription(
        codes={DataType.ORDERBOOK: {"KRW-BTC", "KRW-ETH"}},
        orderbook={
            "KRW-BTC": OrderbookOptions(depth=15, level=10000),
            "KRW-ETH": OrderbookOptions(depth=5, level=1000),
        },
    )
    ours = json.loads(build_request("orderbook-monitor", desired, "SIMPLE_LIST"))
    assert canonical(ours) == canonical(docs)
    assert ours[0] == {"ticket": "orderbook-monitor"} and ours[-1] == {"format": "SIMPLE_LIST"}


def test_orderbook_default_depth_and_level_are_implicit() -> None:
    desired = DesiredSubscription(
        codes={DataType.ORDERBOOK: {"KRW-BTC", "BTC-XRP"}},
        orderbook={"BTC-XRP": OrderbookOptions(depth=5)},
    )
    message = json.loads(build_request("t", desired))
    assert message[1] == {"type": "orderbook", "codes": ["BTC-XRP.5", "KRW-BTC"]}


def test_candle_request_matches_docs() -> None:
    docs = docs_request("websocket-candle", "2026-09-09")
    ours = build_request(
        "candle-monitor", {DataType.CANDLE_15M: {"KRW-BTC"}, DataType.CANDLE_1M: {"KRW-BTC"}}
    )
    assert json.loads(ours) == docs


def test_private_requests_match_docs() -> None:
    all_orders = docs_request("websocket-myorder", "2026-09-09", 0)
    assert json.loads(build_request("my-order-monitor", {DataType.ORDER: set()}))[:-1] == all_orders
    one = docs_request("websocket-myorder", "2026-09-09", 2)
    assert json.loads(build_request("my-order-monitor", {DataType.ORDER: {"KRW-BTC"}}))[:-1] == one
    asset = docs_request("websocket-myasset", "2025-readme", 1)
    ours = build_request(asset[0]["ticket"], {DataType.BALANCE: set()}, "JSON_LIST")
    assert json.loads(ours) == asset  # myAsset carries no codes (codes -> WRONG_FORMAT)


def test_mixed_request_carries_every_type_and_flags() -> None:
    desired = DesiredSubscription(
        codes={
            DataType.TRADE: {"KRW-BTC"},
            DataType.ORDERBOOK: {"KRW-ETH"},
            DataType.TICKER: {"KRW-EOS"},
            DataType.CANDLE_1S: set(),  # no codes left: omitted, not sent empty
        },
        is_only_realtime=True,
    )
    message = json.loads(build_request("UNIQUE_TICKET", desired))
    assert message == [
        {"ticket": "UNIQUE_TICKET"},
        {"type": "ticker", "codes": ["KRW-EOS"], "is_only_realtime": True},
        {"type": "trade", "codes": ["KRW-BTC"], "is_only_realtime": True},
        {"type": "orderbook", "codes": ["KRW-ETH"], "is_only_realtime": True},
        {"format": "DEFAULT"},
    ]


def test_same_desired_state_gives_same_bytes() -> None:
    a = build_request("t", {DataType.TICKER: ["KRW-B", "KRW-A", "KRW-C"]})
    b = build_request("t", {DataType.TICKER: {"KRW-C", "KRW-A", "KRW-B"}})
    assert a == b


def test_request_errors_are_clear() -> None:
    with pytest.raises(ValueError, match="nothing to subscribe"):
        build_request("t", {})
    with pytest.raises(ValueError, match="nothing to subscribe"):
        build_request("t", {DataType.TICKER: set()})
    with pytest.raises(ValueError, match="unknown format 'XML'"):
        build_request("t", {DataType.TICKER: {"KRW-BTC"}}, "XML")
    bad_depth = DesiredSubscription(
        codes={DataType.ORDERBOOK: {"KRW-BTC"}}, orderbook={"KRW-BTC": OrderbookOptions(depth=10)}
    )
    with pytest.raises(ValueError, match="depth 10 for KRW-BTC is not one of 1, 5, 15, 30"):
        build_request("t", bad_depth)


def test_list_subscriptions_request_matches_docs() -> None:
    docs = docs_request("list-subscriptions", "2026-09-09")
    assert json.loads(list_subscriptions_request(docs[0]["ticket"])) == docs
    ticket, method = json.loads(list_subscriptions_request())
    assert len(ticket["ticket"]) == 36 and method == {"method": "LIST_SUBSCRIPTIONS"}


def test_request_round_trips_through_our_decoder_shape() -> None:
    # A request is a JSON array of objects: the first holds the ticket, the last the format.
    raw = build_request("abc", {DataType.TICKER: {"KRW-BTC"}})
    assert raw.startswith(b'[{"ticket":"abc"}') and raw.endswith(b'{"format":"DEFAULT"}]')
