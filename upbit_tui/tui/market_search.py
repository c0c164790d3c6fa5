"""What the user typed into "add a market", resolved against Upbit's market list.

A full code (`krw-dot`) is checked with the manager's MarketDirectory, whose refusal carries
"did you mean"; a base symbol (`dot`) or a Korean or English name (`Polkadot`, `폴카닷`) is a
search over `GET /v1/market/all`, which resolves to one code or offers the matches as choices.
Pure logic in `search_markets`; `MarketLookup` adds the I/O (the list fetched once and cached).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from upbit_tui.net.markets import UnlistedSymbolError
from upbit_tui.net.rest import MarketInfo, UnknownSymbolError
from upbit_tui.wire.symbols import SymbolError, normalize_symbol

log = logging.getLogger(__name__)

# Quote markets in the order a Korean user looks for them.
QUOTE_ORDER = ("KRW", "BTC", "USDT")
MAX_CHOICES = 8


@dataclass(frozen=True)
class Lookup:
    """`code` when the text named one market; else `error` (why not) and `choices` (codes)."""

    code: str | None = None
    error: str = ""
    choices: tuple[str, ...] = ()


def _quote_rank(code: str) -> tuple[int, str]:
    quote = code.partition("-")[0]
    return (QUOTE_ORDER.index(quote) if quote in QUOTE_ORDER else len(QUOTE_ORDER), code)


def search_markets(text: str, markets: Sequence[MarketInfo]) -> Lookup:
    """A base symbol or a name (not a QUOTE-BASE code) -> the market(s) it names."""
    query = text.strip()
    if not query:
        return Lookup(error="type a market code, a symbol or a name")
    folded = query.casefold()
    exact = [m.market for m in markets if m.market.partition("-")[2].casefold() == folded]
    if not exact:
        exact = [
            m.market
            for m in markets
            if folded in (m.korean_name.casefold(), m.english_name.casefold())
        ]
    partial = [
        m.market
        for m in markets
        if folded in m.korean_name.casefold() or folded in m.english_name.casefold()
    ]
    found = sorted(exact or partial, key=_quote_rank)
    if len(found) == 1:
        return Lookup(code=found[0])
    if found:
        return Lookup(
            error=f"{len(found)} markets match '{query}': pick one",
            choices=tuple(found[:MAX_CHOICES]),
        )
    return Lookup(
        error=f"no Upbit market matches '{query}' (a code such as KRW-BTC, a symbol "
        "such as btc, or a name such as Bitcoin)"
    )


class MarketLookup:
    """Resolves the add-a-market text: codes through `validate` (the manager's MarketDirectory),
    symbols and names through the market list from `fetch_markets` (fetched once, cached)."""

    def __init__(
        self,
        validate: Callable[[str], Awaitable[None]],
        fetch_markets: Callable[[], Awaitable[Sequence[MarketInfo]]],
    ) -> None:
        self._validate = validate
        self._fetch_markets = fetch_markets
        self._markets: Sequence[MarketInfo] | None = None
        self._lock = asyncio.Lock()

    async def resolve(self, text: str) -> Lookup:
        word = text.strip()
        if "-" in word:
            try:
                code = normalize_symbol(word)
            except SymbolError as exc:
                return Lookup(error=str(exc))
            try:
                await self._validate(code)
            except UnlistedSymbolError as exc:
                return Lookup(error=str(exc), choices=tuple(exc.suggestions.get(code, ())))
            except UnknownSymbolError as exc:
                return Lookup(error=str(exc))
            return Lookup(code=code)
        markets = await self._markets_list()
        if markets is None:
            return Lookup(
                error="the market list is unavailable now: type the full code "
                "(KRW-BTC) to add it unchecked"
            )
        return search_markets(word, markets)

    async def _markets_list(self) -> Sequence[MarketInfo] | None:
        async with self._lock:
            if self._markets is None:
                try:
                    self._markets = await self._fetch_markets()
                except Exception as exc:  # the network: say so, never a traceback
                    log.warning("market list for the search unavailable: %s", exc)
                    return None
            return self._markets
