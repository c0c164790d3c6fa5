"""Upbit's notice board as the private WebSocket's `announcement` type sees it.

Upbit (docs.upbit.com/kr/reference/websocket-announcement): `/websocket/v1/private` only, no
API-key permission needed; no snapshot, a message only when a notice is published (`CREATED`)
or an existing one is edited (`UPDATED`), `stream_type` always REALTIME; `categories` selects
(omitted: all; an unsupported value is INVALID_PARAM); `include_body: true` adds `body`
(Markdown), which "may be null" for a large body. Field names (DEFAULT and SIMPLE) and the
categories are those of Upbit's SDK v1.1.0 models (`Announcement`, `SimpleAnnouncement`).

Decisions where Upbit is silent (SIMULATOR.md):
- Key order: type, category, event_type, uuid, title, url, [body,] first_listed_at, listed_at,
  timestamp, stream_type. `body` is absent without include_body, null above BODY_LIMIT bytes.
- `uuid` is a seeded UUID4; `url` is `https://upbit.com/service_center/notice?id=N` with N
  counting up from FIRST_NOTICE_ID; times are KST ISO 8601 to the second
  (`2026-08-26T16:15:54+09:00`); an edit keeps `first_listed_at` and moves `listed_at`.
- An edit that changes the category goes to the subscribers of the new category only.
- Several announcement type objects in one request merge: the union of their categories (all
  if one has none) and the body if any asks for it; a notice is sent once per connection.
- The seeded cadence (`announcements_every`, off unless asked for) publishes mostly listing
  notices, some wallet / maintenance / caution / event notices, and edits a notice that needs a
  follow-up ("(재개)", "(완료)") about one time in four.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from upbit_tui.exchange.records import MarketInfo
from upbit_tui.exchange.session import Session
from upbit_tui.exchange.wire import encode, is_list, is_simple
from upbit_tui.exchange.ws_request import ANNOUNCEMENT_CATEGORIES

MESSAGE_KEYS = {
    "type": "ty",
    "category": "cat",
    "event_type": "et",
    "uuid": "uid",
    "title": "tt",
    "url": "url",
    "body": "bd",
    "first_listed_at": "flat",
    "listed_at": "lat",
    "timestamp": "tms",
    "stream_type": "st",
}
BODY_LIMIT = 64 * 1024  # UTF-8 bytes; a larger body is sent as null ("용량이 큰 경우 null")
FIRST_NOTICE_ID = 5_001
NOTICE_URL = "https://upbit.com/service_center/notice?id={}"
MAX_TITLE_CHARS = 300
KST = timezone(timedelta(hours=9), "KST")
Categories = frozenset[str] | None  # None: every category


class UnknownNotice(KeyError):
    """An edit of a notice that was never published."""


@dataclass(frozen=True, slots=True)
class Notice:
    uuid: str
    number: int  # the id in its url
    category: str
    title: str
    body: str
    first_listed_ms: int
    listed_ms: int
    follow_up: str = ""  # the seeded cadence's edit for it ("(재개)"), "" when none is due

    @property
    def url(self) -> str:
        return NOTICE_URL.format(self.number)

    def summary(self) -> dict[str, Any]:
        """The control API's answer (DEFAULT names, body length instead of the body)."""
        return {
            "uuid": self.uuid,
            "category": self.category,
            "title": self.title,
            "url": self.url,
            "body_bytes": len(self.body.encode()),
            "first_listed_at": kst(self.first_listed_ms),
            "listed_at": kst(self.listed_ms),
        }


def kst(ms: int) -> str:
    """Epoch ms as Upbit's KST ISO 8601 (`2026-08-26T16:15:54+09:00`)."""
    return datetime.fromtimestamp(ms / 1000, UTC).astimezone(KST).isoformat(timespec="seconds")


def announcement_message(
    notice: Notice, event_type: str, include_body: bool, simple: bool, now_ms: int
) -> dict[str, Any]:
    pairs: list[tuple[str, Any]] = [
        ("type", "announcement"),
        ("category", notice.category),
        ("event_type", event_type),
        ("uuid", notice.uuid),
        ("title", notice.title),
        ("url", notice.url),
    ]
    if include_body:
        large = len(notice.body.encode()) > BODY_LIMIT
        pairs.append(("body", None if large else notice.body))
    pairs += [
        ("first_listed_at", kst(notice.first_listed_ms)),
        ("listed_at", kst(notice.listed_ms)),
        ("timestamp", now_ms),
        ("stream_type", "REALTIME"),
    ]
    return {MESSAGE_KEYS[k] if simple else k: v for k, v in pairs}


class AnnouncementBoard:
    """The published notices and who subscribed to which categories; post() and edit() push."""

    def __init__(
        self,
        now_ms: Callable[[], int],
        send: Callable[[Session, bytes], None],
        seed: int = 1,
    ) -> None:
        self._now_ms = now_ms
        self._send = send
        self._rng = random.Random(f"announcements-{seed}")
        self._notices: dict[str, Notice] = {}
        self._subscribers: dict[Session, tuple[Categories, bool]] = {}

    # -- subscriptions -------------------------------------------------------------------------

    def subscribe(self, session: Session, categories: Categories, include_body: bool) -> None:
        self._subscribers[session] = (categories, include_body)

    def unsubscribe(self, session: Session) -> None:
        self._subscribers.pop(session, None)

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)

    # -- notices -------------------------------------------------------------------------------

    def notices(self) -> list[Notice]:
        """Published notices, oldest first."""
        return list(self._notices.values())

    def post(self, category: str, title: str, body: str = "", follow_up: str = "") -> Notice:
        """Publish a notice now (CREATED to its category's subscribers)."""
        _check(category, title)
        now = self._now_ms()
        notice = Notice(
            str(uuid.UUID(int=self._rng.getrandbits(128), version=4)),
            FIRST_NOTICE_ID + len(self._notices),
            category,
            title,
            body,
            now,
            now,
            follow_up,
        )
        self._notices[notice.uuid] = notice
        self._push(notice, "CREATED")
        return notice

    def edit(
        self,
        notice_uuid: str,
        *,
        category: str | None = None,
        title: str | None = None,
        body: str | None = None,
    ) -> Notice:
        """Edit a published notice now (UPDATED); raises UnknownNotice."""
        old = self._notices.get(notice_uuid)
        if old is None:
            raise UnknownNotice(notice_uuid)
        notice = replace(
            old,
            category=old.category if category is None else category,
            title=old.title if title is None else title,
            body=old.body if body is None else body,
            listed_ms=self._now_ms(),
            follow_up="",
        )
        _check(notice.category, notice.title)
        self._notices[notice.uuid] = notice
        self._push(notice, "UPDATED")
        return notice

    def _push(self, notice: Notice, event_type: str) -> None:
        frames: dict[tuple[str, bool], bytes] = {}
        now = self._now_ms()
        for session, (categories, include_body) in list(self._subscribers.items()):
            if categories is not None and notice.category not in categories:
                continue
            fmt = session.format
            data = frames.get((fmt, include_body))
            if data is None:
                message = announcement_message(
                    notice, event_type, include_body, is_simple(fmt), now
                )
                data = frames[(fmt, include_body)] = encode([message] if is_list(fmt) else message)
            self._send(session, data)

    # -- the seeded cadence --------------------------------------------------------------------

    def next_delay(self, mean_seconds: float) -> float:
        """Seconds until the next seeded notice (exponential: notices come unevenly)."""
        return self._rng.expovariate(1.0 / mean_seconds)

    def publish_seeded(self, markets: Sequence[MarketInfo], category: str | None = None) -> Notice:
        """One seeded event: usually a new notice, sometimes the follow-up edit of one (a
        new notice of `category` when one is given)."""
        pending = [n for n in self._notices.values() if n.follow_up]
        if category is None and pending and self._rng.random() < 0.25:
            notice = pending[0]
            return self.edit(notice.uuid, title=f"{notice.title} {notice.follow_up}")
        if category is not None:
            _check(category, "-")
        category, title, body, follow_up = seeded_notice(self._rng, markets, category)
        return self.post(category, title, body, follow_up)


def _check(category: str, title: str) -> None:
    if category not in ANNOUNCEMENT_CATEGORIES:
        raise ValueError(
            f"category={category!r}: expected one of {', '.join(ANNOUNCEMENT_CATEGORIES)}"
        )
    if not title.strip() or len(title) > MAX_TITLE_CHARS:
        raise ValueError(f"title must be 1..{MAX_TITLE_CHARS} characters")


# Coins not listed by the simulator: the subjects of its listing notices.
_NEW_LISTINGS = (
    ("셀레스티아", "TIA"),
    ("웜홀", "W"),
    ("옴니네트워크", "OMNI"),
    ("아이오넷", "IO"),
    ("레이어제로", "ZRO"),
    ("지토", "JTO"),
    ("스타크넷", "STRK"),
    ("아캄", "ARKM"),
)
_GREETING = "안녕하세요. 업비트입니다.\n\n"
# (weight, category, title, body, follow-up edit): {name} and {symbol} are filled in.
_TEMPLATES = (
    (
        6,
        "trade",
        "{name}({symbol}) 원화 마켓 디지털 자산 추가",
        "{name}({symbol}) 원화 마켓 거래 지원을 안내드립니다.\n\n"
        "- 거래 지원 개시 시점: 공지 후 2시간 이내\n- 지원 마켓: KRW\n"
        "- 입출금 지원: 거래 지원 개시 전 완료 예정",
        "",
    ),
    (
        2,
        "wallet",
        "{name}({symbol}) 네트워크 업그레이드에 따른 입출금 일시 중단 안내",
        "{name}({symbol}) 네트워크 업그레이드 지원을 위해 입출금이 일시 중단됩니다.\n\n"
        "- 중단 시점: 공지 후 1시간\n- 재개 시점: 네트워크 안정화 확인 후",
        "(재개)",
    ),
    (
        1,
        "maintenance",
        "{name}({symbol}) 지갑 시스템 정기 점검 안내",
        "{name}({symbol}) 지갑 시스템 정기 점검이 진행됩니다.\n\n"
        "- 점검 중에는 입출금이 제한됩니다.",
        "(완료)",
    ),
    (
        1,
        "trade",
        "{name}({symbol}) 유의 종목 지정 안내",
        "{name}({symbol})을(를) 유의 종목으로 지정합니다.\n\n- 사유: 프로젝트 주요 사항 변경",
        "",
    ),
    (
        1,
        "event",
        "{name}({symbol}) 원화 마켓 거래 이벤트",
        "{name}({symbol}) 원화 마켓 거래 이벤트를 진행합니다.\n\n- 기간: 공지 후 7일",
        "",
    ),
)


_LABELS = {
    "notice": "안내",
    "trade": "거래",
    "wallet": "입출금",
    "maintenance": "점검",
    "digital_asset": "디지털 자산",
    "nft": "NFT",
    "service": "서비스",
    "event": "이벤트",
    "note": "노트",
    "trading": "트레이딩",
    "airdrop": "에어드랍",
    "feature": "기능",
    "disclosure": "공시",
}


def seeded_notice(
    rng: random.Random, markets: Sequence[MarketInfo], category: str | None = None
) -> tuple[str, str, str, str]:
    """(category, title, body, follow-up) of a plausible notice about a market (of
    `category` when given)."""
    templates = [t for t in _TEMPLATES if category is None or t[1] == category]
    if not templates:
        category = category or "notice"
        label = _LABELS[category]
        templates = [
            (1, category, f"{{name}}({{symbol}}) {label} 안내", f"{label} 관련 안내드립니다.", "")
        ]
    weights = [t[0] for t in templates]
    _, category, title, body, follow_up = rng.choices(templates, weights)[0]
    if category == "trade" and title.endswith("디지털 자산 추가"):
        name, symbol = rng.choice(_NEW_LISTINGS)
    else:
        krw = [m for m in markets if m.market.startswith("KRW-")] or list(markets)
        market = rng.choice(krw)
        name, symbol = market.korean_name, market.market.split("-", 1)[1]
    fill = {"name": name, "symbol": symbol}
    return category, title.format(**fill), _GREETING + body.format(**fill), follow_up
