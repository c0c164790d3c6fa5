"""Telling a market that does not exist from a network that is down.

Upbit answers a subscription to an unknown code with silence, so a typo would give a row that
never updates. The manager's MarketDirectory (Upbit's market list, cached) says which codes are
listed, with "did you mean" for the others; a refusal is final (no retry can list a market).
When the list is unavailable the directory accepts the codes: the live stream fills the rows
once the network is back.
"""

from __future__ import annotations

from upbit_tui.net.markets import MarketDirectory, UnlistedSymbolError
from upbit_tui.wire.symbols import normalize_symbol


def refusal(code: str, suggestions: list[str]) -> str:
    """'KRW-BTCC is not listed on Upbit (did you mean KRW-BTC?)'."""
    guess = f" (did you mean {' or '.join(suggestions)}?)" if suggestions else ""
    return f"{code} is not listed on Upbit{guess}"


async def split_listed(
    markets: MarketDirectory, symbols: list[str]
) -> tuple[list[str], dict[str, str]]:
    """(listed symbols, {unlisted symbol: why, with suggestions}); unchecked codes count as
    listed while the market list is unavailable."""
    try:
        await markets.validate(symbols)
    except UnlistedSymbolError as exc:
        unknown = {normalize_symbol(s) for s in exc.symbols}
        unlisted = {s: refusal(s, exc.suggestions.get(s, [])) for s in symbols if s in unknown}
        return [s for s in symbols if s not in unknown], unlisted
    return list(symbols), {}
