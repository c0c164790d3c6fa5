"""Helpers for the simulator's conformance tests: a plain `websockets` client, nothing of ours.

Synchronisation without sleeping: the server handles a connection's messages in order and
queues its answers in order, so after any request a LIST_SUBSCRIPTIONS round trip proves that
everything the request caused has already arrived (`sync`).
"""

from __future__ import annotations

import asyncio
import json
import uuid
import warnings
from pathlib import Path
from typing import Any

import jwt
from suite_harness import TIMEOUT_FACTOR as TIMEOUT_FACTOR  # re-exported
from websockets.asyncio.client import ClientConnection

TIMEOUT = 5.0 * TIMEOUT_FACTOR
ACCESS, SECRET = "test-access", "test-secret"
API_KEYS = {ACCESS: SECRET}
FIXED_NOW = 1_787_728_554.797  # 2026-08-26T07:15:54Z, the docs' trade example

# The docs' own examples, copied from shared/fixtures into the repo so these tests always run.
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "upbit_docs"


def fixture(name: str) -> Any:
    """A docs example from tests/fixtures/upbit_docs (see its README.md)."""
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def token(
    access: str = ACCESS, secret: str = SECRET, algorithm: str = "HS512", **extra: Any
) -> str:
    payload = {"access_key": access, "nonce": str(uuid.uuid4()), **extra}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PyJWT warns about short HMAC keys; Upbit's are short
        return jwt.encode(payload, secret, algorithm=algorithm)


def bearer(**kwargs: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(**kwargs)}"}


async def recv_raw(ws: ClientConnection, within: float = TIMEOUT) -> str | bytes:
    return await asyncio.wait_for(ws.recv(), within)


async def recv(ws: ClientConnection, within: float = TIMEOUT) -> Any:
    """The next frame, which must be a binary frame of UTF-8 JSON (as Upbit sends)."""
    data = await recv_raw(ws, within)
    assert isinstance(data, bytes), f"expected a binary frame, got text {data!r}"
    return json.loads(data)


async def send(ws: ClientConnection, request: list[dict[str, Any]]) -> None:
    await ws.send(json.dumps(request))


async def sync(ws: ClientConnection) -> list[Any]:
    """Everything the server sent before answering a LIST_SUBSCRIPTIONS sent now."""
    ticket = f"sync-{uuid.uuid4()}"
    await send(ws, [{"ticket": ticket}, {"method": "LIST_SUBSCRIPTIONS"}])
    before: list[Any] = []
    while True:
        message = await recv(ws)
        items = message if isinstance(message, list) else [message]
        if any(
            isinstance(item, dict)
            and item.get("method", item.get("mthd")) == "LIST_SUBSCRIPTIONS"
            and item.get("ticket", item.get("tckt")) == ticket
            for item in items
        ):
            return before
        before.append(message)


def subscription(*types: dict[str, Any], fmt: str | None = None, ticket: str = "t") -> list[Any]:
    request: list[dict[str, Any]] = [{"ticket": ticket}, *types]
    if fmt is not None:
        request.append({"format": fmt})
    return request
