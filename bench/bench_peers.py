"""Events per CPU-second against peer clients, each through its own public API, on loopback.

A plain WebSocket source (a child process: raw asyncio, pre-formatted frames, so it outpaces
every client) streams trade frames for 20 KRW markets as Upbit sends them (binary frames,
compact DEFAULT JSON with `type` first, or SIMPLE keys when the client's request asks for
SIMPLE, as cryptofeed's does), either as fast as the client reads (`flat`) or paced at
`--rate` messages per second (`paced`). It also answers `GET /v1/market/all` (and any other
REST path with `[]`) so every client's start-up works unchanged. Each frame's `sequential_id`
is `send time in µs * 1000 + n`, so every client can measure latency from the trade it receives.

Clients, one process each, one at a time, subscribing to the 20 markets and counting events in a
callback:
- ours: GlobalWebSocketManager + WebSocketClientProxy (`[connection] transport`, see
  `--transports`: each transport is its own row);
- bare websockets + msgspec: `async for frame in ws` -> decode into a Struct -> count;
- bare picows + msgspec: picows' listener -> decode -> count;
- cryptofeed (its FeedHandler with its defaults, which install uvloop; `cryptofeed:asyncio` is
  the same on asyncio's own loop, like every other client here) and ccxt pro
  (`watch_trades_for_symbols`), their Upbit URLs pointed at the source (only the URLs).
Ours and the bare loops run once on asyncio's loop and once on uvloop's (`--loops`; a
`@uvloop` row), so each loop is compared with its like.
Each client measures its own CPU time (`time.process_time`, every thread) over a window after a
warm-up. Rounds are interleaved (the client order rotates each round); the table shows medians
and every ratio is against the bare websockets loop of the same run.

The peers live in their own venv (created on first use, `--peers-venv`), never in the project's
dependencies: `pip install cryptofeed ccxt picows msgspec websockets`.

    .venv/bin/python bench/bench_peers.py [--seconds 4] [--rounds 3] [--rate 5000]
        [--clients ours,websockets,picows,cryptofeed,cryptofeed:asyncio,ccxt]
        [--transports websockets,picows] [--loops asyncio,uvloop]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import json
import math
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

CODES = [
    "KRW-BTC", "KRW-ETH", "KRW-XRP", "KRW-SOL", "KRW-DOGE", "KRW-ADA", "KRW-TRX", "KRW-AVAX",
    "KRW-LINK", "KRW-DOT", "KRW-BCH", "KRW-ETC", "KRW-NEAR", "KRW-ATOM", "KRW-SUI", "KRW-APT",
    "KRW-ARB", "KRW-SAND", "KRW-HBAR", "KRW-XLM",
]  # fmt: skip
PEERS_VENV = Path("/tmp/upbit-bench-peers")
PEER_PACKAGES = ["cryptofeed", "ccxt", "picows", "msgspec", "websockets"]
# Run with the peers' interpreter.
PEER_CLIENTS = {"picows", "cryptofeed", "cryptofeed:asyncio", "ccxt"}
# Run on each of `--loops` (cryptofeed picks its own loop; ccxt runs on asyncio's).
LOOP_CLIENTS = {"websockets", "picows"}
WARM_UP = 1.0

# --------------------------------------------------------------------------- the source

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_DEFAULT = (
    b'{"type":"trade","code":"%s","timestamp":%%d,"trade_date":"2026-12-03",'
    b'"trade_time":"08:00:00","trade_timestamp":%%d,"trade_price":%s,"trade_volume":0.00509799,'
    b'"ask_bid":"ASK","prev_closing_price":%s,"change":"RISE","change_price":682.0,'
    b'"sequential_id":%%d,"best_ask_price":%s,"best_ask_size":0.0099545,'
    b'"best_bid_price":%s,"best_bid_size":0.1583673,"stream_type":"REALTIME"}'
)
_SIMPLE = (
    b'{"ty":"trade","cd":"%s","tms":%%d,"td":"2026-12-03","ttm":"08:00:00","ttms":%%d,'
    b'"tp":%s,"tv":0.00509799,"ab":"ASK","pcp":%s,"c":"RISE","cp":682.0,"sid":%%d,'
    b'"bap":%s,"bas":0.0099545,"bbp":%s,"bbs":0.1583673,"st":"REALTIME"}'
)


def _templates(shape: bytes) -> list[bytes]:
    out = []
    for i, code in enumerate(CODES):
        price = b"%d.0" % (1000 * (i + 1) ** 3)
        out.append(shape % (code.encode(), price, price, price, price))
    return out


def _frame(opcode: int, payload: bytes) -> bytes:
    n = len(payload)
    if n < 126:
        return bytes((0x80 | opcode, n)) + payload
    if n < 65536:
        return bytes((0x80 | opcode, 126)) + n.to_bytes(2, "big") + payload
    return bytes((0x80 | opcode, 127)) + n.to_bytes(8, "big") + payload


class _Frames:
    """Pre-formatted trade frames for the 20 markets, stamped with the time they are built."""

    def __init__(self, simple: bool) -> None:
        self.templates = _templates(_SIMPLE if simple else _DEFAULT)
        self.next = 0

    def build(self, count: int) -> bytes:
        now_us = time.time_ns() // 1000
        ms, base = now_us // 1000, now_us * 1000
        parts = []
        templates, start = self.templates, self.next
        for k in range(count):
            payload = templates[(start + k) % 20] % (ms, ms, base + k)
            parts.append(_frame(2, payload))
        self.next = start + count
        return b"".join(parts)


async def _read_frame(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    b0, b1 = await reader.readexactly(2)
    n = b1 & 0x7F
    if n == 126:
        n = int.from_bytes(await reader.readexactly(2), "big")
    elif n == 127:
        n = int.from_bytes(await reader.readexactly(8), "big")
    mask = await reader.readexactly(4) if b1 & 0x80 else b""
    data = await reader.readexactly(n)
    if mask:
        data = bytes(b ^ mask[i & 3] for i, b in enumerate(data))
    return b0 & 0x0F, data


async def _pump_flat(writer: asyncio.StreamWriter, frames: _Frames) -> None:
    while True:
        writer.write(frames.build(200))
        await writer.drain()


async def _pump_paced(writer: asyncio.StreamWriter, frames: _Frames, rate: float) -> None:
    loop = asyncio.get_running_loop()
    start, sent = loop.time(), 0
    while True:
        due = int((loop.time() - start) * rate) - sent
        if due > 0:
            due = min(due, 500)
            writer.write(frames.build(due))
            sent += due
            await writer.drain()
        await asyncio.sleep(0.0005)


async def _serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, rate: float) -> None:
    try:
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        target = head[0].split(" ")[1]
        headers = {
            k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in head[1:])
        }
        if headers.get("upgrade", "").lower() != "websocket":
            markets = [{"market": c, "korean_name": c, "english_name": c} for c in CODES]
            body = json.dumps(markets if target.startswith("/v1/market/all") else []).encode()
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"
                b"Connection: close\r\n\r\n%s" % (len(body), body)
            )
            await writer.drain()
            return
        key = headers["sec-websocket-key"].encode()
        accept = base64.b64encode(hashlib.sha1(key + _GUID).digest())
        writer.write(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n"
        )
        opcode, request = await _read_frame(reader)  # the subscription
        frames = _Frames(simple=b'"SIMPLE"' in request)
        paced = "/paced/" in target
        pump = asyncio.create_task(
            _pump_paced(writer, frames, rate) if paced else _pump_flat(writer, frames)
        )
        try:
            while True:
                opcode, payload = await _read_frame(reader)
                if opcode == 9:
                    writer.write(_frame(10, payload))
                elif opcode == 8:
                    writer.write(_frame(8, payload[:2]))
                    break
        finally:
            pump.cancel()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def run_source(rate: float) -> None:
    server = await asyncio.start_server(
        lambda r, w: _serve(r, w, rate), "127.0.0.1", 0, limit=2**20
    )
    port = server.sockets[0].getsockname()[1]
    print(f"port={port}", flush=True)
    async with server:
        await server.serve_forever()


# --------------------------------------------------------------------------- clients


class Probe:
    """What a client's callback feeds: a count, and latency samples when paced."""

    def __init__(self, latency: bool) -> None:
        self.count = 0
        self.samples: list[float] | None = [] if latency else None

    def sid(self, sequential_id: int) -> None:
        """One event (with the latency its `sequential_id` carries, when sampling)."""
        self.count += 1
        if self.samples is not None:
            self.samples.append(time.time() * 1e3 - sequential_id // 1000 / 1e3)


async def measure(probe: Probe, seconds: float) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while probe.count == 0:
        if time.monotonic() > deadline:
            raise RuntimeError("no event within 30 s")
        await asyncio.sleep(0.05)
    await asyncio.sleep(WARM_UP)
    if probe.samples is not None:
        probe.samples.clear()
    n0, cpu0, wall0 = probe.count, time.process_time(), time.perf_counter()
    await asyncio.sleep(seconds)
    n1, cpu1, wall1 = probe.count, time.process_time(), time.perf_counter()
    result: dict[str, Any] = {"events": n1 - n0, "cpu_s": cpu1 - cpu0, "wall_s": wall1 - wall0}
    if probe.samples:
        ordered = sorted(probe.samples)
        result["p50_ms"] = ordered[len(ordered) // 2]
        result["p99_ms"] = ordered[min(len(ordered) - 1, math.ceil(0.99 * len(ordered)) - 1)]
    return result


def _bare_struct() -> Any:
    import msgspec

    class Trade(msgspec.Struct, kw_only=True):
        """The same fields our TradeEvent decodes, for a like-for-like bare loop."""

        type: str
        code: str
        timestamp: int
        trade_price: float
        trade_volume: float
        ask_bid: str
        sequential_id: int
        trade_timestamp: int = 0
        trade_date: str = ""
        trade_time: str = ""
        prev_closing_price: float = 0.0
        change: str = "EVEN"
        change_price: float = 0.0
        best_ask_price: float | None = None
        best_ask_size: float | None = None
        best_bid_price: float | None = None
        best_bid_size: float | None = None
        stream_type: str = "REALTIME"

    return msgspec.json.Decoder(Trade)


def _request() -> str:
    return json.dumps([{"ticket": "bench"}, {"type": "trade", "codes": CODES}])


async def client_websockets(url: str, probe: Probe, seconds: float) -> dict[str, Any]:
    from websockets.asyncio.client import connect

    decode = _bare_struct().decode
    sid = probe.sid

    async def reader(ws: Any) -> None:
        async for frame in ws:
            sid(decode(frame).sequential_id)

    async with connect(url, proxy=None, compression=None, max_size=2**22) as ws:
        await ws.send(_request())
        task = asyncio.create_task(reader(ws))
        try:
            return await measure(probe, seconds)
        finally:
            task.cancel()


async def client_picows(url: str, probe: Probe, seconds: float) -> dict[str, Any]:
    from picows import WSFrame, WSListener, WSMsgType, WSTransport, ws_connect

    decode = _bare_struct().decode
    sid = probe.sid

    class Listener(WSListener):  # type: ignore[misc]
        def on_ws_connected(self, transport: WSTransport) -> None:
            transport.send(WSMsgType.TEXT, _request().encode())

        def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
            if frame.msg_type is WSMsgType.BINARY or frame.msg_type is WSMsgType.TEXT:
                sid(decode(frame.get_payload_as_memoryview()).sequential_id)

    transport, _ = await ws_connect(Listener, url)
    try:
        return await measure(probe, seconds)
    finally:
        transport.disconnect()


async def client_ours(
    url: str, rest: str, probe: Probe, seconds: float, transport: str
) -> dict[str, Any]:
    from upbit_tui.client.manager import GlobalWebSocketManager
    from upbit_tui.client.proxy import WebSocketClientProxy
    from upbit_tui.config import Config, ConnectionConfig, ExchangeConfig

    connection: dict[str, Any] = {"stale_after": 0, "batch_window": 0.0}
    if "transport" in ConnectionConfig.__dataclass_fields__:
        connection["transport"] = transport
    config = Config(
        exchange=ExchangeConfig(websocket_url=url, rest_url=rest),
        connection=ConnectionConfig(**connection),
    )
    sid = probe.sid

    def on_trade(event: Any) -> None:
        sid(event.sequential_id)

    async with (
        GlobalWebSocketManager(config) as manager,
        WebSocketClientProxy("bench", manager) as proxy,
    ):
        await proxy.subscribe_trade(CODES, on_trade, queue_size=100_000)
        result = await measure(probe, seconds)
        result["dropped"] = manager.metrics().dropped_message_count
    return result


def run_cryptofeed(
    url: str, rest: str, probe: Probe, seconds: float, uvloop: bool
) -> dict[str, Any]:
    import cryptofeed.feed
    from cryptofeed import FeedHandler
    from cryptofeed.connection import RestEndpoint, Routes, WebsocketEndpoint, WSAsyncConn
    from cryptofeed.defines import TRADES
    from cryptofeed.exchanges import Upbit

    class PlainConn(WSAsyncConn):  # type: ignore[misc]
        """cryptofeed accepts only wss:// addresses: this one is plain ws:// on loopback."""

        def __init__(self, address: str, *args: Any, **kwargs: Any) -> None:
            super().__init__("wss://" + address.removeprefix("ws://"), *args, **kwargs)
            self.address = address

    cryptofeed.feed.WSAsyncConn = PlainConn  # type: ignore[attr-defined]
    Upbit.websocket_endpoints = [WebsocketEndpoint(url)]
    Upbit.rest_endpoints = [RestEndpoint(rest, routes=Routes("/v1/market/all"))]
    sid = probe.sid

    async def on_trade(trade: Any, receipt_timestamp: float) -> None:
        sid(int(trade.id))

    handler = FeedHandler(config={"log": {"disabled": True}, "uvloop": uvloop})
    symbols = [f"{c.split('-')[1]}-KRW" for c in CODES]
    handler.add_feed(Upbit(symbols=symbols, channels=[TRADES], callbacks={TRADES: on_trade}))
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    handler.run(start_loop=False)
    result = loop.run_until_complete(measure(probe, seconds))
    loop.run_until_complete(handler.stop_async(loop=loop))
    return result


async def client_ccxt(url: str, rest: str, probe: Probe, seconds: float) -> dict[str, Any]:
    import ccxt.pro

    exchange = ccxt.pro.upbit({"urls": {"api": {"ws": url, "public": rest, "private": rest}}})
    sid = probe.sid

    async def reader() -> None:
        symbols = [f"{c.split('-')[1]}/KRW" for c in CODES]
        while True:
            for trade in await exchange.watch_trades_for_symbols(symbols):
                sid(int(trade["id"]))

    task = asyncio.create_task(reader())
    try:
        return await measure(probe, seconds)
    finally:
        task.cancel()
        await exchange.close()


def run_client(kind: str, url: str, rest: str, seconds: float, paced: bool) -> dict[str, Any]:
    probe = Probe(latency=paced)
    if kind.startswith("cryptofeed"):
        return run_cryptofeed(url, rest, probe, seconds, uvloop=not kind.endswith(":asyncio"))
    kind, _, loop = kind.partition("@")  # "@uvloop": the same client on uvloop's loop
    runs: dict[str, Callable[[], Any]] = {
        "websockets": lambda: client_websockets(url, probe, seconds),
        "picows": lambda: client_picows(url, probe, seconds),
        "ccxt": lambda: client_ccxt(url, rest, probe, seconds),
    }
    if kind.startswith("ours"):
        transport = kind.partition(":")[2] or "auto"
        runs[kind] = lambda: client_ours(url, rest, probe, seconds, transport)
    factory = None
    if loop == "uvloop":
        import uvloop

        factory = uvloop.new_event_loop
    with asyncio.Runner(loop_factory=factory) as runner:
        return dict(runner.run(runs[kind]()))


# --------------------------------------------------------------------------- orchestration


def _peers_python(venv: Path) -> str:
    python = venv / "bin" / "python"
    if not python.exists():
        print(f"creating the peers' venv in {venv} ({' '.join(PEER_PACKAGES)})", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", *PEER_PACKAGES], check=True)
    return str(python)


def _child(python: str, kind: str, port: int, seconds: float, paced: bool) -> dict[str, Any]:
    mode = "paced" if paced else "flat"
    command = [python, __file__, "--child", kind, "--port", str(port), "--seconds", str(seconds)]
    if paced:
        command.append("--paced")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    if python != sys.executable:
        env.pop("PYTHONPATH")
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=seconds + 90, env=env, check=False
    )
    lines = done.stdout.strip().splitlines()
    if done.returncode or not lines:
        tail = done.stderr.strip().splitlines()[-3:]
        print(f"  {kind} ({mode}) failed: {' | '.join(tail)}", flush=True)
        return {}
    return dict(json.loads(lines[-1]))


def _rate(result: dict[str, Any]) -> float:
    return result["events"] / result["cpu_s"] if result.get("cpu_s") else math.nan


def _median(values: list[float]) -> float:
    values = [v for v in values if not math.isnan(v)]
    return statistics.median(values) if values else math.nan


def main(args: argparse.Namespace) -> None:
    kinds = []
    loops = [f"@{loop}" if loop != "asyncio" else "" for loop in args.loops.split(",")]
    for name in args.clients.split(","):
        names = [f"ours:{t}" for t in args.transports.split(",")] if name == "ours" else [name]
        for each in names:
            if each in LOOP_CLIENTS or each.startswith("ours"):
                kinds += [each + loop for loop in loops]
            else:
                kinds.append(each)
    peers = (
        _peers_python(Path(args.peers_venv))
        if PEER_CLIENTS & {k.partition("@")[0] for k in kinds}
        else None
    )
    source = subprocess.Popen(
        [sys.executable, __file__, "--source", "--rate", str(args.rate)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert source.stdout is not None
    port = int(source.stdout.readline().strip().partition("=")[2])
    results: dict[tuple[str, bool], list[dict[str, Any]]] = {}
    try:
        for round_ in range(args.rounds):
            order = kinds[round_ % len(kinds) :] + kinds[: round_ % len(kinds)]
            for paced in (False, True):
                for kind in order:
                    peer = kind.partition("@")[0] in PEER_CLIENTS
                    python = peers if peer and peers else sys.executable
                    result = _child(python, kind, port, args.seconds, paced)
                    results.setdefault((kind, paced), []).append(result)
                    if result:
                        mode = "paced" if paced else "flat"
                        extra = f", p99 {result['p99_ms']:.2f} ms" if "p99_ms" in result else ""
                        print(
                            f"round {round_ + 1} {mode:5} {kind:18} {result['events']:>8} ev / "
                            f"{result['cpu_s']:.2f} cpu-s = {_rate(result):>9,.0f} ev/cpu-s"
                            f"{extra}",
                            flush=True,
                        )
    finally:
        source.terminate()
        source.wait(timeout=10)
    _table(kinds, results, args.rate)


def _table(
    kinds: list[str], results: dict[tuple[str, bool], list[dict[str, Any]]], rate: float
) -> None:
    def med(kind: str, paced: bool, key: str) -> float:
        runs = [r for r in results.get((kind, paced), []) if r]
        if key == "rate":
            return _median([_rate(r) for r in runs])
        return _median([r[key] for r in runs if key in r])

    base = {paced: med("websockets", paced, "rate") for paced in (False, True)}
    cf = {paced: med("cryptofeed", paced, "rate") for paced in (False, True)}
    # On uvloop, also against the bare websockets loop on uvloop.
    uv = {paced: med("websockets@uvloop", paced, "rate") for paced in (False, True)}
    print()
    print(
        f"| client | events/CPU-s paced {rate:g}/s (x bare ws, x cryptofeed) | events/CPU-s "
        f"flat out (x bare ws, x cryptofeed) | latency p50 / p99 at {rate:g}/s |"
    )
    print("|---|---|---|---|")
    for kind in kinds:
        cells = []
        for paced in (True, False):
            value = med(kind, paced, "rate")
            same = f", {value / uv[paced]:.2f}x bare ws@uvloop" if kind.endswith("@uvloop") else ""
            cells.append(
                f"{value / 1000:.1f}k ({value / base[paced]:.2f}x, {value / cf[paced]:.2f}x{same})"
            )
        latency = f"{med(kind, True, 'p50_ms'):.2f} / {med(kind, True, 'p99_ms'):.2f} ms"
        print(f"| {kind} | {cells[0]} | {cells[1]} | {latency} |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=4.0, help="measurement per client run")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds")
    parser.add_argument("--rate", type=float, default=5000.0, help="paced messages per second")
    parser.add_argument(
        "--clients", default="ours,websockets,picows,cryptofeed,cryptofeed:asyncio,ccxt"
    )
    parser.add_argument("--transports", default="websockets,picows", help="ours, one row each")
    parser.add_argument(
        "--loops",
        default="asyncio,uvloop",
        help="event loops of ours and the bare loops, one row each (name@uvloop)",
    )
    parser.add_argument("--peers-venv", default=str(PEERS_VENV))
    parser.add_argument("--source", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--paced", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.source:
        asyncio.run(run_source(args.rate))
    elif args.child:
        base = f"127.0.0.1:{args.port}"
        ws_url = f"ws://{base}/{'paced' if args.paced else 'flat'}/websocket/v1"
        outcome = run_client(args.child, ws_url, f"http://{base}", args.seconds, args.paced)
        print(json.dumps(outcome), flush=True)
    else:
        main(args)
