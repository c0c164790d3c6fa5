"""The gateway's figures (issue 13): N consumer processes through one gateway vs N direct managers.

Everything on loopback with real processes: the simulator runs here, a NATS server from the
venv, `upbit-tui gateway` as a child process, consumers as child processes (this file with
`--worker`). Rounds alternate gateway / direct for each N, so both meet the same machine load.

1. Per N (1, 4, 16): Upbit public WebSocket connections opened and REST calls (the simulator's
   own counters), at start and after one outage (every connection dropped once); total CPU
   seconds per delivered event (consumers + gateway, and the NATS server's share on its own:
   JetStream storing every trade is part of the hop's cost); latency from the reader that took the
   frame off the Upbit socket to the consumer's callback, p50/p99 (direct: the manager's own
   read -> callback; gateway: the gateway's read -> NATS -> remote manager -> callback, so the
   difference is the hop's added latency).
2. kill -9 of the active gateway with a standby, under `--failover-rate` trades/s: seconds
   until trades flow again at a consumer, trades lost and duplicated against the simulator.
3. kill -9 of a consumer, restarted `--gap` seconds later with its last sequential_ids: the
   missed trades from JetStream, lost / duplicated / Upbit REST calls.

    .venv/bin/python bench/bench_gateway.py                  # ~3 minutes
    .venv/bin/python bench/bench_gateway.py --ns 1,4 --rate 5000 --seconds 10 --gap 30
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

HERE = Path(__file__).resolve().parent
CONSUMER = HERE.parent / "tests" / "gateway" / "consumer_proc.py"
CODES = ["KRW-BTC", "KRW-ETH", "KRW-XRP", "KRW-SOL", "KRW-DOGE"]


# ---------------------------------------------------------------------- worker (child) side


async def worker(mode: str, target: str, seconds: float, codes: list[str]) -> None:
    """One consumer: subscribe trades of `codes`, count and time them for `seconds`."""
    from upbit_tui.client.interface import AbstractWebSocketManager
    from upbit_tui.client.proxy import WebSocketClientProxy
    from upbit_tui.config import Config, ConnectionConfig, ExchangeConfig

    latencies: list[float] = []
    count = 0

    def on_trade(event: Any) -> None:
        nonlocal count
        count += 1
        if event.stream_type == "REALTIME" and event.received_at:
            latencies.append((time.time() - event.received_at) * 1000)

    manager: AbstractWebSocketManager
    if mode == "gateway":
        from upbit_tui.gateway.remote import RemoteWebSocketManager

        url, prefix = target.split("|")
        manager = RemoteWebSocketManager(
            url, prefix=prefix, name=f"bench-{os.getpid()}", heartbeat=0.5
        )
    else:
        from upbit_tui.client.manager import GlobalWebSocketManager

        ws, rest = target.split("|")
        config = Config(
            exchange=ExchangeConfig(
                websocket_url=ws, private_websocket_url=ws + "/private", rest_url=rest
            ),
            connection=ConnectionConfig(reconnect_initial_delay=0.05, reconnect_max_delay=0.5),
        )
        manager = GlobalWebSocketManager(config)
    async with manager:
        proxy = WebSocketClientProxy("bench", manager)
        await proxy.subscribe_trade(codes, on_trade, queue_size=100_000)
        print("ready", flush=True)
        # The parent says when the measured window starts (all workers subscribed).
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        count, latencies = 0, []
        cpu0 = time.process_time()
        await asyncio.sleep(seconds)
        cpu = time.process_time() - cpu0
        events = count
        lat = sorted(latencies)
        print(
            json.dumps(
                {
                    "events": events,
                    "cpu_s": cpu,
                    "p50_ms": lat[len(lat) // 2] if lat else None,
                    "p99_ms": lat[int(len(lat) * 0.99)] if lat else None,
                }
            ),
            flush=True,
        )
        # Stay up for the outage part until the parent closes stdin.
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        await proxy.cleanup()


# ---------------------------------------------------------------------- parent side


class Proc:
    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.lines: list[str] = []
        self.changed = asyncio.Event()
        self.reader = asyncio.create_task(self._read())

    @classmethod
    async def start(cls, *args: str, stdin: bool = False) -> Proc:
        process = await asyncio.create_subprocess_exec(
            sys.executable, *args,
            stdin=asyncio.subprocess.PIPE if stdin else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        return cls(process)

    async def _read(self) -> None:
        assert self.process.stdout is not None
        async for raw in self.process.stdout:
            self.lines.append(raw.decode().rstrip("\n"))
            self.changed.set()

    async def wait_for(self, predicate: Any, within: float = 60.0) -> None:
        async with asyncio.timeout(within):
            while not predicate(self.lines):
                self.changed.clear()
                await self.changed.wait()

    def send(self, line: str = "go") -> None:
        assert self.process.stdin is not None
        self.process.stdin.write((line + "\n").encode())

    def cpu(self) -> float:
        try:
            t = psutil.Process(self.process.pid).cpu_times()
            return float(t.user + t.system)
        except psutil.Error:
            return 0.0

    async def close(self) -> None:
        if self.process.returncode is None:
            self.process.kill()
        await self.process.wait()
        self.reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.reader


def public_opened(sim: Any) -> int:
    return sum(1 for s in sim.stats()["connections"]["items"] if s["endpoint"] == "public")


def rest_calls(sim: Any) -> int:
    return int(sim.stats()["rest"]["requests"])


def gateway_toml(sim: Any, directory: str) -> str:
    path = Path(directory) / "gateway.toml"
    path.write_text(
        "[exchange]\n"
        f'websocket_url = "{sim.websocket_url}"\n'
        f'private_websocket_url = "{sim.private_websocket_url}"\n'
        f'rest_url = "{sim.rest_url}"\n'
        "[connection]\nreconnect_initial_delay = 0.05\nreconnect_max_delay = 0.5\n"
        "[gateway]\nlease_ttl = 5\n"
    )
    return str(path)


async def start_gateway(config: str, url: str, name: str, prefix: str = "upbit") -> Proc:
    return await Proc.start(
        "-m", "upbit_tui", "gateway", "--config", config, "--nats", url, "--name", name,
        "--prefix", prefix, "--active-ttl", "1",
    )  # fmt: skip


async def wait_gateway(url: str, name: str, prefix: str = "upbit") -> None:
    from upbit_tui.gateway.remote import RemoteWebSocketManager

    async with RemoteWebSocketManager(url, prefix=prefix, heartbeat=0.1) as probe:
        async with asyncio.timeout(30):
            while True:  # state in another process: poll it
                if probe.gateway.get("gateway") == name:
                    return
                await asyncio.sleep(0.05)


def pid_cpu(pid: int | None) -> float:
    try:
        t = psutil.Process(pid).cpu_times() if pid else None
    except psutil.Error:
        return 0.0
    return 0.0 if t is None else float(t.user + t.system)


_ROUND = itertools.count(1)


async def fan_round(mode: str, n: int, args: argparse.Namespace, nats_url: str,
                    nats_pid: int | None = None) -> dict[str, Any]:  # fmt: skip
    """One measured round: N consumers, direct or through a gateway."""
    from upbit_tui.exchange import ExchangeServer

    async with ExchangeServer(seed=7, markets=20, rate=args.rate, host="127.0.0.1", port=0) as sim:
        every_market = ",".join(sim.model.market_codes())  # the whole --rate
        with tempfile.TemporaryDirectory() as tmp:
            gateway: Proc | None = None
            if mode == "gateway":
                # Its own subjects and trade stream: the previous round's trades (another
                # simulator) would be "bridged" from Upbit's REST as if this were a failover.
                prefix = f"fan{next(_ROUND)}"
                config = gateway_toml(sim, tmp)
                gateway = await start_gateway(config, nats_url, "bench-gw", prefix)
                await wait_gateway(nats_url, "bench-gw", prefix)
                target = f"{nats_url}|{prefix}"
            else:
                target = f"{sim.websocket_url}|{sim.rest_url}"
            workers = [
                await Proc.start(
                    __file__,
                    "--worker",
                    mode,
                    target,
                    str(args.seconds),
                    every_market,
                    stdin=True,
                )
                for _ in range(n)
            ]
            try:
                for w in workers:
                    await w.wait_for(lambda lines: "ready" in lines)
                await asyncio.sleep(1.0)  # snapshots and backfills of the start settle
                opened, rest_start = public_opened(sim), rest_calls(sim)
                cpu0 = sum(w.cpu() for w in workers) + (gateway.cpu() if gateway else 0.0)
                gw0, nats0 = (gateway.cpu() if gateway else 0.0), pid_cpu(nats_pid)
                for w in workers:
                    w.send()
                for w in workers:
                    await w.wait_for(lambda lines: any(x.startswith("{") for x in lines))
                cpu = sum(w.cpu() for w in workers) + (gateway.cpu() if gateway else 0.0) - cpu0
                gw_cpu = (gateway.cpu() if gateway else 0.0) - gw0
                nats_cpu = pid_cpu(nats_pid) - nats0
                load = os.getloadavg()[0]
                results = [
                    json.loads(next(x for x in w.lines if x.startswith("{"))) for w in workers
                ]
                # One outage: every Upbit connection drops once; who pays in REST calls?
                rest_before = rest_calls(sim)
                sim.drop_connections(None)
                await asyncio.sleep(3.0)
                rest_outage = rest_calls(sim) - rest_before
                opened_after = public_opened(sim)
            finally:
                for w in workers:
                    await w.close()
                if gateway is not None:
                    await gateway.close()
    events = sum(r["events"] for r in results)
    p50s = [r["p50_ms"] for r in results if r["p50_ms"] is not None]
    p99s = [r["p99_ms"] for r in results if r["p99_ms"] is not None]
    return {
        "mode": mode,
        "n": n,
        "ws_opened_start": opened,
        "ws_opened_after_outage": opened_after,
        "rest_start": rest_start,
        "rest_after_outage": rest_outage,
        "events": events,
        "cpu_us_per_event": round(cpu / max(events, 1) * 1e6, 1),
        "gateway_us_per_event": round(gw_cpu / max(events, 1) * 1e6, 1),
        "nats_us_per_event": round(nats_cpu / max(events, 1) * 1e6, 1),
        "load1": round(load, 2),
        "p50_ms": round(statistics.median(p50s), 3) if p50s else None,
        "p99_ms": round(max(p99s), 3) if p99s else None,
    }


def trades_of(lines: list[str]) -> list[tuple[str, int]]:
    out = []
    for line in lines:
        if line.startswith("T "):
            _, code, sid = line.split()
            out.append((code, int(sid)))
    return out


def lost_and_dup(sim: Any, got: list[tuple[str, int]], codes: list[str]) -> tuple[int, int]:
    lost = dup = 0
    for code in codes:
        sids = [s for c, s in got if c == code]
        if not sids:
            continue
        dup += len(sids) - len(set(sids))
        truth = {
            t.sequential_id
            for t in sim.model.trades(code, count=100_000)
            if min(sids) <= t.sequential_id <= max(sids)
        }
        lost += len(truth - set(sids))
    return lost, dup


async def failover(args: argparse.Namespace, nats_url: str) -> dict[str, Any]:
    from upbit_tui.exchange import ExchangeServer

    codes = CODES[:2]
    prefix = "failover"
    async with ExchangeServer(
        seed=9, markets=5, rate=args.failover_rate, host="127.0.0.1", port=0
    ) as sim:
        with tempfile.TemporaryDirectory() as tmp:
            config = gateway_toml(sim, tmp)
            active = await start_gateway(config, nats_url, "gw-a", prefix)
            await wait_gateway(nats_url, "gw-a", prefix)
            standby = await start_gateway(config, nats_url, "gw-b", prefix)
            consumer = await Proc.start(
                str(CONSUMER), nats_url, prefix, "--trades", ",".join(codes)
            )
            try:
                await consumer.wait_for(lambda lines: len(trades_of(lines)) > 200)
                await asyncio.sleep(1.0)
                active.process.kill()
                killed = time.monotonic()
                at_kill = {c: sim.stats()["markets"][c]["last_sequential_id"] for c in codes}
                # Events flow again: a trade made after the kill reached the consumer.
                await consumer.wait_for(
                    lambda lines: any(s > at_kill[c] for c, s in trades_of(lines)), within=60
                )
                resumed = time.monotonic() - killed
                await asyncio.sleep(3.0)
                got = trades_of(consumer.lines)
                lost, dup = lost_and_dup(sim, got, codes)
            finally:
                for p in (consumer, active, standby):
                    await p.close()
    return {"seconds_until_events": round(resumed, 2), "lost": lost, "duplicated": dup,
            "trades_seen": len(got)}  # fmt: skip


async def consumer_restart(args: argparse.Namespace, nats_url: str) -> dict[str, Any]:
    from upbit_tui.exchange import ExchangeServer

    codes = CODES[:2]
    prefix = "restart"
    async with ExchangeServer(
        seed=11, markets=5, rate=args.failover_rate, host="127.0.0.1", port=0
    ) as sim:
        with tempfile.TemporaryDirectory() as tmp:
            gateway = await start_gateway(gateway_toml(sim, tmp), nats_url, "gw-r", prefix)
            await wait_gateway(nats_url, "gw-r", prefix)
            try:
                first = await Proc.start(
                    str(CONSUMER), nats_url, prefix, "--trades", ",".join(codes),
                    "--keep", str(args.gap + 30),
                )  # fmt: skip
                await first.wait_for(lambda lines: len(trades_of(lines)) > 200)
                first.process.kill()
                await first.close()
                before = trades_of(first.lines)
                cursor = {c: max(s for cc, s in before if cc == c) for c in codes}
                await asyncio.sleep(args.gap)
                rest0 = rest_calls(sim)
                upto = {c: sim.stats()["markets"][c]["last_sequential_id"] for c in codes}
                resume = ",".join(f"{c}:{s}" for c, s in cursor.items())
                second = await Proc.start(
                    str(CONSUMER), nats_url, prefix, "--trades", ",".join(codes),
                    "--resume", resume,
                )  # fmt: skip
                await second.wait_for(
                    lambda lines: all(
                        any(c == code and s > upto[code] for c, s in trades_of(lines))
                        for code in codes
                    )
                )
                await second.close()
                after = trades_of(second.lines)
                rest = rest_calls(sim) - rest0
                lost, dup = lost_and_dup(sim, before + after, codes)
                replayed = sum(1 for c, s in after if s <= upto[c])
            finally:
                await gateway.close()
    return {"gap_s": args.gap, "replayed_from_jetstream": replayed, "lost": lost,
            "duplicated": dup, "rest_calls": rest}  # fmt: skip


async def main(args: argparse.Namespace) -> None:
    from upbit_tui.gateway.localserver import LocalNatsServer

    report: dict[str, Any] = {"rate": args.rate, "seconds": args.seconds, "fan": []}
    with LocalNatsServer() as nats_server:
        ns = [] if args.skip_fan else [int(x) for x in args.ns.split(",")]
        for n in [n for n in ns for _ in range(args.repeat)]:
            for mode in ("direct", "gateway"):
                row = await fan_round(mode, n, args, nats_server.url, nats_server.pid)
                report["fan"].append(row)
                print(json.dumps(row), flush=True)
        if not args.skip_faults:
            report["failover"] = await failover(args, nats_server.url)
            print(json.dumps({"failover": report["failover"]}), flush=True)
            report["consumer_restart"] = await consumer_restart(args, nats_server.url)
            print(json.dumps({"consumer_restart": report["consumer_restart"]}), flush=True)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        mode, target, seconds, codes = sys.argv[2:6]
        asyncio.run(worker(mode, target, float(seconds), codes.split(",")))
        sys.exit(0)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ns", default="1,4,16", help="consumer counts (default 1,4,16)")
    parser.add_argument("--rate", type=float, default=5000.0, help="simulated trades/s")
    parser.add_argument("--seconds", type=float, default=8.0, help="measured window per round")
    parser.add_argument("--failover-rate", type=float, default=1000.0)
    parser.add_argument("--gap", type=float, default=30.0, help="consumer down for (s)")
    parser.add_argument("--repeat", type=int, default=1, help="interleaved rounds per N")
    parser.add_argument("--skip-faults", action="store_true")
    parser.add_argument("--skip-fan", action="store_true")
    asyncio.run(main(parser.parse_args()))
