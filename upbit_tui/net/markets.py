"""Which market codes Upbit lists, so an unknown one is refused before it reaches the wire.

Upbit replaces a connection's whole subscription with every request, and a request naming a
market that does not exist is refused (or silently not served): one component's typo would stop
every component's stream. So each subscription is checked against `GET /v1/market/all` first,
and a bad code fails that one call with a message naming it (and what was probably meant).

The list is fetched once on first need and cached; an unknown code asked for when the cache is
older than `max_age` refreshes it first (a market listed since start-up works without a
restart). Concurrent checks share one request. When the list cannot be had (network down, 5xx
after retries, slower than `wait`), checking never blocks the user: the codes are accepted, a
warning is logged once per outage, and the list is asked for again on a later call (at most once
per `retry_interval`; during an outage a call waits at most `outage_wait` for that new attempt,
so a dead REST API does not slow every subscription down). A code the server still refuses is
the manager's business (manager.py).

Public API::

    directory = MarketDirectory(fetch, *, max_age=60.0, wait=2.0, retry_interval=10.0,
                                outage_wait=0.5)
        # fetch: async () -> iterable of MarketInfo or market code strings
    await directory.validate(symbols) -> None     # raises UnlistedSymbolError (an
                                                  #   UnknownSymbolError) naming the unknown codes
    await directory.listed(refresh=False) -> frozenset[str] | None   # None: list unavailable
    directory.suggestions(code) -> list[str]       # close listed codes, best first
    directory.expire()                              # the next unknown code refreshes the list
    directory.status() -> dict     # for the dashboard: listed, age_s, fetches, last_error
    directory.fetches, directory.last_error, directory.age
    await directory.aclose()                        # cancels a fetch still running
"""

from __future__ import annotations

import asyncio
import difflib
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any

from upbit_tui.net.rest import UnknownSymbolError, UpbitApiError
from upbit_tui.wire.symbols import normalize_symbols

log = logging.getLogger(__name__)

# How many close matches a refusal suggests.
MAX_SUGGESTIONS = 3

MarketFetch = Callable[[], Awaitable[Iterable[Any]]]


class UnlistedSymbolError(UnknownSymbolError):
    """Market codes that are well-formed but not listed on Upbit, with close listed codes.

    `symbols` are the unknown codes, `suggestions` maps each to its close matches. The message
    is the whole story: "KRW-BTCC is not listed on Upbit (did you mean KRW-BTC?)".
    """

    def __init__(self, symbols: Sequence[str], suggestions: dict[str, list[str]]) -> None:
        self.suggestions = {code: list(suggestions.get(code, ())) for code in symbols}
        super().__init__(symbols, _describe(list(symbols), self.suggestions))

    def __str__(self) -> str:
        return self.message


def _describe(codes: list[str], suggestions: dict[str, list[str]]) -> str:
    def guess(code: str) -> str:
        close = suggestions.get(code)
        return f" (did you mean {' or '.join(close)}?)" if close else ""

    if len(codes) == 1:
        return f"{codes[0]} is not listed on Upbit{guess(codes[0])}"
    return "not listed on Upbit: " + ", ".join(f"{code}{guess(code)}" for code in codes)


class MarketDirectory:
    """The exchange's market list, fetched on first need, cached, refreshed when it matters.

    See the module docstring. `fetch` is called with no arguments and returns the listed
    markets (`MarketInfo`s or plain codes); the manager passes its REST client's `get_markets`.
    """

    def __init__(
        self,
        fetch: MarketFetch,
        *,
        max_age: float = 60.0,
        wait: float = 2.0,
        retry_interval: float = 10.0,
        outage_wait: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._fetch = fetch
        self.max_age = max_age
        self.wait = wait
        self.retry_interval = retry_interval
        self.outage_wait = outage_wait
        self._clock = clock
        self._codes: frozenset[str] | None = None
        self._fetched_at = 0.0
        self._failed_at: float | None = None
        self._inflight: asyncio.Task[frozenset[str]] | None = None
        self._deadline = 0.0  # waiters of the running fetch give up (and accept) at this time
        self._warned = False
        self.fetches = 0  # requests made (for health and tests)
        self.last_error: str | None = None

    @property
    def age(self) -> float | None:
        """Seconds since the cached list was fetched (None: never fetched)."""
        return None if self._codes is None else self._clock() - self._fetched_at

    def status(self) -> dict[str, Any]:
        """JSON-ready: how many markets are listed (None: never fetched), the list's age in
        seconds, requests made, and why the last one failed (codes go unchecked meanwhile)."""
        age = self.age
        return {
            "listed": None if self._codes is None else len(self._codes),
            "age_s": None if age is None or age == float("inf") else round(age, 1),
            "fetches": self.fetches,
            "last_error": self.last_error,
        }

    def expire(self) -> None:
        """Treat the cached list as stale (the server refused a code it lists, say)."""
        self._fetched_at = -float("inf")

    async def validate(self, symbols: Iterable[str] | str) -> None:
        """Raise UnlistedSymbolError if any of `symbols` is not listed; return otherwise.

        Malformed codes raise SymbolError (a ValueError) first. When the list is unavailable the
        codes are accepted (see the module docstring).
        """
        items = [symbols] if isinstance(symbols, str) else list(symbols)
        if not items:
            return
        codes = normalize_symbols(items)
        listed = await self.listed()
        if listed is None:
            return
        unknown = [c for c in codes if c not in listed]
        if unknown and not self._fresh():
            listed = await self.listed(refresh=True)
            if listed is None:
                return
            unknown = [c for c in unknown if c not in listed]
        if unknown:
            raise UnlistedSymbolError(unknown, {c: self.suggestions(c) for c in unknown})

    async def listed(self, refresh: bool = False) -> frozenset[str] | None:
        """The listed codes (fetched if needed, or if `refresh`); None when unavailable now."""
        if self._codes is not None and not refresh:
            return self._codes
        if self._inflight is None:
            failed = self._failed_at
            if failed is not None and self._clock() - failed < self.retry_interval:
                return None  # it failed a moment ago: accept rather than hammer the server
            patience = self.wait if failed is None else min(self.wait, self.outage_wait)
            self._deadline = self._clock() + patience
            self._inflight = asyncio.get_running_loop().create_task(
                self._load(), name="upbit-market-list"
            )
            # Waiters may all have given up: the outcome is recorded by _load, not lost.
            self._inflight.add_done_callback(_retrieve)
        task = self._inflight
        left = self._deadline - self._clock()
        if left <= 0:
            self._unavailable("still waiting for GET /v1/market/all")
            return None
        try:
            async with asyncio.timeout(left):
                return await asyncio.shield(task)
        except TimeoutError:
            self._unavailable("GET /v1/market/all did not answer in time")
        except asyncio.CancelledError:
            if task.cancelled() and not _current_cancelling():
                return None  # the directory was closed, not us
            raise
        except Exception as exc:
            self._unavailable(_reason(exc))
        return None

    def suggestions(self, code: str) -> list[str]:
        """Listed codes close to `code`, best first: the same coin on another quote market,
        the quote and base swapped, then similar spellings."""
        listed = self._codes or frozenset()
        quote, _, base = code.partition("-")
        out: list[str] = []
        swapped = f"{base}-{quote}"
        if swapped in listed:
            out.append(swapped)
        out.extend(sorted(c for c in listed if c.partition("-")[2] == base and c != code))
        same_quote = {c.partition("-")[2]: c for c in listed if c.partition("-")[0] == quote}
        for close in difflib.get_close_matches(base, same_quote, n=MAX_SUGGESTIONS, cutoff=0.6):
            out.append(same_quote[close])
        out.extend(difflib.get_close_matches(code, listed, n=MAX_SUGGESTIONS, cutoff=0.85))
        return list(dict.fromkeys(c for c in out if c != code))[:MAX_SUGGESTIONS]

    async def aclose(self) -> None:
        """Cancel a fetch still running (the manager calls this when it stops)."""
        task, self._inflight = self._inflight, None
        if task is not None and not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    # ------------------------------------------------------------------ internals

    def _fresh(self) -> bool:
        return self._codes is not None and self._clock() - self._fetched_at <= self.max_age

    async def _load(self) -> frozenset[str]:
        """One fetch (the single flight every waiter shares); records the outcome."""
        self.fetches += 1
        try:
            markets = await self._fetch()
            codes = frozenset(str(getattr(m, "market", m)) for m in markets)
            if not codes:
                raise UpbitApiError(200, "bad_response", "/market/all: an empty market list")
        except Exception as exc:
            self._failed_at = self._clock()
            self.last_error = _reason(exc)
            self._unavailable(self.last_error)
            raise
        finally:
            self._inflight = None
        self._codes = codes
        self._fetched_at = self._clock()
        self._failed_at = None
        self.last_error = None
        if self._warned:
            log.info("market list available again (%d markets): checking codes again", len(codes))
        self._warned = False
        return codes

    def _unavailable(self, reason: str) -> None:
        if not self._warned:
            self._warned = True
            log.warning(
                "cannot check market codes against Upbit's market list (%s): accepting them "
                "unchecked for now",
                reason,
            )


def _retrieve(task: asyncio.Task[Any]) -> None:
    if not task.cancelled():
        task.exception()


def _reason(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


def _current_cancelling() -> int:
    task = asyncio.current_task()
    return task.cancelling() if task is not None else 0
