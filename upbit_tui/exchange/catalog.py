"""The simulator's market list: real-looking codes, names and price levels.

KRW markets first: the first entries cover every band of the tick table (KRW-BTC near 150M KRW
down to KRW-BTT near 0.0005 KRW), so any `markets=N >= 16` exercises all tick sizes; markets
beyond the list get synthetic codes `KRW-SIMnnn`. Then BTC- and USDT-quoted markets, as Upbit
lists them next to KRW (prices in the quote currency, consistent with the KRW prices at
KRW-BTC 148.5M and KRW-USDT 1,391; thinner books and fewer trades than their KRW twins).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Listing:
    """One listed market and the scale the simulator trades it at."""

    market: str
    korean_name: str
    english_name: str
    base_price: float  # in the quote currency: the price the synthetic history ends at
    trade_value: float  # median value of one trade, in the quote currency
    depth_value: float  # median value resting at one order-book level, in the quote currency
    trades_per_minute: float  # activity of the seeded recent history

    @property
    def quote(self) -> str:
        return self.market.split("-", 1)[0]


_LISTINGS: tuple[Listing, ...] = (
    Listing("KRW-BTC", "비트코인", "Bitcoin", 148_500_000.0, 600_000, 40_000_000, 90),
    Listing("KRW-ETH", "이더리움", "Ethereum", 5_230_000.0, 400_000, 25_000_000, 70),
    Listing("KRW-XRP", "리플", "XRP", 3_420.0, 300_000, 30_000_000, 80),
    Listing("KRW-SOL", "솔라나", "Solana", 261_300.0, 250_000, 10_000_000, 50),
    Listing("KRW-DOGE", "도지코인", "Dogecoin", 331.0, 200_000, 15_000_000, 60),
    Listing("KRW-ADA", "에이다", "Cardano", 1_102.0, 150_000, 8_000_000, 30),
    Listing("KRW-TRX", "트론", "TRON", 452.0, 100_000, 6_000_000, 20),
    Listing("KRW-LINK", "체인링크", "Chainlink", 30_150.0, 120_000, 5_000_000, 20),
    Listing("KRW-BCH", "비트코인캐시", "Bitcoin Cash", 781_500.0, 150_000, 5_000_000, 15),
    Listing("KRW-USDT", "테더", "Tether", 1_391.0, 500_000, 50_000_000, 60),
    Listing("KRW-SHIB", "시바이누", "Shiba Inu", 0.00854, 80_000, 4_000_000, 25),
    Listing("KRW-BTT", "비트토렌트", "BitTorrent", 0.000482, 50_000, 3_000_000, 15),
    Listing("KRW-PEPE", "페페", "Pepe", 0.0152, 100_000, 5_000_000, 40),
    Listing("KRW-XEC", "이캐시", "eCash", 0.0321, 40_000, 2_000_000, 10),
    Listing("KRW-MBL", "무비블록", "MovieBloc", 3.21, 40_000, 2_000_000, 10),
    Listing("KRW-CHZ", "칠리즈", "Chiliz", 61.3, 60_000, 3_000_000, 15),
    Listing("KRW-AVAX", "아발란체", "Avalanche", 32_080.0, 100_000, 4_000_000, 15),
    Listing("KRW-DOT", "폴카닷", "Polkadot", 5_815.0, 80_000, 3_000_000, 12),
    Listing("KRW-XLM", "스텔라루멘", "Stellar Lumens", 562.0, 100_000, 5_000_000, 20),
    Listing("KRW-SUI", "수이", "Sui", 5_205.0, 150_000, 6_000_000, 30),
    Listing("KRW-ETC", "이더리움클래식", "Ethereum Classic", 31_040.0, 80_000, 3_000_000, 10),
    Listing("KRW-HBAR", "헤데라", "Hedera", 331.0, 80_000, 4_000_000, 15),
    Listing("KRW-NEAR", "니어프로토콜", "NEAR Protocol", 3_895.0, 70_000, 3_000_000, 10),
    Listing("KRW-AAVE", "에이브", "Aave", 421_600.0, 90_000, 3_000_000, 8),
    Listing("KRW-APT", "앱토스", "Aptos", 6_815.0, 60_000, 2_500_000, 8),
    Listing("KRW-SAND", "샌드박스", "The Sandbox", 401.0, 60_000, 3_000_000, 10),
    Listing("KRW-ATOM", "코스모스", "Cosmos", 6_290.0, 60_000, 2_500_000, 8),
    Listing("KRW-ENA", "에테나", "Ethena", 902.0, 120_000, 5_000_000, 25),
    Listing("KRW-ONDO", "온도파이낸스", "Ondo Finance", 1_301.0, 90_000, 4_000_000, 15),
    Listing("KRW-MED", "메디블록", "MediBloc", 9.47, 30_000, 1_500_000, 6),
    Listing("KRW-ARB", "아비트럼", "Arbitrum", 701.0, 70_000, 3_000_000, 10),
    Listing("KRW-SEI", "세이", "Sei", 452.0, 60_000, 3_000_000, 10),
    Listing("KRW-STX", "스택스", "Stacks", 1_012.0, 50_000, 2_000_000, 6),
    Listing("KRW-POL", "폴리곤 에코시스템 토큰", "POL (ex-MATIC)", 331.0, 60_000, 3_000_000, 8),
    Listing("KRW-ALGO", "알고랜드", "Algorand", 332.0, 50_000, 2_500_000, 6),
    Listing("KRW-MANA", "디센트럴랜드", "Decentraland", 421.0, 40_000, 2_000_000, 5),
    Listing("KRW-IQ", "아이큐", "IQ", 6.52, 30_000, 1_500_000, 5),
    Listing("KRW-TRUMP", "오피셜트럼프", "Official Trump", 14_020.0, 100_000, 3_000_000, 12),
    Listing("KRW-WLD", "월드코인", "Worldcoin", 1_712.0, 80_000, 3_000_000, 10),
    Listing("KRW-T", "쓰레스홀드", "Threshold", 22.4, 30_000, 1_500_000, 5),
)

_BTC_LISTINGS: tuple[Listing, ...] = (
    Listing("BTC-ETH", "이더리움", "Ethereum", 0.03522, 0.004, 0.15, 6),
    Listing("BTC-XRP", "리플", "XRP", 0.00002303, 0.002, 0.08, 5),
    Listing("BTC-SOL", "솔라나", "Solana", 0.0017596, 0.0015, 0.05, 4),
    Listing("BTC-DOGE", "도지코인", "Dogecoin", 0.00000223, 0.0012, 0.05, 3),
    Listing("BTC-ADA", "에이다", "Cardano", 0.00000742, 0.001, 0.04, 3),
    Listing("BTC-LINK", "체인링크", "Chainlink", 0.000203, 0.0008, 0.03, 2),
    Listing("BTC-BCH", "비트코인캐시", "Bitcoin Cash", 0.005263, 0.001, 0.03, 2),
    Listing("BTC-XLM", "스텔라루멘", "Stellar Lumens", 0.00000378, 0.0007, 0.03, 2),
)
_USDT_LISTINGS: tuple[Listing, ...] = (
    Listing("USDT-BTC", "비트코인", "Bitcoin", 106_760.0, 300.0, 6_000.0, 12),
    Listing("USDT-ETH", "이더리움", "Ethereum", 3_760.0, 200.0, 4_000.0, 8),
    Listing("USDT-XRP", "리플", "XRP", 2.459, 150.0, 3_000.0, 6),
    Listing("USDT-SOL", "솔라나", "Solana", 187.85, 120.0, 2_000.0, 4),
    Listing("USDT-DOGE", "도지코인", "Dogecoin", 0.238, 100.0, 2_000.0, 4),
    Listing("USDT-TRX", "트론", "TRON", 0.325, 80.0, 1_500.0, 3),
    Listing("USDT-SHIB", "시바이누", "Shiba Inu", 0.00000614, 60.0, 1_000.0, 2),
    Listing("USDT-PEPE", "페페", "Pepe", 0.0000109, 60.0, 1_000.0, 2),
)

DEFAULT_MARKET_COUNT = 30
# In Python (MarketModel, ExchangeServer) BTC and USDT markets are opt-in, so `markets=N` lists
# N markets as it always did; `upbit-tui exchange` lists them all by default.
BTC_MARKETS_LISTED = len(_BTC_LISTINGS)
USDT_MARKETS_LISTED = len(_USDT_LISTINGS)


def listings(count: int = DEFAULT_MARKET_COUNT, btc: int = 0, usdt: int = 0) -> tuple[Listing, ...]:
    """The first `count` KRW markets (at least 1; synthetic ones pad a count beyond the list),
    then the first `btc` BTC- and `usdt` USDT-quoted markets (at most the lists' lengths)."""
    return _krw_listings(count) + _BTC_LISTINGS[: max(0, btc)] + _USDT_LISTINGS[: max(0, usdt)]


def _krw_listings(count: int) -> tuple[Listing, ...]:
    if count < 1:
        raise ValueError(f"markets must be at least 1, got {count}")
    chosen = list(_LISTINGS[:count])
    for index in range(len(chosen), count):
        number = index - len(_LISTINGS) + 1
        # Spread synthetic markets over the price bands by cycling through the real ones.
        model = _LISTINGS[index % len(_LISTINGS)]
        chosen.append(
            Listing(
                f"KRW-SIM{number:03d}",
                f"시뮬코인{number:03d}",
                f"Sim Coin {number:03d}",
                model.base_price,
                model.trade_value,
                model.depth_value,
                model.trades_per_minute,
            )
        )
    return tuple(chosen)
