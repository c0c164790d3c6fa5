"""`/websocket/v1/info`: indicator values and signal events against the REST candles.

Every value the simulator pushes is recomputed here from `/v1/candles/...` (the same candles,
over REST), with the textbook formulas written out plainly below (not the simulator's code).
Time is the simulator's injectable clock: a test trades inside a candle, moves the clock past
its end and runs the candle-close check, so a 5-minute or one-day candle closes at once.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest
from sim_harness import API_KEYS, bearer, send, sync
from websockets.asyncio.client import ClientConnection, connect

from upbit_tui.exchange import ExchangeServer

START = 1_787_728_800.0 + 10  # 2026-08-26T07:20:10Z: 10 s into a 5-minute candle
SECONDS = {"5m": 300, "15m": 900, "60m": 3600, "240m": 14_400, "1d": 86_400}
BTC = "KRW-BTC"
ALL_INDICATORS: list[dict[str, Any]] = [
    {"type": "volume", "params": {"period": 20}},
    {"type": "rsi", "params": {"period": 14}},
    {"type": "moving_average", "params": {"period": 20, "type": "SMA"}},
    {"type": "moving_average", "params": {"period": 200, "type": "EMA"}},
    {"type": "ma_crossover", "params": {"short_period": 5, "long_period": 20, "type": "EMA"}},
    {"type": "bollinger_bands", "params": {"period": 20, "multiplier": 2.5}},
    {"type": "macd", "params": {"fast": 12, "slow": 26, "signal_period": 9}},
    {"type": "macd", "params": {"fast": 5, "slow": 35, "signal_period": 5}},
]
SIGNALS: list[dict[str, Any]] = [
    {
        "type": "ma_crossover",
        "trigger": trigger,
        "params": {"short_period": 5, "long_period": 20, "type": "SMA"},
    }
    for trigger in ("golden_cross", "dead_cross")
] + [
    {
        "type": "ma_crossover",
        "trigger": "golden_cross",
        "params": {"short_period": 5, "long_period": 20, "type": "EMA"},
    },
    *(
        {"type": "macd", "trigger": t, "params": {"fast": 12, "slow": 26, "signal_period": 9}}
        for t in ("golden_cross", "dead_cross", "zero_cross_above", "zero_cross_below")
    ),
    *(
        {"type": "moving_average", "trigger": t, "params": {"period": 20, "type": "SMA"}}
        for t in ("price_cross_above", "price_cross_below")
    ),
    *(
        {"type": "bollinger_bands", "trigger": t, "params": {"period": 20, "multiplier": 1.0}}
        for t in ("price_cross_above", "price_cross_below")
    ),
    {
        "type": "rsi",
        "trigger": "overbought",
        "params": {"period": 7},
        "event_params": {"threshold": 70},
    },
    {
        "type": "rsi",
        "trigger": "oversold",
        "params": {"period": 7},
        "event_params": {"threshold": 30},
    },
    {
        "type": "volume",
        "trigger": "volume_spike",
        "params": {"period": 10},
        "event_params": {"multiplier": 2},
    },
]


# -- the reference arithmetic, written out plainly -----------------------------------------------


def ref_sma(xs: Sequence[float], n: int) -> float:
    return sum(xs[len(xs) - n :]) / n


def ref_ema_all(xs: Sequence[float], n: int) -> list[float]:
    """EMA at each index from n - 1 on: starts at the mean of the first n values."""
    k = 2 / (n + 1)
    e = sum(xs[:n]) / n
    out = [e]
    for x in xs[n:]:
        e = x * k + e * (1 - k)
        out.append(e)
    return out


def ref_ma(xs: Sequence[float], n: int, kind: str) -> float:
    return ref_sma(xs, n) if kind == "SMA" else ref_ema_all(xs, n)[-1]


def ref_rsi(closes: Sequence[float], n: int) -> float:
    ups = [max(closes[i] - closes[i - 1], 0.0) for i in range(1, len(closes))]
    downs = [max(closes[i - 1] - closes[i], 0.0) for i in range(1, len(closes))]
    avg_up, avg_down = sum(ups[:n]) / n, sum(downs[:n]) / n
    for up, down in zip(ups[n:], downs[n:], strict=True):
        avg_up = (avg_up * (n - 1) + up) / n
        avg_down = (avg_down * (n - 1) + down) / n
    if avg_down == 0:
        return 100.0 if avg_up else 50.0
    return 100 - 100 / (1 + avg_up / avg_down)


def ref_values(
    kind: str, params: dict[str, Any], closes: list[float], volumes: list[float]
) -> dict[str, float]:
    if kind == "volume":
        n = params["period"]
        average = sum(volumes[-n - 1 : -1]) / n
        return {"volume": volumes[-1], "avg_volume": average, "ratio": volumes[-1] / average}
    if kind == "rsi":
        return {"rsi": ref_rsi(closes, params["period"])}
    if kind == "moving_average":
        return {"value": ref_ma(closes, params["period"], params["type"])}
    if kind == "ma_crossover":
        return {
            "ma_short": ref_ma(closes, params["short_period"], params["type"]),
            "ma_long": ref_ma(closes, params["long_period"], params["type"]),
        }
    if kind == "bollinger_bands":
        window = closes[-params["period"] :]
        middle = statistics.fmean(window)
        spread = params["multiplier"] * statistics.pstdev(window)
        return {"bb_upper": middle + spread, "bb_middle": middle, "bb_lower": middle - spread}
    assert kind == "macd"
    fast, slow, signal = params["fast"], params["slow"], params["signal_period"]
    fast_ema = ref_ema_all(closes, fast)
    slow_ema = ref_ema_all(closes, slow)
    line = [fast_ema[i + slow - fast] - slow_ema[i] for i in range(len(slow_ema))]
    signal_value = ref_ema_all(line, signal)[-1]
    return {"macd": line[-1], "macd_signal": signal_value, "histogram": line[-1] - signal_value}


def ref_condition(signal: dict[str, Any], closes: list[float], volumes: list[float]) -> bool:
    v = ref_values(signal["type"], signal["params"], closes, volumes)
    trigger, close = signal["trigger"], closes[-1]
    event = signal.get("event_params", {})
    return {
        "golden_cross": lambda: (
            v["ma_short"] > v["ma_long"] if "ma_short" in v else v["macd"] > v["macd_signal"]
        ),
        "dead_cross": lambda: (
            v["ma_short"] < v["ma_long"] if "ma_short" in v else v["macd"] < v["macd_signal"]
        ),
        "zero_cross_above": lambda: v["macd"] > 0,
        "zero_cross_below": lambda: v["macd"] < 0,
        "price_cross_above": lambda: close > v.get("value", v.get("bb_upper")),
        "price_cross_below": lambda: close < v.get("value", v.get("bb_lower")),
        "overbought": lambda: v["rsi"] >= event["threshold"],
        "oversold": lambda: v["rsi"] <= event["threshold"],
        "volume_spike": lambda: v["ratio"] >= event["multiplier"],
    }[trigger]()


def assert_close(actual: dict[str, float], expected: dict[str, float], scale: float) -> None:
    assert list(actual) == list(expected)
    for key, value in expected.items():
        assert math.isclose(actual[key], value, rel_tol=1e-9, abs_tol=1e-9 * scale), (
            key,
            actual[key],
            value,
        )


# -- driving the simulator -----------------------------------------------------------------------


class Market:
    """A quiet simulator on a hand-moved clock, an /info connection and a REST session."""

    def __init__(self, sim: ExchangeServer, clock: list[float], http: aiohttp.ClientSession):
        self.sim, self.clock, self.http = sim, clock, http

    def close_candle(self, timeframe: str, markets: Sequence[str], trades: int = 4) -> int:
        """Trade inside the current candle, move past its end, run the close check; returns
        the start of the candle that closed."""
        length = SECONDS[timeframe]
        start = int(self.clock[0]) // length * length
        for i in range(trades):
            self.clock[0] = max(self.clock[0], start + length * (i + 1) / (trades + 1))
            for market in markets:
                self.sim.generate_trades(1, market)
        self.clock[0] = start + length + 1
        self.sim.push_indicators()
        return start

    async def closed_candles(self, market: str, timeframe: str, before: int) -> list[Any]:
        """REST candles that start before `before` (epoch s), oldest first."""
        path = "/v1/candles/days" if timeframe == "1d" else f"/v1/candles/minutes/{timeframe[:-1]}"
        to = datetime.fromtimestamp(before, UTC).strftime("%Y-%m-%dT%H:%M:%S")
        params = {"market": market, "to": to, "count": "200"}
        async with self.http.get(self.sim.rest_url + path, params=params) as response:
            assert response.status == 200, await response.text()
            candles = await response.json()
        return list(reversed(candles))


@pytest.fixture
async def market() -> AsyncIterator[Market]:
    clock = [START]
    async with (
        ExchangeServer(
            seed=7,
            markets=4,
            rate=0.0,
            api_keys=API_KEYS,
            clock=lambda: clock[0],
            candle_interval=3600.0,
            rate_limits=False,
        ) as sim,
        aiohttp.ClientSession() as http,
    ):
        yield Market(sim, clock, http)


async def info_connection(sim: ExchangeServer) -> ClientConnection:
    return await connect(sim.info_websocket_url, additional_headers=bearer())


def utc(epoch_s: int) -> str:
    return datetime.fromtimestamp(epoch_s, UTC).strftime("%Y-%m-%dT%H:%M:%S")


# -- tests ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("timeframe", ["5m", "15m", "60m", "240m", "1d"])
async def test_indicator_values_equal_a_recomputation_from_rest_candles(
    market: Market, timeframe: str
) -> None:
    codes = market.sim.model.market_codes()[:2]
    async with await info_connection(market.sim) as ws:
        request = {
            "type": "indicator",
            "codes": codes,
            "timeframe": timeframe,
            "indicators": ALL_INDICATORS,
        }
        await send(ws, [{"ticket": "values"}, request])
        assert await sync(ws) == []  # no snapshot
        market.sim.push_indicators()
        assert await sync(ws) == []  # nothing closed yet

        for _ in range(3):
            closed = market.close_candle(timeframe, codes)
            messages = await sync(ws)
            assert len(messages) == len(codes) * len(ALL_INDICATORS)
            for code in codes:
                candles = await market.closed_candles(code, timeframe, closed + SECONDS[timeframe])
                assert candles[-1]["candle_date_time_utc"] == utc(closed)
                closes = [c["trade_price"] for c in candles]
                volumes = [c["candle_acc_trade_volume"] for c in candles]
                mine = [m for m in messages if m["code"] == code]
                assert [(m["indicator"], m["params"]) for m in mine] == [
                    (i["type"], i["params"]) for i in ALL_INDICATORS
                ]
                for message, indicator in zip(mine, ALL_INDICATORS, strict=True):
                    assert list(message) == [
                        "type",
                        "code",
                        "timeframe",
                        "indicator",
                        "params",
                        "value",
                        "candle_date_time_utc",
                        "timestamp",
                        "stream_type",
                    ]
                    assert message["type"] == "indicator"
                    assert message["timeframe"] == timeframe
                    assert message["candle_date_time_utc"] == utc(closed)
                    assert message["stream_type"] == "REALTIME"
                    assert message["timestamp"] == int(market.clock[0] * 1000)
                    expected = ref_values(indicator["type"], indicator["params"], closes, volumes)
                    assert_close(message["value"], expected, max(closes))


async def test_signals_fire_when_their_condition_starts_to_hold(market: Market) -> None:
    """Over many 5-minute closes every signal fires exactly where the reference says its
    condition turned from unmet to met; the SMA 5/20 crossover fires both ways."""
    async with await info_connection(market.sim) as ws:
        request = {"type": "indicator_signal", "codes": [BTC], "timeframe": "5m"}
        await send(ws, [{"ticket": "signals"}, {**request, "indicators": SIGNALS}])
        assert await sync(ws) == []
        subscribed = int(market.clock[0]) // 300 * 300
        before = await market.closed_candles(BTC, "5m", subscribed)
        state = [
            ref_condition(
                s,
                [c["trade_price"] for c in before],
                [c["candle_acc_trade_volume"] for c in before],
            )
            for s in SIGNALS
        ]
        fired: dict[str, int] = {}
        for _ in range(70):
            closed = market.close_candle("5m", [BTC])
            messages = await sync(ws)
            candles = await market.closed_candles(BTC, "5m", closed + 300)
            closes = [c["trade_price"] for c in candles]
            volumes = [c["candle_acc_trade_volume"] for c in candles]
            expected = []
            for i, signal in enumerate(SIGNALS):
                met = ref_condition(signal, closes, volumes)
                if met and not state[i]:
                    expected.append(signal)
                state[i] = met
            got = [
                {
                    "type": m["indicator"],
                    "trigger": m["trigger"],
                    "params": m["params"],
                    **({"event_params": m["event_params"]} if m["event_params"] else {}),
                }
                for m in messages
            ]
            assert got == expected, utc(closed)
            for message in messages:
                assert list(message) == [
                    "type",
                    "code",
                    "timeframe",
                    "indicator",
                    "trigger",
                    "params",
                    "event_params",
                    "value",
                    "candle_date_time_utc",
                    "timestamp",
                    "stream_type",
                ]
                assert message["type"] == "indicator_signal"
                assert message["candle_date_time_utc"] == utc(closed)
                values = ref_values(message["indicator"], message["params"], closes, volumes)
                assert_close(message["value"], values, max(closes))
                name = f"{message['indicator']}:{message['trigger']}"
                fired[name] = fired.get(name, 0) + 1
        assert fired.get("ma_crossover:golden_cross", 0) >= 2, fired
        assert fired.get("ma_crossover:dead_cross", 0) >= 1, fired


@pytest.mark.parametrize("fmt", ["SIMPLE", "SIMPLE_LIST", "JSON_LIST"])
async def test_formats_use_the_sdk_abbreviations_and_list_framing(market: Market, fmt: str) -> None:
    async with await info_connection(market.sim) as ws:
        crossings = [s for s in SIGNALS if s["type"] == "ma_crossover"][:2]  # golden and dead
        await send(
            ws,
            [
                {"ticket": "formats"},
                {"type": "indicator", "codes": [BTC], "timeframe": "5m",
                 "indicators": ALL_INDICATORS},
                {"type": "indicator_signal", "codes": [BTC], "timeframe": "5m",
                 "indicators": crossings},
                {"format": fmt},
            ],
        )  # fmt: skip
        indicators: list[Any] = []
        signals: list[Any] = []
        for _ in range(40):
            market.close_candle("5m", [BTC])
            for frame in await sync(ws):
                if fmt.endswith("LIST"):
                    assert isinstance(frame, list) and len(frame) == 1
                    frame = frame[0]
                kind = frame.get("ty", frame.get("type"))
                (signals if kind == "indicator_signal" else indicators).append(frame)
            if signals:
                break
        assert signals, "the SMA 5/20 averages never crossed in 40 candles"
    if fmt == "JSON_LIST":
        assert set(indicators[0]) == {
            "type", "code", "timeframe", "indicator", "params", "value",
            "candle_date_time_utc", "timestamp", "stream_type",
        }  # fmt: skip
        return
    head = ["ty", "cd", "tf", "ind", "p", "v", "cdttmu", "tms", "st"]
    assert [list(m) for m in indicators[: len(ALL_INDICATORS)]] == [head] * len(ALL_INDICATORS)
    by_kind = {(m["ind"], tuple(m["p"])): m for m in indicators}
    assert list(by_kind["volume", ("p",)]["v"]) == ["vol", "av", "rto"]
    assert list(by_kind["rsi", ("p",)]["v"]) == ["rsi"]
    assert list(by_kind["moving_average", ("p", "t")]["v"]) == ["value"]
    assert list(by_kind["ma_crossover", ("shp", "lop", "t")]["v"]) == ["mas", "mal"]
    assert list(by_kind["bollinger_bands", ("p", "m")]["v"]) == ["bbu", "bbm", "bbl"]
    assert list(by_kind["macd", ("f", "s", "sgp")]["v"]) == ["macd", "macds", "hist"]
    assert by_kind["bollinger_bands", ("p", "m")]["p"] == {"p": 20, "m": 2.5}
    signal = signals[0]
    assert list(signal) == ["ty", "cd", "tf", "ind", "tr", "p", "ep", "v", "cdttmu", "tms", "st"]
    assert signal["ep"] == {}
    assert signal["p"] == {"shp": 5, "lop": 20, "t": "SMA"}
    assert list(signal["v"]) == ["mas", "mal"]


async def test_the_control_api_moves_the_clock_past_a_candle_close() -> None:
    """On the real clock: POST /_sim/clock/advance closes the open candle at once."""
    async with (
        ExchangeServer(seed=3, markets=3, rate=0, api_keys=API_KEYS, candle_interval=3600) as sim,
        aiohttp.ClientSession() as http,
        connect(sim.info_websocket_url, additional_headers=bearer()) as ws,
    ):
        request = {"type": "indicator", "codes": [BTC], "timeframe": "5m"}
        await send(ws, [{"ticket": "t"}, {**request, "indicators": ALL_INDICATORS[1:2]}])
        assert await sync(ws) == []
        [trade] = sim.generate_trades(1, BTC)
        bucket = trade.trade_timestamp // 1000 // 300 * 300
        to_the_end = bucket + 300 + 1 - sim.model.now_ms() / 1000
        url = sim.rest_url + "/_sim/clock/advance"
        async with http.post(url, params={"seconds": str(to_the_end)}) as response:
            assert response.status == 200
            assert (await response.json())["indicator_messages"] == 1
        [message] = await sync(ws)
        assert message["indicator"] == "rsi" and message["candle_date_time_utc"] == utc(bucket)
        async with http.post(url, params={"seconds": "-1"}) as response:
            assert response.status == 400
