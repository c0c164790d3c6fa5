"""Faults on demand: what a flaky exchange does, triggered from tests or over `/_sim/`.

    sim.faults.drop_all()                     abort every WebSocket (TCP closed, no close frame)
    sim.faults.close_all(code=1001, reason="")  close every WebSocket cleanly (close frame)
    sim.faults.stall(seconds=None)            open connections stop sending anything and stop
                                              answering pings (frames are discarded); None =
                                              until resume(). New connections are not stalled.
    sim.faults.resume()                       end a stall
    sim.faults.forget_subscriptions()         open connections lose their subscription but stay
                                              up: pings and LIST_SUBSCRIPTIONS (now an empty
                                              list) are answered, no data flows until the
                                              client subscribes again
    sim.faults.send_error(name="INVALID_PARAM", message="...")  an Upbit error frame to all
    sim.faults.send_malformed(payload=b'{"type":')              a frame that is not JSON, to all
    sim.faults.reject_handshakes(count, status=429, retry_after=True)
                                              the next `count` WebSocket handshakes get HTTP
                                              `status` (429 or 418), with `Retry-After: 1` or
                                              without it (as a proxy in front of Upbit might)
    sim.faults.fail_rest(count, status=500)   the next `count` REST calls answer `status`
                                              (429, 418 or any 5xx)
    sim.faults.take_rest_fault() -> int | None
        For the REST layer (rest.py): call once per incoming REST request, before any other
        work; a status code means "answer this request with that status" (and consumes one).

Every connection-level fault takes `endpoint=None | "public" | "private"` to target one endpoint,
and returns how many connections it touched.
"""

from __future__ import annotations

from typing import Literal, Protocol

from upbit_tui.exchange.wire import error_frame

Endpoint = Literal["public", "private", "info"]


class FaultTarget(Protocol):
    """What the server exposes to the fault injector."""

    def drop_connections(self, endpoint: Endpoint | None) -> int: ...

    def close_connections(self, endpoint: Endpoint | None, code: int, reason: str) -> int: ...

    def stall_connections(self, endpoint: Endpoint | None, seconds: float | None) -> int: ...

    def resume_connections(self) -> int: ...

    def broadcast_raw(self, endpoint: Endpoint | None, data: bytes) -> int: ...

    def forget_subscriptions(self, endpoint: Endpoint | None) -> int: ...


class Faults:
    """The fault switchboard of one ExchangeServer."""

    def __init__(self, target: FaultTarget) -> None:
        self._target = target
        self._handshake_rejections: list[tuple[int, bool]] = []
        self._rest_failures: list[int] = []

    def drop_all(self, endpoint: Endpoint | None = None) -> int:
        return self._target.drop_connections(endpoint)

    def close_all(
        self,
        code: int = 1001,
        reason: str = "closed by simulator",
        endpoint: Endpoint | None = None,
    ) -> int:
        return self._target.close_connections(endpoint, code, reason)

    def stall(self, seconds: float | None = None, endpoint: Endpoint | None = None) -> int:
        return self._target.stall_connections(endpoint, seconds)

    def resume(self) -> int:
        return self._target.resume_connections()

    def forget_subscriptions(self, endpoint: Endpoint | None = None) -> int:
        """The server loses what open connections subscribed to (a server-side session reset).

        Upbit does not document this; it is the failure a client can only find by asking
        (LIST_SUBSCRIPTIONS), since the socket itself stays healthy.
        """
        return self._target.forget_subscriptions(endpoint)

    def send_error(
        self,
        name: str = "INVALID_PARAM",
        message: str = "simulated error",
        endpoint: Endpoint | None = None,
    ) -> int:
        return self._target.broadcast_raw(endpoint, error_frame(name, message))

    def send_malformed(
        self, payload: bytes = b'{"type": "ticker", "code": ', endpoint: Endpoint | None = None
    ) -> int:
        return self._target.broadcast_raw(endpoint, payload)

    def reject_handshakes(self, count: int, status: int = 429, *, retry_after: bool = True) -> None:
        if status not in (429, 418):
            raise ValueError(f"handshake rejection status must be 429 or 418, got {status}")
        self._handshake_rejections.extend([(status, retry_after)] * max(0, count))

    def fail_rest(self, count: int, status: int = 500) -> None:
        if status not in (429, 418) and not 500 <= status <= 599:
            raise ValueError(f"REST fault status must be 429, 418 or 5xx, got {status}")
        self._rest_failures.extend([status] * max(0, count))

    def take_handshake_fault(self) -> tuple[int, bool] | None:
        """(status, send Retry-After?) to refuse this handshake with, if a rejection is pending."""
        return self._handshake_rejections.pop(0) if self._handshake_rejections else None

    def take_rest_fault(self) -> int | None:
        """The status to answer this REST request with, if a failure is pending."""
        return self._rest_failures.pop(0) if self._rest_failures else None

    def pending(self) -> dict[str, int]:
        return {
            "handshake_rejections": len(self._handshake_rejections),
            "rest_failures": len(self._rest_failures),
        }

    def clear(self) -> None:
        self._handshake_rejections.clear()
        self._rest_failures.clear()
        self._target.resume_connections()
