"""Gap-free trades across a consumer's crash: what it missed comes from JetStream, not Upbit."""

from __future__ import annotations

from typing import Any

from gateway_harness import (
    start_consumer,
    trades_of,
    wait_until,
)

from upbit_tui.gateway.localserver import LocalNatsServer
from upbit_tui.gateway.service import GatewayService

CODES = ["KRW-BTC", "KRW-ETH"]


def sim_last_trade(sim: Any, code: str) -> int:
    return int(sim.stats()["markets"][code]["last_sequential_id"] or 0)


async def test_killed_consumer_resumes_its_trades_from_jetstream(
    gateway: GatewayService, sim: Any, nats_server: LocalNatsServer, prefix: str
) -> None:
    trades_arg = ",".join(CODES)
    first = await start_consumer(nats_server.url, prefix, "--trades", trades_arg, "--keep", "60")
    try:
        await first.wait_line(
            lambda lines: all(
                sum(1 for c, _ in trades_of(lines) if c == code) >= 5 for code in CODES
            )
        )
        first.kill()
        await first.process.wait()
    finally:
        await first.close()
    before = trades_of(first.lines)
    # The last trade it received (by arrival: ids are unique, not ordered).
    cursor = {code: [s for c, s in before if c == code][-1] for code in CODES}
    # While it is down, the market goes on (and the gateway keeps recording its trades).
    at_kill = {code: sim_last_trade(sim, code) for code in CODES}
    await wait_until(
        lambda: all(sim_last_trade(sim, c) >= at_kill[c] + 10 for c in CODES), what="new trades"
    )
    rest_before = sim.stats()["rest"]["requests"]
    resume = ",".join(f"{c}:{s}" for c, s in cursor.items())
    upto = {code: sim_last_trade(sim, code) for code in CODES}
    second = await start_consumer(
        nats_server.url, prefix, "--trades", trades_arg, "--resume", resume
    )
    try:
        await second.wait_line(
            lambda lines: all(
                any(c == code and s > upto[code] for c, s in trades_of(lines)) for code in CODES
            )
        )
    finally:
        await second.close()
    after = trades_of(second.lines)
    assert sim.stats()["rest"]["requests"] == rest_before, "the missed trades came from REST"
    for code in CODES:
        got = [s for c, s in before + after if c == code]
        assert len(got) == len(set(got)), f"{code}: a trade twice"
        # Exactly the simulator's trades between the first and the last received, in its order.
        made = [t.sequential_id for t in reversed(sim.model.trades(code, count=5000))]
        span = made[made.index(got[0]) : made.index(got[-1]) + 1]
        assert got == span, f"{code}: {len(set(span) - set(got))} trades lost or out of order"
        assert any(s <= upto[code] for c, s in after if c == code), "nothing was replayed"
