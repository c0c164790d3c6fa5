"""Refusals: what Upbit refused (INVALID_PARAM) is kept off the wire, so the rest streams.

Checked codes only reach the wire when the market list was unavailable, or for a market delisted
since. Upbit then refuses the whole public request: every component's stream would stop, and a
resend would be refused again. So a refused code is left out of the request while anyone holds
it (`codes`, shown in health and the dashboard); a refusal that names no code we send is looked
up in a fresh market list, and failing that the request itself is marked refused until the
subscription changes or the same request is accepted: sent again (after a reconnect, or by the
watchdog on the same socket) and answered with market data, or listed by the server when the
watchdog asks. The watchdog keeps re-sending a subscription the server lost, refused or not.

    refusals = Refusals(markets, public_codes, spawn, on_change, data_frames)
    refusals.on_refused(text, request)          # an INVALID_PARAM error frame on the public socket
    refusals.codes -> {code: error text}
    refusals.without_refused(desired) -> DesiredSubscription
    refusals.request_built(request)             # the public request changed: an old refusal ends
    refusals.resent(request)                    # sent again; data after this ends a refusal
    refusals.standing(request) -> error text | None
    refusals.listing_matches(request, listing) -> bool   # the watchdog's probe check
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import re
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

from upbit_tui.wire.codec import DesiredSubscription, SubscriptionList, listing_matches

if TYPE_CHECKING:
    from upbit_tui.net.markets import MarketDirectory

log = logging.getLogger(__name__)

# Market codes quoted in an error frame's message (Upbit names the code it refuses).
CODE_IN_TEXT = re.compile(r"\b(?:KRW|BTC|USDT)-[A-Z0-9]{1,15}\b")


class Refusals:
    """Codes and requests Upbit refused; see the module docstring."""

    def __init__(
        self,
        markets: Callable[[], MarketDirectory],
        public_codes: Callable[[], set[str]],
        spawn: Callable[[Coroutine[Any, Any, Any], str], asyncio.Task[Any]],
        on_change: Callable[[], None],
        data_frames: Callable[[], int],
    ) -> None:
        self._markets = markets
        self._public_codes = public_codes
        self._spawn = spawn
        self._on_change = on_change  # the public request must be rebuilt and sent
        self._data_frames = data_frames  # market-data frames the public socket has read so far
        self.codes: dict[str, str] = {}
        # A public request Upbit refused without our finding which code: (request, error text).
        self.request: tuple[bytes, str] | None = None
        # data_frames() when the refused request was sent again; None until it is.
        self._resent_at: int | None = None

    def on_refused(self, text: str, request: bytes | None) -> None:
        """Upbit refused the public request `request`: find the codes it refused."""
        union = self._public_codes()
        named = {c for c in CODE_IN_TEXT.findall(text) if c in union}
        self._markets().expire()
        if named:
            self.refuse(named, text)
        else:  # the message names no code we send: the market list says which are gone
            self._spawn(self._find_refused(text, request), "upbit-find-refused")

    async def _find_refused(self, text: str, request: bytes | None) -> None:
        listed = await self._markets().listed(refresh=True)
        union = self._public_codes()
        gone = set() if listed is None else union - listed
        if gone:
            self.refuse(gone, text)
            return
        log.error(
            "Upbit refused the public subscription request (%s) and the market list does not "
            "say which code; not sent again until the subscription changes: %s",
            text,
            ", ".join(sorted(union)),
        )
        if request is not None:
            self.request = (request, text)
            self._resent_at = None

    def refuse(self, codes: set[str], text: str) -> None:
        fresh = codes - self.codes.keys()
        for code in codes:
            self.codes[code] = text
        if not fresh:
            return
        log.error(
            "Upbit refused %s (%s): not streamed while subscribed; the other codes go on",
            ", ".join(sorted(fresh)),
            text,
        )
        self._on_change()

    def without_refused(self, desired: DesiredSubscription) -> DesiredSubscription:
        """`desired` minus the refused codes (forgetting those nobody holds any more)."""
        if not self.codes:
            return desired
        held = set().union(*desired.codes.values())
        for code in [c for c in self.codes if c not in held]:
            del self.codes[code]
        refused = set(self.codes)
        codes = {t: frozenset(set(s) - refused) for t, s in desired.codes.items()}
        return dataclasses.replace(
            desired,
            codes={t: s for t, s in codes.items() if s},
            orderbook={c: o for c, o in desired.orderbook.items() if c not in refused},
        )

    def request_built(self, request: bytes | None) -> None:
        """The public request was rebuilt: a refusal of another request no longer stands."""
        if self.request is not None and request != self.request[0]:
            self.request = None

    def resent(self, request: bytes | None) -> None:
        """`request` went out again (a new connection, or the watchdog's re-send)."""
        if self.request is not None and request == self.request[0]:
            self._resent_at = self._data_frames()

    def standing(self, request: bytes | None) -> str | None:
        """Upbit's error text while `request` (the current public one) is one it refused."""
        refused = self.request
        if refused is None or refused[0] != request:
            return None
        if self._resent_at is not None and self._data_frames() > self._resent_at:
            self._accepted("market data arrived after it was sent again")
            return None
        return refused[1]

    def listing_matches(self, request: bytes | str, listing: SubscriptionList) -> bool:
        """The watchdog's check; a listing that shows a refused request ends the refusal."""
        matches = listing_matches(request, listing)
        refused = self.request
        if matches and refused is not None and request == refused[0]:
            self._accepted("the server lists it")
        return matches

    def _accepted(self, how: str) -> None:
        log.info("Upbit accepted the subscription request it had refused (%s)", how)
        self.request = None
        self._resent_at = None
