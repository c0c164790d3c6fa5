"""Point Upbit's own Python SDK (`upbit-sdk`, github.com/upbit-official/upbit-sdk-python) at the
simulator, with nothing but the URLs changed: a client that is not ours, written by Upbit.

Not part of the pytest suite: the SDK pins `websockets<16` and needs pydantic and httpx, which
the project does not use. Run it from a separate environment against the installed simulator:

    python3.11 -m venv /tmp/sdkvenv && /tmp/sdkvenv/bin/pip install upbit-sdk==1.1.0
    /tmp/sdkvenv/bin/python tests/exchange/sdk_compat_check.py [path/to/upbit-tui]

It starts `upbit-tui exchange --port 0`, then drives the SDK's REST client with strict response
validation (quotation; accounts; orders: create, get, open, closed, by uuids, chance, test,
cancel_and_new, cancel all; week/month/year candles; wallet status; API keys; deposits) and its
WebSocket streams in all four formats, public, private, announcement (notices published and
edited through the control API, filtered by category, with their body) and info (indicators
and a crossover signal, the market clock moved 5 minutes at a time through the control API),
validating every
event against the SDK's pydantic models and checking that every field the SDK models is sent.
Exit status 0 when everything checks out; each problem is printed.
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from upbit import AsyncUpbit  # type: ignore[import-not-found]
from upbit._models import BaseModel  # type: ignore[import-not-found]

ACCESS, SECRET = "test-access", "test-secret"
FORMATS = ["DEFAULT", "SIMPLE", "JSON_LIST", "SIMPLE_LIST"]
# Deprecated ticker fields the docs' example still shows and the SDK no longer models.
KNOWN_EXTRA = {"is_trading_suspended", "market_warning", "its", "mw"}
problems: list[str] = []


def check(condition: bool, message: str) -> None:
    if not condition:
        problems.append(message)
        print("  PROBLEM:", message)


def model_keys(model: type[Any]) -> set[str]:
    return {field.alias or name for name, field in model.model_fields.items()}


def check_event(event: Any, where: str, seen: dict[str, set[str]]) -> None:
    items = event if isinstance(event, list) else [event]
    for item in items:
        model = type(item)
        raw = item.model_dump(by_alias=True, exclude_unset=True)
        name = raw.get("type", raw.get("ty"))
        if model is BaseModel or "error" in raw:
            check(False, f"{where}: unparsed or error message {raw!r:.200}")
            continue
        try:
            model.model_validate(raw)
        except Exception as exc:  # pydantic.ValidationError, kept import-free
            check(False, f"{where}: {model.__name__} does not validate: {exc!s:.300}")
        extra = set(raw) - model_keys(model) - KNOWN_EXTRA
        check(not extra, f"{where}: {name} keys the SDK does not know: {sorted(extra)}")
        seen.setdefault(f"{name}:{model.__name__}", set()).update(raw)


async def check_rest(client: AsyncUpbit, rest_url: str) -> None:
    print("REST (strict response validation)")
    calls = {
        "market/all": client.trading_pairs.list(),
        "ticker": client.tickers.list_by_trading_pairs(markets="KRW-BTC,KRW-ETH"),
        "ticker/all": client.tickers.list_by_quote_currencies(quote_currencies="KRW"),
        "orderbook": client.orderbooks.list(markets="KRW-BTC", count=15),
        "orderbook/instruments": client.orderbooks.list_instruments(markets="KRW-BTC"),
        "candles/seconds": client.candles.list_seconds(market="KRW-BTC", count=200),
        "candles/minutes/1": client.candles.list_minutes(1, market="KRW-BTC", count=200),
        "candles/minutes/240": client.candles.list_minutes(240, market="KRW-ETH", count=200),
        "candles/days": client.candles.list_days(market="KRW-XRP", count=200),
        "trades/ticks": client.trades.list(market="KRW-BTC", count=100),
        "accounts": client.accounts.list(),
    }
    for name, call in calls.items():
        try:
            result = await call
            size = len(result) if hasattr(result, "__len__") else 1
            print(f"  ok  {name}: {size} item(s)")
        except Exception as exc:
            cause = str(exc.__cause__ or "")
            if _only_integer_level(cause):
                # The docs' examples print `"level": 10000`; the SDK models a decimal string
                # and only its opt-in strict mode notices (its normal parsing accepts both).
                print(f"  note {name}: integer `level` as in the docs' example")
                continue
            check(False, f"REST {name}: {type(exc).__name__}: {exc!s:.300} {cause:.500}")
    post(f"{rest_url}/_sim/orders?market=KRW-BTC&side=bid&price=1000000&volume=0.01")
    try:
        page = await client.orders.list_open(market="KRW-BTC")
        opened = [order async for order in page]
        check(len(opened) >= 1, "REST orders/open: the placed order is missing")
        print(f"  ok  orders/open: {len(opened)} item(s)")
    except Exception as exc:
        check(False, f"REST orders/open: {type(exc).__name__}: {exc!s:.300}")
    await check_order_endpoints(client)


async def check_order_endpoints(client: AsyncUpbit) -> None:
    """The order endpoints beyond the open list, and the account and wallet endpoints."""
    ticker = (await client.tickers.list_by_trading_pairs(markets="KRW-BTC"))[0]
    low = int(float(ticker.trade_price) * 0.7) // 1000 * 1000
    limit = {"market": "KRW-BTC", "side": "bid", "ord_type": "limit", "volume": "0.001"}
    calls: dict[str, Any] = {}
    try:
        placed = await client.orders.create(**limit, price=str(low))
        check(placed.state == "wait", f"orders create: state {placed.state}")
        calls["order (GET /v1/order)"] = client.orders.retrieve(uuid=placed.uuid)
        calls["orders/uuids"] = client.orders.list_by_uuids(uuids=[placed.uuid])
        calls["orders/chance"] = client.orders.retrieve_chance(market="KRW-BTC")
        calls["orders/test"] = client.orders.test_create(**limit, price=str(low))
        calls["cancel_and_new"] = client.orders.cancel_and_new(
            prev_order_uuid=placed.uuid,
            new_ord_type="limit",
            new_price=str(low - 1000),
            new_volume="remain_only",
        )
        calls["orders/closed"] = client.orders.list_closed(market="KRW-BTC")
        calls["candles/weeks"] = client.candles.list_weeks(market="KRW-BTC", count=10)
        calls["candles/months"] = client.candles.list_months(market="KRW-BTC", count=10)
        calls["candles/years"] = client.candles.list_years(market="KRW-BTC", count=2)
        calls["status/wallet"] = client.wallet_status.list()
        calls["api_keys"] = client.api_keys.list()
        calls["deposits"] = client.deposits.list(currency="BTC")
        calls["deposit"] = client.deposits.retrieve(currency="BTC")
        calls["orders/open DELETE"] = client.orders.cancel_open(pairs="KRW-BTC")
    except Exception as exc:
        check(False, f"REST order set-up: {type(exc).__name__}: {exc!s:.300}")
    for name, call in calls.items():
        try:
            result = await call
            size = len(result) if isinstance(result, list) else 1
            print(f"  ok  {name}: {size} item(s)")
        except Exception as exc:
            cause = str(exc.__cause__ or "")
            check(False, f"REST {name}: {type(exc).__name__}: {exc!s:.300} {cause:.500}")


def _only_integer_level(cause: str) -> bool:
    """True when a pydantic report lists nothing but an integer `level`."""
    fields = re.findall(r"^(\S+)\n  Input should be a valid string.*input_type=int", cause, re.M)
    count = re.match(r"(\d+) validation error", cause)
    return (
        bool(fields)
        and all(f.endswith("level") for f in fields)
        and (count is not None and int(count.group(1)) == len(fields))
    )


def post(url: str) -> Any:
    request = urllib.request.Request(url, method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


async def check_public_streams(client: AsyncUpbit) -> dict[str, set[str]]:
    seen: dict[str, set[str]] = {}
    for fmt in FORMATS:
        print(f"public WebSocket, {fmt}")
        async with client.ws_stream.subscribe(
            ticker=["KRW-BTC", "KRW-ETH"],
            trade=["KRW-BTC"],
            orderbook=["KRW-BTC.15"],
            candle={"1s": ["KRW-BTC"], "1m": ["KRW-ETH"]},
            format=fmt,
        ) as stream:
            for _ in range(40):
                event = await asyncio.wait_for(stream.recv(), 10)
                check_event(event, f"public {fmt}", seen)
            listed = await stream.list_subscriptions()
            result = listed.model_dump(by_alias=True)
            entries = result.get("result", result.get("rslt"))
            check(bool(entries) and len(entries) == 5, f"LIST_SUBSCRIPTIONS {fmt}: {result!r:.300}")
    return seen


async def check_private_streams(client: AsyncUpbit, rest_url: str) -> dict[str, set[str]]:
    seen: dict[str, set[str]] = {}
    for fmt in FORMATS:
        print(f"private WebSocket, {fmt}")
        async with client.ws_stream.subscribe_private(
            my_order=[], my_asset=True, format=fmt
        ) as stream:
            await stream.list_subscriptions()  # the subscription is in place
            post(f"{rest_url}/_sim/orders?market=KRW-ETH&side=bid&ord_type=price&price=10000")
            for _ in range(5):  # wait, asset, trade, done, asset
                event = await asyncio.wait_for(stream.recv(), 10)
                check_event(event, f"private {fmt}", seen)
    return seen


async def check_announcement_streams(client: AsyncUpbit, rest_url: str) -> dict[str, set[str]]:
    """Notices published and edited through the control API: the subscribed categories only,
    CREATED then UPDATED, with the body."""
    seen: dict[str, set[str]] = {}
    base = f"{rest_url}/_sim/announcements"
    title = urllib.parse.quote("옴니네트워크(OMNI) 원화 마켓 디지털 자산 추가")
    for fmt in FORMATS:
        print(f"announcement WebSocket, {fmt}")
        await asyncio.sleep(1.0)  # Upbit allows 5 connects/s per key; these connections are quick
        async with client.ws_stream.announcement(
            categories=["trade", "wallet"], include_body=True, format=fmt
        ) as stream:
            await stream.list_subscriptions()  # the subscription is in place
            created = post(f"{base}?category=trade&title={title}&body=%23%20OMNI")
            post(f"{base}?category=event")  # another category: must not arrive
            uuid = created["announcement"]["uuid"]
            post(f"{base}/update?uuid={uuid}&title={title}%20(%EC%88%98%EC%A0%95)")
            kinds = []
            for _ in range(2):
                event = await asyncio.wait_for(stream.recv(), 10)
                check_event(event, f"announcement {fmt}", seen)
                for item in event if isinstance(event, list) else [event]:
                    raw = item.model_dump(by_alias=True)
                    kinds.append(
                        (
                            raw.get("event_type", raw.get("et")),
                            raw.get("category", raw.get("cat")),
                            raw.get("uuid", raw.get("uid")),
                        )
                    )
            expected = [("CREATED", "trade", uuid), ("UPDATED", "trade", uuid)]
            check(kinds == expected, f"announcement {fmt}: {kinds}")
            print(f"  ok  {len(kinds)} events")
    return seen


INDICATORS: list[dict[str, Any]] = [
    {"type": "volume", "params": {"period": 20}},
    {"type": "rsi", "params": {"period": 14}},
    {"type": "moving_average", "params": {"period": 20, "type": "EMA"}},
    {"type": "ma_crossover", "params": {"short_period": 5, "long_period": 20, "type": "SMA"}},
    {"type": "bollinger_bands", "params": {"period": 20, "multiplier": 2.0}},
    {"type": "macd", "params": {"fast": 12, "slow": 26, "signal_period": 9}},
]
CROSSINGS: list[dict[str, Any]] = [
    {
        "type": "ma_crossover",
        "trigger": trigger,
        "params": {"short_period": 5, "long_period": 20, "type": "SMA"},
    }
    for trigger in ("golden_cross", "dead_cross")
]


async def check_info_streams(client: AsyncUpbit, rest_url: str) -> dict[str, set[str]]:
    """`/websocket/v1/info`: the control API moves the market clock 5 minutes at a time, so
    candles close at once; every indicator and a crossover signal must arrive and validate."""
    seen: dict[str, set[str]] = {}
    for fmt in FORMATS:
        print(f"info WebSocket, {fmt}")
        async with client.ws_stream.subscribe_info(
            indicator={"codes": ["KRW-BTC"], "timeframe": "5m", "indicators": INDICATORS},
            indicator_signal={"codes": ["KRW-BTC"], "timeframe": "5m", "indicators": CROSSINGS},
            format=fmt,
        ) as stream:
            listed = (await stream.list_subscriptions()).model_dump(by_alias=True)
            entries = listed.get("result", listed.get("rslt"))
            check(bool(entries) and len(entries) == 2, f"info LIST {fmt}: {listed!r:.300}")
            kinds: set[str] = set()
            signals = 0
            for _ in range(60):
                await asyncio.sleep(0.3)  # the trade loop fills the open candle
                moved = post(f"{rest_url}/_sim/clock/advance?seconds=300")
                for _ in range(moved["indicator_messages"]):
                    event = await asyncio.wait_for(stream.recv(), 10)
                    check_event(event, f"info {fmt}", seen)
                    for item in event if isinstance(event, list) else [event]:
                        raw = item.model_dump(by_alias=True)
                        kind = raw.get("type", raw.get("ty"))
                        kinds.add(str(raw.get("indicator", raw.get("ind"))))
                        signals += kind == "indicator_signal"
                if len(kinds) == len(INDICATORS) and signals:
                    break
            check(len(kinds) == len(INDICATORS), f"info {fmt}: indicators received {kinds}")
            check(signals > 0, f"info {fmt}: no crossover signal in 60 candles")
            print(f"  ok  {len(kinds)} indicators, {signals} signal(s)")
    return seen


def check_coverage(seen: dict[str, set[str]]) -> None:
    """Every field the SDK models for a type must have been sent at least once."""
    from upbit.types import (
        Announcement,
        BollingerBandsIndicator,
        MacdIndicator,
        MaCrossoverIndicator,
        MaCrossoverIndicatorSignal,
        MovingAverageIndicator,
        RsiIndicator,
        SimpleAnnouncement,
        VolumeIndicator,
    )
    from upbit.types.connect_private_server_event import MyAsset, MyOrder
    from upbit.types.connect_public_server_event import (
        Orderbook,
        Ticker,
        Trade,
        WsCandleResponse,
    )
    from upbit.types.websocket_message import (
        SimpleCandle,
        SimpleMyAsset,
        SimpleMyOrder,
        SimpleOrderbook,
        SimpleTicker,
        SimpleTrade,
    )

    info_models = (
        VolumeIndicator,
        RsiIndicator,
        MovingAverageIndicator,
        MaCrossoverIndicator,
        BollingerBandsIndicator,
        MacdIndicator,
        MaCrossoverIndicatorSignal,
    )
    models = (
        Ticker,
        Trade,
        Orderbook,
        WsCandleResponse,
        MyOrder,
        MyAsset,
        Announcement,
        *info_models,
    )
    from upbit.types import (
        SimpleBollingerBandsIndicator,
        SimpleMacdIndicator,
        SimpleMaCrossoverIndicator,
        SimpleMaCrossoverIndicatorSignal,
        SimpleMovingAverageIndicator,
        SimpleRsiIndicator,
        SimpleVolumeIndicator,
    )

    simple_models = (
        SimpleTicker,
        SimpleTrade,
        SimpleOrderbook,
        SimpleCandle,
        SimpleMyOrder,
        SimpleAnnouncement,
        SimpleVolumeIndicator,
        SimpleRsiIndicator,
        SimpleMovingAverageIndicator,
        SimpleMaCrossoverIndicator,
        SimpleBollingerBandsIndicator,
        SimpleMacdIndicator,
        SimpleMaCrossoverIndicatorSignal,
    )
    for model in (*models, *simple_models, SimpleMyAsset):
        sent = set().union(*(keys for name, keys in seen.items() if name.endswith(model.__name__)))
        check(bool(sent), f"no {model.__name__} event was received")
        missing = model_keys(model) - sent
        check(not missing, f"{model.__name__}: fields never sent: {sorted(missing)}")


async def main(command: list[str]) -> int:
    process = await asyncio.create_subprocess_exec(
        *command, "exchange", "--port", "0", "--rate", "100", "--markets", "10",
        "--announcements-every", "0",
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        first = (await asyncio.wait_for(process.stdout.readline(), 30)).decode()
        public, _, rest_url = re.findall(r"(?:ws|http)://\S+", first)
        websocket_base = public.removesuffix("/websocket/v1")
        print(f"simulator: {first.strip()}")
        client = AsyncUpbit(
            access_key=ACCESS,
            secret_key=SECRET,
            base_url=rest_url,
            websocket_base_url=websocket_base,
            _strict_response_validation=True,
        )
        async with client:
            await check_rest(client, rest_url)
            seen = await check_public_streams(client)
            seen.update(await check_private_streams(client, rest_url))
            seen.update(await check_announcement_streams(client, rest_url))
            seen.update(await check_info_streams(client, rest_url))
        check_coverage(seen)
    finally:
        process.terminate()
        await process.wait()
    print(f"{len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    default = Path(__file__).resolve().parents[2] / ".venv" / "bin" / "upbit-tui"
    sys.exit(asyncio.run(main([sys.argv[1] if len(sys.argv) > 1 else str(default)])))
