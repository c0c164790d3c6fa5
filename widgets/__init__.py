"""The panes of the upbit-tui terminal app, one module each.

Each pane owns one WebSocketClientProxy while it is mounted (widgets.proxy_pane.ProxyPane), so
removing a pane removes exactly its subscriptions from the shared connection.
"""

from widgets.balances import BalancesPane
from widgets.candles import CandlesPane
from widgets.dashboard import DashboardPane
from widgets.orderbook import OrderbookPane
from widgets.proxy_pane import ProxyPane
from widgets.status_bar import StatusBar
from widgets.watchlist import WatchlistPane

__all__ = [
    "BalancesPane",
    "CandlesPane",
    "DashboardPane",
    "OrderbookPane",
    "ProxyPane",
    "StatusBar",
    "WatchlistPane",
]
