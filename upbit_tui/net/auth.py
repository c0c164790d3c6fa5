"""Upbit API keys and the JWTs that prove them (shared/upbit-protocol.md section 6).

Upbit authenticates every private REST call and the private WebSocket handshake with
`Authorization: Bearer <jwt>`: HS512 over `{access_key, nonce}` (+ `query_hash`,
`query_hash_alg` when the request has parameters). The token carries no expiry; the nonce makes
it one-shot, so a fresh token is made for every request and every (re)connection.

Public API::

    Credentials(access_key: str, secret_key: str)    # repr/str never show either key
    credentials_from_config(auth: AuthConfig) -> Credentials | None   # None when keys are missing
    NO_KEYS_REASON: str                               # why private features are off without keys
    query_string(params) -> str      # un-URL-encoded `k=v&k2=v2`, lists as `states[]=a&states[]=b`
    make_token(creds, query: str | None = None) -> str   # the JWT; `query` un-URL-encoded
    bearer(creds, query: str | None = None) -> dict[str, str]   # {"Authorization": "Bearer ..."}

`params` for query_string is a mapping or a sequence of (key, value) pairs, kept in order; a
list/tuple value becomes repeated `key[]=v` entries (Upbit's array syntax); None values are
left out. Use the same params for the URL (URL-encoded) and for the hash (not encoded).
"""

from __future__ import annotations

import hashlib
import uuid
import warnings
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

import jwt
from jwt.warnings import InsecureKeyLengthWarning

if TYPE_CHECKING:
    from upbit_tui.config import AuthConfig

NO_KEYS_REASON = (
    "no Upbit API keys configured: set UPBIT_ACCESS_KEY and UPBIT_SECRET_KEY "
    "or [auth] access_key / secret_key in the config"
)

ParamValue = str | int | float | bool | Sequence[str] | None
Params = Mapping[str, ParamValue] | Sequence[tuple[str, ParamValue]]


class Credentials:
    """An Upbit API key pair. Both keys stay out of repr, str, logs and error messages."""

    __slots__ = ("_access_key", "_secret_key")

    def __init__(self, access_key: str, secret_key: str) -> None:
        if not access_key or not secret_key:
            raise ValueError("both an access key and a secret key are needed")
        self._access_key = access_key
        self._secret_key = secret_key

    @property
    def access_key(self) -> str:
        return self._access_key

    @property
    def secret_key(self) -> str:
        return self._secret_key

    def redact(self, text: str) -> str:
        """`text` with any occurrence of either key replaced by '***'."""
        for key in (self._secret_key, self._access_key):
            text = text.replace(key, "***")
        return text

    def __repr__(self) -> str:
        return "Credentials(access_key=<set>, secret_key=<hidden>)"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Credentials):
            return NotImplemented
        return (self._access_key, self._secret_key) == (other._access_key, other._secret_key)

    def __hash__(self) -> int:
        return hash((self._access_key, self._secret_key))

    def __reduce__(self) -> tuple[object, ...]:
        # Pickling would write the secret somewhere; refuse.
        raise TypeError("Credentials cannot be pickled")


def credentials_from_config(auth: AuthConfig) -> Credentials | None:
    """The configured key pair (load_config already merged UPBIT_* env vars), or None."""
    if not auth.has_keys:
        return None
    assert auth.access_key is not None and auth.secret_key is not None
    return Credentials(auth.access_key.reveal(), auth.secret_key.reveal())


def _format_value(value: str | int | float | bool) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def query_pairs(params: Params | None) -> list[tuple[str, str]]:
    """Flatten params into ordered (key, value) pairs, arrays as repeated `key[]` pairs."""
    if not params:
        return []
    items: Iterable[tuple[str, ParamValue]] = (
        params.items() if isinstance(params, Mapping) else params
    )
    pairs: list[tuple[str, str]] = []
    for key, value in items:
        if value is None:
            continue
        if isinstance(value, list | tuple):
            name = key if key.endswith("[]") else f"{key}[]"
            pairs.extend((name, _format_value(v)) for v in value)
        else:
            assert isinstance(value, str | int | float | bool)
            pairs.append((key, _format_value(value)))
    return pairs


def query_string(params: Params | None) -> str:
    """The un-URL-encoded query string Upbit hashes: `market=KRW-BTC&states[]=wait`."""
    return "&".join(f"{k}={v}" for k, v in query_pairs(params))


def make_token(creds: Credentials, query: str | None = None) -> str:
    """A fresh HS512 JWT for one request or one WebSocket handshake.

    `query` is the un-URL-encoded query string (or a POST body rendered as `k=v&...`); when it is
    non-empty the token carries its SHA-512 as `query_hash`.
    """
    payload: dict[str, str] = {"access_key": creds.access_key, "nonce": str(uuid.uuid4())}
    if query:
        payload["query_hash"] = hashlib.sha512(query.encode("utf-8")).hexdigest()
        payload["query_hash_alg"] = "SHA512"
    with warnings.catch_warnings():
        # Upbit issues 40-character secrets; PyJWT's 64-byte advice is not ours to follow and
        # would otherwise warn on every request.
        warnings.simplefilter("ignore", InsecureKeyLengthWarning)
        return jwt.encode(payload, creds.secret_key, algorithm="HS512")


def bearer(creds: Credentials, query: str | None = None) -> dict[str, str]:
    """`{"Authorization": "Bearer <fresh jwt>"}` for a request or the private handshake."""
    return {"Authorization": f"Bearer {make_token(creds, query)}"}
