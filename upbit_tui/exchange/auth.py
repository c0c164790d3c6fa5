"""Server-side verification of Upbit's JWT authentication (the simulator's side of the handshake).

Upbit (docs.upbit.com/kr/reference/auth) authenticates private REST calls and the private
WebSocket handshake with ``Authorization: Bearer <jwt>``:

- header ``{"alg": "HS512" | "HS256", "typ": "JWT"}``; the signature is HMAC over
  ``base64url(header) + "." + base64url(payload)`` keyed with the secret key's raw UTF-8 bytes
  (not base64-decoded). ``alg`` must name the algorithm actually used.
- payload ``access_key`` and ``nonce`` (a fresh UUID string per request; older docs used a
  millisecond timestamp, which is accepted too), plus ``query_hash`` (hex SHA-512 of the
  *un-URL-encoded* query string, e.g. ``states[]=wait&states[]=watch``) and ``query_hash_alg``
  (``SHA512``, the default) when the request has parameters. No ``exp``/``iat`` claim exists:
  tokens are one-shot through the nonce.

Usage::

    keys = KeyStore({"test-access": "test-secret"})
    header = request.headers.get("Authorization")
    result = keys.verify(header, query=request.rel_url.raw_query_string)
    if isinstance(result, AuthError):
        return json_response(result.body(), status=result.status)
    result.access_key

``query`` is the query string as it travelled (percent-encoding allowed: it is decoded before
hashing, as Upbit specifies), or for a POST body its ``k=v&k2=v2`` rendering; ``None`` or ``""``
means the request had no parameters. For the WebSocket handshake pass ``query=None``.

Where Upbit is silent, the simulator decides (documented for the README):
- Remembered nonces expire after ``nonce_window`` seconds (default 600) and at most
  ``max_nonces`` are kept (oldest forgotten first): bounded memory, and a replay is refused within
  that window. Nonces are remembered per access key.
- An unknown access key answers ``invalid_access_key`` (seen from the real server); a key marked
  expired with :meth:`KeyStore.expire` answers ``expired_access_key``.
- A token that carries ``query_hash`` for a request without parameters must hash the empty string.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import unquote

__all__ = ["AuthError", "AuthOk", "KeyStore", "query_hash"]

_DIGESTS = {"HS256": "sha256", "HS512": "sha512"}


@dataclass(frozen=True, slots=True)
class AuthOk:
    """The token is valid: the request acts for ``access_key``."""

    access_key: str


@dataclass(frozen=True, slots=True)
class AuthError:
    """The token was refused: Upbit's error ``name`` and ``message``, and the HTTP status."""

    name: str
    message: str
    status: int = 401

    def body(self) -> dict[str, dict[str, str]]:
        """Upbit's Exchange error body: ``{"error": {"name": ..., "message": ...}}``."""
        return {"error": {"name": self.name, "message": self.message}}


# Messages: real server texts where one was captured (nonce_used, invalid_access_key,
# invalid_query_payload), otherwise an English rendering of the docs' description.
NO_AUTHORIZATION_TOKEN = AuthError("no_authorization_token", "Authorization token does not exist.")
JWT_VERIFICATION = AuthError("jwt_verification", "Failed to verify Jwt token.")
INVALID_QUERY_PAYLOAD = AuthError("invalid_query_payload", "Failed to verify query of Jwt.")
NONCE_USED = AuthError("nonce_used", "This temporary number has already been used.")
INVALID_ACCESS_KEY = AuthError("invalid_access_key", "Invalid access key.")
EXPIRED_ACCESS_KEY = AuthError("expired_access_key", "API key has expired.")


def query_hash(query: str) -> str:
    """Hex SHA-512 of the un-URL-encoded query string, as Upbit's ``query_hash`` claim."""
    return hashlib.sha512(unquote(query).encode("utf-8")).hexdigest()


def _b64url_decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def _json_object(part: str) -> dict[str, object] | None:
    try:
        value = json.loads(_b64url_decode(part))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
    return value if isinstance(value, dict) else None


class KeyStore:
    """The simulator's API keys and the nonces already spent; verifies bearer tokens."""

    def __init__(
        self,
        keys: Mapping[str, str] | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        nonce_window: float = 600.0,
        max_nonces: int = 100_000,
    ) -> None:
        self._secrets: dict[str, bytes] = {}
        self._expired: set[str] = set()
        self._clock = clock
        self._nonce_window = nonce_window
        self._max_nonces = max_nonces
        self._nonces: OrderedDict[tuple[str, str], float] = OrderedDict()
        for access_key, secret_key in (keys or {}).items():
            self.add(access_key, secret_key)

    def add(self, access_key: str, secret_key: str) -> None:
        """Register (or replace) a key pair; the secret is used as raw UTF-8 bytes."""
        self._secrets[access_key] = secret_key.encode("utf-8")
        self._expired.discard(access_key)

    def expire(self, access_key: str) -> None:
        """Mark a key as expired: its tokens then get ``expired_access_key``."""
        self._expired.add(access_key)

    def __contains__(self, access_key: object) -> bool:
        return access_key in self._secrets

    def __len__(self) -> int:
        return len(self._secrets)

    @property
    def remembered_nonces(self) -> int:
        """How many spent nonces are held right now (bounded by window and ``max_nonces``)."""
        self._forget_old_nonces()
        return len(self._nonces)

    def verify(
        self, header: str | None, *, query: str | None = None, one_shot: bool = True
    ) -> AuthOk | AuthError:
        """Check an ``Authorization`` header value for a request with the given query string.

        Spends the nonce only when everything else is valid, so a refused token can be fixed
        and resent with the same nonce. ``one_shot=False`` neither checks nor spends the nonce
        (the private WebSocket handshake, where Upbit accepts a token again: see SIMULATOR.md).
        """
        if header is None or not header.strip():
            return NO_AUTHORIZATION_TOKEN
        scheme, _, token = header.strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return NO_AUTHORIZATION_TOKEN
        parts = token.strip().split(".")
        if len(parts) != 3:
            return JWT_VERIFICATION
        jose, payload = _json_object(parts[0]), _json_object(parts[1])
        if jose is None or payload is None:
            return JWT_VERIFICATION
        digest = _DIGESTS.get(str(jose.get("alg")))
        if digest is None:
            return JWT_VERIFICATION
        access_key = payload.get("access_key")
        if not isinstance(access_key, str) or not access_key:
            return JWT_VERIFICATION
        secret = self._secrets.get(access_key)
        if secret is None:
            return INVALID_ACCESS_KEY
        signed = f"{parts[0]}.{parts[1]}".encode("ascii", errors="replace")
        try:
            signature = _b64url_decode(parts[2])
        except (binascii.Error, ValueError):
            return JWT_VERIFICATION
        expected = hmac.new(secret, signed, digest).digest()
        if not hmac.compare_digest(signature, expected):
            return JWT_VERIFICATION
        if access_key in self._expired:
            return EXPIRED_ACCESS_KEY
        nonce = payload.get("nonce")
        if isinstance(nonce, bool) or not isinstance(nonce, (str, int)) or nonce == "":
            return JWT_VERIFICATION
        if not self._query_matches(payload, query or ""):
            return INVALID_QUERY_PAYLOAD
        if one_shot and not self._spend_nonce(access_key, str(nonce)):
            return NONCE_USED
        return AuthOk(access_key)

    @staticmethod
    def _query_matches(payload: Mapping[str, object], query: str) -> bool:
        claimed = payload.get("query_hash")
        if claimed is None:
            return query == ""
        alg = payload.get("query_hash_alg", "SHA512")
        if not isinstance(claimed, str) or not isinstance(alg, str) or alg.upper() != "SHA512":
            return False
        return hmac.compare_digest(claimed.lower(), query_hash(query))

    def _spend_nonce(self, access_key: str, nonce: str) -> bool:
        self._forget_old_nonces()
        key = (access_key, nonce)
        if key in self._nonces:
            return False
        self._nonces[key] = self._clock()
        while len(self._nonces) > self._max_nonces:
            self._nonces.popitem(last=False)
        return True

    def _forget_old_nonces(self) -> None:
        horizon = self._clock() - self._nonce_window
        while self._nonces:
            _, seen_at = next(iter(self._nonces.items()))
            if seen_at > horizon:
                break
            self._nonces.popitem(last=False)
