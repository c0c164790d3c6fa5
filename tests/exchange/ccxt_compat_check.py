"""Point ccxt's async pro Upbit client at the simulator, with nothing but its URLs changed:
a widely used third-party client, written against the real exchange.

Not part of the pytest suite: ccxt pulls in its own aiohttp, cryptography and more, which the
project does not use. Run it from a separate environment against the installed simulator:

    python3.11 -m venv /tmp/ccxtvenv && /tmp/ccxtvenv/bin/pip install ccxt
    /tmp/ccxtvenv/bin/python tests/exchange/ccxt_compat_check.py [path/to/upbit-tui]

It starts `upbit-tui exchange --port 0`, then checks: markets, week and month candles
(fetch_ohlcv 1w / 1M), an order's life through fetch_order (open, canceled; a market buy and
sell to their final states), fetch_closed_orders, an ETH/BTC round trip (BTC debited and
credited, its fee and minimum), and watch_orders before and after the simulator drops the
private WebSocket (ccxt then reconnects with its cached token).
Exit status 0 when everything checks out; each problem is printed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import sys
import urllib.request
from pathlib import Path
from typing import Any

import ccxt.pro as ccxtpro  # type: ignore[import-not-found]

ACCESS, SECRET = "test-access", "test-secret"
WAIT = 10.0
problems: list[str] = []


def check(condition: bool, message: str) -> None:
    if not condition:
        problems.append(message)
        print("  PROBLEM:", message)


def post(url: str) -> Any:
    request = urllib.request.Request(url, method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


async def check_candles(exchange: Any) -> None:
    print("candles")
    for timeframe in ("1w", "1M"):
        candles = await exchange.fetch_ohlcv("BTC/KRW", timeframe, limit=5)
        starts = [c[0] for c in candles]
        check(len(candles) == 5, f"{timeframe}: {len(candles)} candles, wanted 5")
        check(starts == sorted(starts), f"{timeframe}: not oldest first after ccxt's sort")
        check(all(c[2] >= max(c[1], c[4]) >= min(c[1], c[4]) >= c[3] for c in candles),
              f"{timeframe}: high/low do not bound open/close")  # fmt: skip
        print(f"  ok  fetch_ohlcv {timeframe}: {len(candles)} candles")


async def check_quote_markets(exchange: Any, markets: dict[str, Any]) -> None:
    """BTC- and USDT-quoted markets through ccxt's unified calls, REST and WebSocket."""
    print("BTC- and USDT-quoted markets")
    for symbol in ("ETH/BTC", "BTC/USDT", "SHIB/USDT"):
        check(symbol in markets, f"load_markets: {symbol} missing")
        ticker = await exchange.fetch_ticker(symbol)
        book = await exchange.fetch_order_book(symbol)
        candles = await exchange.fetch_ohlcv(symbol, "1m", limit=3)
        trades = await exchange.fetch_trades(symbol, limit=3)
        watched = await asyncio.wait_for(exchange.watch_order_book(symbol), WAIT)
        best_ask, best_bid = book["asks"][0][0], book["bids"][0][0]
        check(ticker["last"] > 0 and ticker["quoteVolume"] > 0, f"{symbol}: ticker {ticker}")
        check(best_ask > best_bid, f"{symbol}: crossed book {best_ask} <= {best_bid}")
        check(len(candles) == 3 and len(trades) > 0, f"{symbol}: candles or trades missing")
        check(watched["asks"][0][0] > watched["bids"][0][0], f"{symbol}: crossed watched book")
        print(f"  ok  {symbol}: ticker {ticker['last']}, book {best_bid}/{best_ask}, "
              f"candles, trades, watch_order_book")  # fmt: skip


async def check_orders(exchange: Any) -> None:
    print("orders (fetch_order, fetch_closed_orders)")
    ticker = await exchange.fetch_ticker("BTC/KRW")
    low = int(ticker["last"] * 0.7) // 1000 * 1000
    resting = await exchange.create_order("BTC/KRW", "limit", "buy", 0.001, low)
    order = await exchange.fetch_order(resting["id"], "BTC/KRW")
    check(order["status"] == "open", f"resting limit order: status {order['status']}")
    check(order["price"] == low and order["amount"] == 0.001, f"resting order: {order!r:.200}")
    await exchange.cancel_order(resting["id"], "BTC/KRW")
    order = await exchange.fetch_order(resting["id"], "BTC/KRW")
    check(order["status"] == "canceled", f"cancelled order: status {order['status']}")
    print(f"  ok  fetch_order: open, then {order['status']}")

    exchange.options["createMarketBuyOrderRequiresPrice"] = False
    buy = await exchange.create_order("ETH/KRW", "market", "buy", 10_000)
    bought = await exchange.fetch_order(buy["id"], "ETH/KRW")
    filled = bought["filled"]
    check(bool(filled) and bought["status"] == "canceled",
          f"market buy: status {bought['status']} filled {filled}")  # fmt: skip
    check(len(bought.get("trades") or []) == 1, f"market buy: trades {bought.get('trades')!r:.200}")
    sell = await exchange.create_order("ETH/KRW", "market", "sell", filled)
    sold = await exchange.fetch_order(sell["id"], "ETH/KRW")
    check(sold["status"] == "closed" and sold["filled"] == filled,
          f"market sell: status {sold['status']} filled {sold['filled']}")  # fmt: skip
    print(f"  ok  market buy ends {bought['status']}, market sell ends {sold['status']}")

    closed = await exchange.fetch_closed_orders("ETH/KRW")
    check(sell["id"] in {o["id"] for o in closed}, "fetch_closed_orders: the sold order is missing")
    check(all(o["status"] == "closed" for o in closed), "fetch_closed_orders: not all closed")
    print(f"  ok  fetch_closed_orders: {len(closed)} order(s)")


async def check_quote_orders(exchange: Any) -> None:
    """An ETH/BTC round trip: BTC pays for a limit buy and is paid by a market sell, 0.25%
    fee each way in BTC; the minimum total is 0.00005 BTC."""
    print("orders on ETH/BTC (BTC pays and is paid)")
    fee = await exchange.fetch_trading_fee("ETH/BTC")
    check((fee["maker"], fee["taker"]) == (0.0025, 0.0025), f"ETH/BTC fee: {fee!r:.200}")
    before = await exchange.fetch_balance()
    check(before["USDT"]["free"] > 0, f"fetch_balance: no USDT: {before.get('USDT')}")
    book = await exchange.fetch_order_book("ETH/BTC", 1)
    ask = book["asks"][0][0]
    buy = await exchange.create_order("ETH/BTC", "limit", "buy", 0.01, ask)
    bought = await exchange.fetch_order(buy["id"], "ETH/BTC")
    check(bought["status"] == "closed" and bought["filled"] == 0.01,
          f"limit buy: status {bought['status']} filled {bought['filled']}")  # fmt: skip
    check(bought["fee"]["currency"] == "BTC", f"limit buy fee: {bought['fee']!r}")
    buy_fee = float(bought["fee"]["cost"])  # ccxt leaves it a string here
    check(abs(buy_fee - bought["cost"] * 0.0025) < 1e-12,
          f"limit buy fee {buy_fee} for cost {bought['cost']}")  # fmt: skip
    sell = await exchange.create_order("ETH/BTC", "market", "sell", 0.01)
    sold = await exchange.fetch_order(sell["id"], "ETH/BTC")
    check(sold["status"] == "closed" and sold["filled"] == 0.01,
          f"market sell: status {sold['status']} filled {sold['filled']}")  # fmt: skip
    sell_fee = float(sold["fee"]["cost"])
    check(sold["fee"]["currency"] == "BTC" and abs(sell_fee - sold["cost"] * 0.0025) < 1e-12,
          f"market sell fee {sold['fee']!r} for cost {sold['cost']}")  # fmt: skip
    after = await exchange.fetch_balance()
    spent = bought["cost"] + buy_fee - sold["cost"] + sell_fee
    check(abs(before["BTC"]["total"] - after["BTC"]["total"] - spent) < 1e-12,
          f"BTC {before['BTC']['total']} -> {after['BTC']['total']}, spent {spent}")  # fmt: skip
    check(after["ETH"]["total"] == before["ETH"]["total"],
          f"ETH {before['ETH']['total']} -> {after['ETH']['total']}")  # fmt: skip
    try:
        await exchange.create_order("ETH/BTC", "limit", "buy", 0.001, ask)  # ~0.000035 BTC
        check(False, "an order under 0.00005 BTC was accepted")
    except Exception as exc:
        check("under_min_total_bid" in str(exc), f"under the minimum: {exc!s:.200}")
    print(f"  ok  ETH/BTC limit buy {bought['status']}, market sell {sold['status']}, "
          f"BTC spent {spent:.12f}, minimum enforced")  # fmt: skip


async def next_order(exchange: Any, order_id: str) -> dict[str, Any]:
    """watch_orders until the order `order_id` shows up."""
    while True:
        for order in await exchange.watch_orders():
            if order["id"] == order_id:
                return dict(order)


async def check_watch_orders(exchange: Any, rest_url: str) -> None:
    print("watch_orders across a dropped private connection")
    ticker = await exchange.fetch_ticker("XRP/KRW")
    low = round(ticker["last"] * 0.7)
    watching = asyncio.ensure_future(exchange.watch_orders())
    await asyncio.sleep(0.5)  # let the subscription reach the server before the order
    placed = await exchange.create_order("XRP/KRW", "limit", "buy", 10, low)
    seen = [o["id"] for o in await asyncio.wait_for(watching, WAIT)]
    if placed["id"] not in seen:
        await asyncio.wait_for(next_order(exchange, placed["id"]), WAIT)
    print("  ok  first order seen")

    dropped = post(f"{rest_url}/_sim/faults/drop?endpoint=private")
    check(dropped.get("connections") == 1, f"drop: {dropped!r}")
    try:
        await asyncio.wait_for(exchange.watch_orders(), WAIT)
        check(False, "watch_orders did not notice the dropped connection")
    except Exception as exc:
        print(f"  ok  the drop surfaced as {type(exc).__name__}")

    placed_ids = [placed["id"]]
    for attempt in ("with ccxt's cached token", "with a fresh token"):
        try:
            again = await watch_after_reconnect(exchange, low)
            placed_ids.append(again["id"])
            print(f"  ok  an order placed after the reconnect ({attempt}) is seen")
            break
        except Exception as exc:
            check(False, f"reconnect {attempt}: {type(exc).__name__}: {exc!s:.200}")
            exchange.options["ws"] = {}  # drop the cached token: does the rest work?
    for order_id in placed_ids:
        await exchange.cancel_order(order_id, "XRP/KRW")


async def watch_after_reconnect(exchange: Any, price: float) -> dict[str, Any]:
    """Resubscribe (ccxt opens a new private connection), place an order, see it."""
    watching = asyncio.ensure_future(exchange.watch_orders())
    with contextlib.suppress(TimeoutError):  # subscribed and waiting: the expected case
        await asyncio.wait_for(asyncio.shield(watching), 0.5)
    placed = await exchange.create_order("XRP/KRW", "limit", "buy", 10, price)
    try:
        seen = [o["id"] for o in await asyncio.wait_for(watching, WAIT)]
        if placed["id"] not in seen:
            await asyncio.wait_for(next_order(exchange, placed["id"]), WAIT)
    except BaseException:
        await exchange.cancel_order(placed["id"], "XRP/KRW")
        raise
    return dict(placed)


async def main(command: list[str]) -> int:
    process = await asyncio.create_subprocess_exec(
        *command, "exchange", "--port", "0", "--rate", "50", "--markets", "10",
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        first = (await asyncio.wait_for(process.stdout.readline(), 30)).decode()
        public, _, rest_url = re.findall(r"(?:ws|http)://\S+", first)
        print(f"simulator: {first.strip()}")
        exchange = ccxtpro.upbit({"apiKey": ACCESS, "secret": SECRET})
        exchange.urls["api"] = {"public": rest_url, "private": rest_url, "ws": public}
        try:
            markets = await exchange.load_markets()
            check("BTC/KRW" in markets, "load_markets: BTC/KRW missing")
            print(f"  ok  load_markets: {len(markets)} markets")
            await check_candles(exchange)
            await check_quote_markets(exchange, markets)
            await check_orders(exchange)
            await check_quote_orders(exchange)
            await check_watch_orders(exchange, rest_url)
        except Exception as exc:
            check(False, f"{type(exc).__name__}: {exc!s:.500}")
        finally:
            await exchange.close()
    finally:
        process.terminate()
        await process.wait()
    print(f"{len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    default = Path(__file__).resolve().parents[2] / ".venv" / "bin" / "upbit-tui"
    sys.exit(asyncio.run(main([sys.argv[1] if len(sys.argv) > 1 else str(default)])))
