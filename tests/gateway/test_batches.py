"""Batches on NATS (protocol.py): one message per gateway read and type, the same events.

A consumer that takes a type's batch must see exactly what the per-code subjects carry (epoch,
stream_type, received_at, backfilled included), each trade once, even when two batches overlap.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import msgspec
import nats
import pytest
from gateway_harness import (
    Collector,
    fast_config,
    fast_settings,
    live_subscription,
    wait_until,
)

from upbit_tui.client.proxy import WebSocketClientProxy
from upbit_tui.exchange import ExchangeServer
from upbit_tui.gateway import protocol
from upbit_tui.gateway.localserver import LocalNatsServer
from upbit_tui.gateway.remote import RemoteWebSocketManager
from upbit_tui.gateway.service import GatewayService
from upbit_tui.wire.events import StreamType, TradeEvent

CODES = ["KRW-BTC", "KRW-ETH"]


@pytest.fixture
async def quiet_sim() -> AsyncIterator[Any]:
    """No trades but those a test makes: bursts and outages exactly where it wants them."""
    async with ExchangeServer(seed=3, markets=20, rate=0.0, host="127.0.0.1", port=0) as server:
        yield server


def ids(events: list[Any]) -> list[tuple[str, int]]:
    return [(e.symbol, e.sequential_id) for e in events]


def made(trades: list[Any]) -> list[int]:
    """The ids of trades the simulator just made, in the order it made them."""
    return [t.sequential_id for t in trades]


async def test_batches_carry_the_same_events_as_the_per_code_subjects(
    quiet_sim: Any, nats_server: LocalNatsServer, prefix: str
) -> None:
    sim = quiet_sim
    singles: dict[tuple[str, int], TradeEvent] = {}
    batches: list[list[TradeEvent]] = []
    one = msgspec.json.Decoder(TradeEvent)
    many = msgspec.json.Decoder(list[TradeEvent])
    nc = await nats.connect(nats_server.url)
    try:

        async def on_single(msg: Any) -> None:
            event = one.decode(msg.data)
            singles[(event.symbol, event.sequential_id)] = event

        async def on_batch(msg: Any) -> None:
            batches.append(many.decode(msg.data))

        await nc.subscribe(f"{prefix}.trade.*", cb=on_single)
        await nc.subscribe(protocol.batch_subject(prefix, "trade"), cb=on_batch)
        await nc.flush()
        async with (
            GatewayService(
                fast_config(sim), nats_url=nats_server.url, settings=fast_settings(prefix)
            ) as gw,
            RemoteWebSocketManager(nats_server.url, prefix=prefix, batch_min_codes=1) as batched,
            RemoteWebSocketManager(nats_server.url, prefix=prefix, batch_min_codes=None) as plain,
        ):
            await gw.wait_active()
            got_batched, got_plain = Collector(), Collector()
            proxies = []  # held: a collected proxy withdraws its wishes
            for manager, collector in ((batched, got_batched), (plain, got_plain)):
                proxies.append(WebSocketClientProxy("trades", manager))
                await proxies[-1].subscribe_trade(CODES, collector, queue_size=10_000)
            assert protocol.batch_subject(prefix, "trade") in batched._nats_subs
            assert protocol.batch_subject(prefix, "trade") not in plain._nats_subs
            await wait_until(lambda: set(CODES) <= live_subscription(sim).get("trade", set()))
            await asyncio.sleep(0.2)  # the snapshot trades of the subscription pass first
            want = {
                "KRW-BTC": made(sim.generate_trades(count=30, market="KRW-BTC")),
                "KRW-ETH": made(sim.generate_trades(count=30, market="KRW-ETH")),
            }
            await got_plain.wait_for(lambda c: len(c.events) >= 60)
            # An outage: these trades happen while the gateway has no socket, so they come
            # from its REST backfill (backfilled, stream_type REST) once it reconnects.
            sim.drop_connections("public")
            want["KRW-BTC"] += made(sim.generate_trades(count=20, market="KRW-BTC"))
            await wait_until(lambda: any(e.backfilled for e in got_plain.events), within=15)
            want["KRW-ETH"] += made(sim.generate_trades(count=10, market="KRW-ETH"))

            def complete(c: Collector) -> bool:
                return all(
                    {s for code_, s in ids(c.events) if code_ == code} >= set(want[code])
                    for code in CODES
                )

            await got_plain.wait_for(complete, within=15)
            await got_batched.wait_for(complete, within=15)
            await wait_until(lambda: len(singles) == sum(len(b) for b in batches))
    finally:
        await nc.close()

    # The same trades, once each, in the same order per code, as the same values. (Only the
    # trades made after both joined: the second one's join does not re-send Upbit's snapshot
    # trade on NATS.)
    for code in CODES:
        made_here = set(want[code])
        mine = [e for e in got_batched.events if e.symbol == code and e.sequential_id in made_here]
        theirs = [e for e in got_plain.events if e.symbol == code and e.sequential_id in made_here]
        assert [msgspec.structs.asdict(e) for e in mine] == [
            msgspec.structs.asdict(e) for e in theirs
        ]
        assert len(theirs) == len(made_here)  # each once
    in_batches = [e for batch in batches for e in batch]
    assert len(in_batches) == len(singles)
    for event in in_batches:
        assert event == singles[(event.symbol, event.sequential_id)]
    assert max(len(b) for b in batches) > 1, "every batch held one event: nothing was batched"
    backfilled = [e for e in in_batches if e.backfilled]
    assert backfilled and all(e.stream_type == StreamType.REST for e in backfilled)
    live = [e for e in in_batches if e.stream_type == StreamType.REALTIME]
    assert live and all(e.epoch >= 1 and e.received_at > 0 for e in live)
    assert len({e.epoch for e in live}) >= 2, "the reconnect's new epoch did not travel"


async def test_a_trade_in_two_batches_is_delivered_once(
    nats_server: LocalNatsServer, prefix: str
) -> None:
    """Two gateways around a failover can both publish a trade; the consumer keeps one. (No
    gateway here: the batches are published as a gateway would.)"""

    def trade(code: str, sid: int, **fields: Any) -> TradeEvent:
        return TradeEvent(
            symbol=code, trade_price=1.0, trade_volume=1.0, ask_bid="BID",
            sequential_id=sid, trade_timestamp=sid, timestamp_ms=sid, **fields,
        )  # fmt: skip

    first = [
        trade("KRW-BTC", 1, epoch=3, received_at=100.5),
        trade("KRW-BTC", 2, epoch=3, received_at=100.6),
        trade("KRW-ETH", 10, epoch=3, received_at=100.7),
    ]
    second = [
        trade("KRW-BTC", 2, epoch=4, received_at=101.0),  # again, from the other gateway
        trade("KRW-XRP", 5, epoch=4, received_at=101.1),  # not wanted
        trade("KRW-BTC", 3, stream_type="REST", backfilled=True),
    ]
    last = [trade("KRW-ETH", 11, epoch=4, received_at=101.2)]
    subject = protocol.batch_subject(prefix, "trade")
    async with RemoteWebSocketManager(
        nats_server.url, prefix=prefix, batch_min_codes=1, request_timeout=0.5
    ) as manager:
        got = Collector()
        proxy = WebSocketClientProxy("trades", manager)
        await proxy.subscribe_trade(CODES, got)  # no gateway answers: kept, interest is on
        nc = await nats.connect(nats_server.url)
        try:
            for batch in (first, second):
                await nc.publish(subject, msgspec.json.encode(batch))
            await nc.publish(subject, b"[{not json")
            await nc.publish(subject, msgspec.json.encode(last))
            await nc.flush()
            await got.wait_for(lambda c: ("KRW-ETH", 11) in ids(c.events))
        finally:
            await nc.close()
        # One router subscriber per code: the order holds within a code.
        by_code = {code: [e for e in got.events if e.symbol == code] for code in CODES}
        assert [e.sequential_id for e in by_code["KRW-BTC"]] == [1, 2, 3]
        assert [e.sequential_id for e in by_code["KRW-ETH"]] == [10, 11]
        assert by_code["KRW-BTC"][1] == first[1]  # the first copy, epoch and received_at as sent
        assert by_code["KRW-BTC"][2] == second[2] and by_code["KRW-BTC"][2].backfilled
        assert manager.duplicate_trades == 1
        assert manager.bad_messages == 1
        assert manager.last_trade_ids() == {"KRW-BTC": 3, "KRW-ETH": 11}


async def test_a_resumed_market_replays_on_its_own_subject_beside_a_batch(
    quiet_sim: Any, nats_server: LocalNatsServer, prefix: str
) -> None:
    """KRW-BTC resumes from JetStream (ordered, on its subject); KRW-ETH comes in batches."""
    sim = quiet_sim
    async with GatewayService(
        fast_config(sim), nats_url=nats_server.url, settings=fast_settings(prefix)
    ) as gw:
        await gw.wait_active()
        # The recorder keeps the gateway streaming (and JetStream recording) throughout.
        async with RemoteWebSocketManager(nats_server.url, prefix=prefix) as recorder:
            seen = Collector()
            recording = WebSocketClientProxy("rec", recorder)
            await recording.subscribe_trade(CODES, seen)
            await wait_until(lambda: set(CODES) <= live_subscription(sim).get("trade", set()))
            await asyncio.sleep(0.2)
            first = made(sim.generate_trades(count=20, market="KRW-BTC"))
            await seen.wait_for(lambda c: set(first) <= {s for _, s in ids(c.events)})
            cursor = first[9]
            # Missed by the consumer (not started yet), kept by JetStream.
            missed = made(sim.generate_trades(count=15, market="KRW-BTC"))
            await seen.wait_for(lambda c: set(missed) <= {s for _, s in ids(c.events)})
            async with RemoteWebSocketManager(
                nats_server.url, prefix=prefix, batch_min_codes=1,
                resume_trades={"KRW-BTC": cursor},
            ) as consumer:  # fmt: skip
                got = Collector()
                proxy = WebSocketClientProxy("c", consumer)
                await proxy.subscribe_trade(CODES, got)
                assert protocol.batch_subject(prefix, "trade") in consumer._nats_subs
                assert f"{prefix}.trade.KRW-BTC" in consumer._nats_subs
                live_btc = made(sim.generate_trades(count=10, market="KRW-BTC"))
                want_eth = made(sim.generate_trades(count=10, market="KRW-ETH"))
                want_btc = first[10:] + missed + live_btc
                await got.wait_for(
                    lambda c: set(want_btc) | set(want_eth) <= {s for _, s in ids(c.events)}
                )
                btc = [s for c, s in ids(got.events) if c == "KRW-BTC"]
                assert btc == want_btc  # the gap from JetStream, then live: in order, once each
                eth = [s for c, s in ids(got.events) if c == "KRW-ETH"]
                assert len(eth) == len(set(eth)) and set(want_eth) <= set(eth)
                assert consumer.jetstream_trades >= 15
                assert consumer.duplicate_trades == 0
