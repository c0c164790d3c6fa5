"""The monitoring dashboard (shared/spec-v6.md 6.2): connections, rates, latency, health.

Reads `manager.dashboard()` and `proxy.health_check()` once a second; it subscribes to nothing,
so opening it never changes what the exchange sends. Attached to a gateway (`--gateway`), the
health is the gateway's: it adds the gateway itself (name, NATS URL without credentials, link
and lease, which gateway serves) and its clients with their subscriptions, and the connections
shown are the gateway's Upbit sockets.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Mapping
from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Label, Sparkline, Static

from upbit_tui.client.proxy import WebSocketClientProxy
from upbit_tui.tui.runtime import Runtime
from widgets.market_format import format_duration
from widgets.proxy_pane import ProxyPane
from widgets.status_bar import HEALTH_STYLE

log = logging.getLogger(__name__)

RATE_HISTORY = 120
STATE_STYLE = {
    "connected": "green",
    "open": "green",
    "live": "green",
    "connecting": "yellow",
    "reconnecting": "yellow",
    "backoff": "yellow",
    "closed": "dim",
    "failed": "red",
    "disconnected": "red",
    "stale": "yellow",
    "idle": "dim",
}


def _num(value: Any, fmt: str = "{:,.0f}") -> str:
    if value is None or value == "":
        return "-"
    if isinstance(value, int | float):
        return fmt.format(value)
    return str(value)


def _get(mapping: Any, *keys: str, default: Any = None) -> Any:
    """The first of `keys` present in `mapping` (the manager's dicts are JSON-shaped)."""
    if not isinstance(mapping, Mapping):
        return default
    for key in keys:
        if key in mapping and mapping[key] is not None:
            return mapping[key]
    return default


class DashboardPane(ProxyPane):
    KIND = "dashboard"

    def __init__(self, runtime: Runtime, *, id: str | None = None, interval: float = 1.0) -> None:
        super().__init__(runtime, id=id)
        self.interval = interval
        self.rates: deque[float] = deque(maxlen=RATE_HISTORY)
        self.data: dict[str, Any] | None = None
        self.health: dict[str, Any] | None = None
        self.refreshes = 0
        self.paused = False
        self.frame_rates: dict[str, float] = {}
        self._frames_seen: dict[str, tuple[float, float]] = {}

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Static("connecting...", id="dash-health")
            yield Static("", id="dash-gateway")
            yield Static("", id="dash-connections")
            yield Label("messages/s, last 2 minutes", id="dash-rate-label")
            yield Sparkline([], id="dash-rate")
            yield Static("", id="dash-performance")
            yield Static("", id="dash-subscriptions")
            yield Static("", id="dash-queues")

    def on_mount(self) -> None:
        super().on_mount()
        self.border_title = "Monitor"
        self.set_interval(self.interval, self.poll)

    def toggle_pause(self) -> bool:
        """Freeze the figures on screen (to read or copy them); returns True when paused."""
        self.paused = not self.paused
        self.border_subtitle = "paused (p resumes)" if self.paused else ""
        return self.paused

    async def poll(self) -> None:
        if self.paused:
            return
        manager = self.runtime.manager
        proxy = self.proxy
        if manager is None or proxy is None:
            failure = self.runtime.failure
            self.query_one("#dash-health", Static).update(
                Text(f"stopped: {failure}", style="bold red")
                if failure
                else Text("connecting...", style="dim")
            )
            return
        try:
            data = manager.dashboard()
            health = await proxy.health_check()
        except Exception as exc:
            log.warning("dashboard poll failed: %s", exc)
            return
        self.data, self.health = data, health
        self._measure_frame_rates(data)
        self.rates.append(float(_get(health, "messages_per_second", default=0.0)))
        self.show(data, health)

    def show(self, data: Mapping[str, Any], health: Mapping[str, Any]) -> None:
        self.refreshes += 1
        width = max(20, self.content_size.width - 2)  # less the scroll bar
        with self.app.batch_update():
            self.query_one("#dash-health", Static).update(render_health(health, data))
            gateway = self.query_one("#dash-gateway", Static)
            gateway.display = attached(data)
            if gateway.display:
                gateway.update(render_gateway(health, data, width))
            self.query_one("#dash-connections", Static).update(
                render_connections(_with_connections(data, health), self.frame_rates, width)
            )
            self.query_one("#dash-rate", Sparkline).data = list(self.rates)
            self.query_one("#dash-performance", Static).update(render_performance(health, width))
            self.query_one("#dash-subscriptions", Static).update(render_subscriptions(data))
            self.query_one("#dash-queues", Static).update(render_queues(data, width))

    def _measure_frame_rates(self, data: Mapping[str, Any]) -> None:
        """Frames/s per connection from the growth of its frames_received counter."""
        now = time.monotonic()
        connections = _get(_with_connections(data, self.health), "connections", default={}) or {}
        for name, conn in connections.items():
            frames = _get(conn, "frames_received")
            if not isinstance(frames, int | float):
                continue
            seen = self._frames_seen.get(name)
            if seen is not None and now > seen[0]:
                self.frame_rates[name] = max(0.0, (frames - seen[1]) / (now - seen[0]))
            self._frames_seen[name] = (now, float(frames))

    async def apply(self, proxy: WebSocketClientProxy) -> None:
        await self.poll()


def fitted_table(
    title: str,
    headers: list[str],
    rows: list[list[str | Text]],
    width: int,
    *,
    drop_order: tuple[str, ...] = (),
    left: frozenset[str] = frozenset(),
    wrap: frozenset[str] = frozenset(),
) -> Table:
    """A table of whole columns that fits `width`: columns in `drop_order` go first (never
    a header cut to "Conn..."); `wrap` columns fold their text instead of widening."""

    def need(index: int) -> int:
        header = headers[index]
        cells = [max(map(len, str(row[index]).splitlines()), default=0) for row in rows]
        body = min(12, max(cells, default=0)) if header in wrap else max(cells, default=0)
        return max(len(header), body) + 3  # padding both sides and the separator

    kept = list(range(len(headers)))
    for name in drop_order:
        if sum(need(i) for i in kept) <= width:
            break
        kept = [i for i in kept if headers[i] != name]
    table = Table(title=title, title_justify="left", expand=True, show_edge=False)
    for index in kept:
        header = headers[index]
        table.add_column(
            header,
            justify="left" if header in left else "right",
            no_wrap=header not in wrap,
            overflow="fold" if header in wrap else "ellipsis",
            min_width=len(header),
        )
    for row in rows:
        table.add_row(*(row[i] for i in kept))
    return table


def render_health(health: Mapping[str, Any], data: Mapping[str, Any] | None = None) -> Text:
    status = str(_get(health, "status", default="unknown"))
    reasons = _get(health, "reasons", default=[]) or []
    text = Text.assemble(("Health: ", "bold"), (status.upper(), HEALTH_STYLE.get(status, "bold")))
    if reasons:
        text.append("  " + "; ".join(map(str, reasons)), style="yellow")
    private = _get(data, "private", default=None) or _get(health, "private", default=None)
    if isinstance(private, Mapping):
        text.append("\nPrivate data: ", style="bold")
        if _get(private, "available", default=False):
            mode = _get(private, "mode", default="websocket")
            via = f"the gateway's {mode}" if attached(data) else mode
            text.append(f"available via {via}", "green")
            degraded = _get(private, "degraded_reason")
            if degraded:
                text.append(f" ({degraded})", style="yellow")
        else:
            text.append(f"unavailable: {_get(private, 'reason', default='unknown')}", "yellow")
    return text


def render_connections(
    data: Mapping[str, Any], frame_rates: Mapping[str, float] | None = None, width: int = 200
) -> Group:
    """One row per connection (public / private), then the rate-limit tokens left."""
    headers = [
        "Connection",
        "State",
        "Epoch",
        "Uptime",
        "Frames/s",
        "Reconnects",
        "Attempts",
        "Stale closes",
        "Last error",
    ]
    rows: list[list[str | Text]] = []
    connections = _get(data, "connections", default={}) or {}
    rates = frame_rates or {}
    for name, conn in sorted(connections.items()):
        state = str(_get(conn, "state", default="-"))
        critical = bool(_get(conn, "critical", default=False))
        rows.append(
            [
                str(name),
                Text(
                    state + (" (critical)" if critical else ""),
                    style="bold red" if critical else STATE_STYLE.get(state, ""),
                ),
                _num(_get(conn, "epoch")),
                format_duration(_get(conn, "uptime")) if _get(conn, "uptime") else "-",
                _num(rates.get(str(name)), "{:,.1f}"),
                _num(_get(conn, "reconnects")),
                _num(_get(conn, "attempts")),
                _num(_get(conn, "stale_closes")),
                Text(str(_get(conn, "last_error", default="") or ""), style="yellow"),
            ]
        )
    if not rows:
        rows.append(["(none yet)", "-", "-", "-", "-", "-", "-", "-", ""])
    table = fitted_table(
        "Upbit connections (the gateway's)" if attached(data) else "Connections",
        headers,
        rows,
        width,
        drop_order=("Stale closes", "Attempts", "Epoch", "Reconnects", "Uptime"),
        left=frozenset({"Connection", "State", "Last error"}),
        wrap=frozenset({"Last error"}),
    )
    tokens = _get(data, "rate_limit_tokens", default={}) or {}
    if not tokens:
        return Group(table)
    line = Text("Rate-limit tokens left: ", style="bold")
    for index, (group, left) in enumerate(sorted(tokens.items())):
        if index:
            line.append(" · ", style="dim")
        line.append(f"{group} ")
        line.append(_num(left, "{:,.1f}"), style="red" if left == 0 else "")
    return Group(table, line)


def attached(data: Mapping[str, Any] | None) -> bool:
    """Whether the manager is a gateway's (its dashboard carries the link to the gateway)."""
    return isinstance(_get(data, "gateway"), Mapping)


def _with_connections(
    data: Mapping[str, Any], health: Mapping[str, Any] | None
) -> Mapping[str, Any]:
    """`data`, with the gateway's Upbit connections (from its health) when attached: a remote
    manager has no socket of its own to show."""
    if not attached(data) or not isinstance(_get(health, "connections"), Mapping):
        return data
    return {**data, "connections": _get(health, "connections")}


def render_gateway(health: Mapping[str, Any], data: Mapping[str, Any], width: int = 200) -> Group:
    """The gateway serving this app, this app's link to it, and the gateway's clients."""
    link = _get(data, "gateway", default={}) or {}
    gateway = _get(health, "gateway", default=None)
    text = Text()
    if not isinstance(gateway, Mapping):
        text.append("Gateway: ", style="bold")
        text.append(str(_get(link, "last_error", default="no answer")), style="bold red")
        text.append("\nNATS ")
        text.append(str(_get(link, "nats_url", default="-")))
        text.append(" · ")
        _append_state(text, bool(_get(link, "nats_connected", default=False)))
        return Group(text)
    text.append("Gateway ", style="bold")
    text.append(str(_get(gateway, "name", default="?")), style="bold")
    text.append(" · ")
    if _get(gateway, "active", default=False):
        text.append("active", style="green")
        since = _get(gateway, "active_for_s")
        if since is not None:
            text.append(f" for {format_duration(since)}")
    else:
        text.append("standing by", style="yellow")
    instance = str(_get(gateway, "instance", default=""))[:8]
    if instance:
        text.append(f" · instance {instance}", style="dim")
    standbys = _get(gateway, "standbys", default=[]) or []
    if standbys:
        names = ", ".join(str(_get(p, "name", default="?")) for p in standbys)
        text.append(f"\nStandby: {names}", style="dim")
    switches = _get(link, "gateway_switches", default=0)
    if switches:
        text.append(f" · {switches} switch{'es' if switches != 1 else ''} seen", style="yellow")
    text.append("\nNATS ")
    text.append(str(_get(gateway, "nats_url", default="-")))
    text.append(" · ")
    _append_state(text, bool(_get(gateway, "nats_connected", default=False)))
    text.append(" · ")
    if _get(gateway, "nats_authenticated", default=False):
        text.append("auth required", style="green")
    else:
        text.append("no auth", style="yellow")
    text.append(" · private data ")
    if _get(gateway, "private_served", default=True):
        text.append("served")
    else:
        text.append("refused", style="yellow")
    text.append(f"\nPublished {_num(_get(gateway, 'published'))} events")
    text.append(f" · answered {_num(_get(gateway, 'requests_served'))} requests")
    bridged = _get(gateway, "bridged_trades", default=0)
    if bridged:
        text.append(f" · {_num(bridged)} trades bridged")
    errors = _get(gateway, "publish_errors", default=0)
    if errors:
        text.append(f" · {_num(errors)} publish errors", style="red")
    text.append("\nThis app: ")
    _append_state(text, bool(_get(link, "nats_connected", default=False)), "linked")
    if _get(link, "nats_url") != _get(gateway, "nats_url"):
        text.append(f" via {_get(link, 'nats_url', default='-')}")
    reply = _get(link, "last_reply_s")
    if reply is not None:
        text.append(f" · last answer {reply:,.1f} s ago")
    return Group(text, render_gateway_clients(gateway, link, width))


def _append_state(text: Text, up: bool, word: str = "connected") -> None:
    text.append(word if up else "disconnected", style="green" if up else "bold red")


def render_gateway_clients(
    gateway: Mapping[str, Any], link: Mapping[str, Any], width: int = 200
) -> Table:
    """One row per (client process, component, type) the gateway serves."""
    headers = ["Client", "Component", "Type", "Markets"]
    mine = _get(link, "session")
    rows: list[list[str | Text]] = []
    clients = _get(gateway, "clients", default=[]) or []
    for client in sorted(clients, key=lambda c: (_get(c, "session") != mine, str(c))):
        label = Text(str(_get(client, "name", default="?")))
        if _get(client, "session") == mine:
            label.stylize("bold")
            label.append(" (this app)", style="dim")
        seen = _get(client, "last_seen_s")
        if seen is not None:  # under the name: a column of its own would squeeze the markets
            label.append(f"\nseen {seen:,.1f} s ago", style="dim")
        entries: list[tuple[str, str, str]] = []
        for component, types in sorted((_get(client, "subscriptions", default={}) or {}).items()):
            for kind, codes in sorted((types or {}).items()):
                listed = ["(all)"] if codes is None else [str(c) for c in codes]
                more = f" +{len(listed) - 8}" if len(listed) > 8 else ""
                entries.append((str(component), str(kind), ", ".join(listed[:8]) + more))
        for index, (component, kind, markets) in enumerate(entries or [("-", "-", "")]):
            rows.append([label if index == 0 else "", component, kind, markets])
    if not rows:
        rows.append(["(no clients)", "-", "-", ""])
    return fitted_table(
        f"Gateway clients ({len(clients)})",
        headers,
        rows,
        width,
        drop_order=("Component",),
        left=frozenset(headers),
        wrap=frozenset({"Markets"}),
    )


def render_performance(health: Mapping[str, Any], width: int = 200) -> Table:
    """The figures as label / value pairs, as many pairs a row as fit `width`."""
    cells: list[tuple[str, str]] = [
        ("msgs/s", _num(_get(health, "messages_per_second"), "{:,.1f}")),
        ("latency avg", _num(_get(health, "average_latency_ms"), "{:,.1f} ms")),
        ("p50", _num(_get(health, "p50_latency_ms"), "{:,.1f} ms")),
        ("p99", _num(_get(health, "p99_latency_ms"), "{:,.1f} ms")),
        ("max", _num(_get(health, "max_latency_ms"), "{:,.1f} ms")),
        ("queued", _num(_get(health, "queue_depth"))),
        ("dropped", _num(_get(health, "dropped_message_count"))),
        ("cb errors", _num(_get(health, "callback_error_count"))),
        ("bad frames", _num(_get(health, "malformed_message_count"))),
        ("error rate", _num(_get(health, "error_rate_percent"), "{:,.2f}%")),
        ("reconnects", _num(_get(health, "reconnection_count"))),
        ("RSS", _num(_get(health, "memory_usage_mb"), "{:,.0f} MB")),
        ("CPU", _num(_get(health, "cpu_usage_percent"), "{:,.0f}%")),
    ]
    label_w = max(len(label) for label, _ in cells)
    value_w = max(len(value) for _, value in cells)
    pair_w = label_w + value_w + 4
    per_row = max(1, min(len(cells), width // pair_w))
    table = Table.grid(padding=(0, 1), expand=False)
    table.title = "Performance"
    table.title_justify = "left"
    for _ in range(per_row):
        table.add_column(style="dim", no_wrap=True, min_width=label_w)
        table.add_column(justify="right", no_wrap=True, min_width=value_w)
    for start in range(0, len(cells), per_row):
        chunk = cells[start : start + per_row]
        row: list[str] = []
        for label, value in chunk:
            row += [label, value + "  "]
        row += ["", ""] * (per_row - len(chunk))
        table.add_row(*row)
    return table


def render_subscriptions(data: Mapping[str, Any]) -> Table:
    table = Table(
        title="Subscriptions per client", title_justify="left", expand=True, show_edge=False
    )
    table.add_column("Client", no_wrap=True)
    table.add_column("Type", no_wrap=True)
    table.add_column("Markets")
    clients = _get(data, "subscriptions", default={}) or {}
    for client, types in sorted(clients.items()):
        if not types:
            table.add_row(str(client), "-", "")
            continue
        for kind, symbols in sorted(types.items()):
            listed = [str(s) for s in symbols]
            more = f" +{len(listed) - 8}" if len(listed) > 8 else ""
            table.add_row(str(client), str(kind), ", ".join(listed[:8]) + more)
    return table


def render_queues(data: Mapping[str, Any], width: int = 200) -> Table:
    """Each subscriber's queue: what the router holds for a pane that is busy painting."""
    headers = [
        "Client",
        "Type",
        "Policy",
        "Queued",
        "Size",
        "Delivered",
        "Dropped",
        "Errors",
        "Slow",
    ]
    subscribers = _get(data, "subscribers", default=[]) or []
    order = sorted(
        subscribers,
        key=lambda s: (str(_get(s, "client_id", default="")), str(_get(s, "type", default=""))),
    )
    rows: list[list[str | Text]] = []
    for sub in order:
        dropped = _get(sub, "dropped", default=0)
        errors = _get(sub, "callback_errors", default=0)
        rows.append(
            [
                str(_get(sub, "client_id", default="?")),
                str(_get(sub, "type", default="-")),
                str(_get(sub, "policy", default="-")),
                _num(_get(sub, "queue_depth")),
                _num(_get(sub, "queue_size")),
                _num(_get(sub, "delivered")),
                Text(_num(dropped), style="yellow" if dropped else ""),
                Text(_num(errors), style="red" if errors else ""),
                _num(_get(sub, "slow_callbacks")),
            ]
        )
    return fitted_table(
        "Subscriber queues",
        headers,
        rows,
        width,
        drop_order=("Slow", "Size", "Policy", "Errors", "Queued"),
        left=frozenset({"Client", "Type", "Policy"}),
    )
