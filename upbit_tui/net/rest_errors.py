"""Errors of Upbit's REST API, worded for the user and never holding a key.

Every one is an UpbitApiError(status, name, message) with a `hint` saying what to do; rest.py
raises them and re-exports them, so `from upbit_tui.net.rest import UpbitAuthError` keeps working.
"""

from __future__ import annotations

from collections.abc import Sequence

from upbit_tui.net.auth import NO_KEYS_REASON

# What a user can do about each of Upbit's authentication errors.
AUTH_HINTS = {
    "jwt_verification": "the secret key does not match the access key: check UPBIT_SECRET_KEY",
    "invalid_access_key": "Upbit does not know this access key: check UPBIT_ACCESS_KEY",
    "expired_access_key": "the API key has expired: create a new one in Upbit's Open API page",
    "no_authorization_ip": (
        "this machine's IP address is not allowed for the API key: add it in Upbit's Open API page"
    ),
    "no_authorization_token": "no API key was sent: set UPBIT_ACCESS_KEY and UPBIT_SECRET_KEY",
    "out_of_scope": (
        "the API key lacks a permission this needs (asset view for balances, order view for "
        "orders): enable it in Upbit's Open API page"
    ),
    "nonce_used": "a token was reused; this is retried with a fresh token",
    "invalid_query_payload": "the signed query did not match the request (a client bug)",
}


class UpbitApiError(Exception):
    """Upbit refused a call: HTTP `status`, Upbit's error `name` and `message`."""

    def __init__(self, status: int, name: str, message: str, *, hint: str = "") -> None:
        self.status = status
        self.name = name
        self.message = message
        self.hint = hint
        text = f"Upbit API error {status} {name}: {message}" if status else message
        super().__init__(f"{text} ({hint})" if hint else text)


class UnknownSymbolError(UpbitApiError):
    """A market code that is well-formed but not listed on the exchange."""

    def __init__(self, symbols: Sequence[str], message: str = "Code not found") -> None:
        self.symbols = list(symbols)
        listed = ", ".join(self.symbols)
        super().__init__(
            404,
            "404",
            message,
            hint=f"not listed on Upbit: {listed}; check the spelling (e.g. KRW-BTC)",
        )


class UpbitAuthError(UpbitApiError):
    """The API keys were refused (401/403)."""


class UpbitBlockedError(UpbitApiError):
    """Upbit blocked us (418) for longer than the client waits; `seconds_left` until it ends."""

    def __init__(self, group: str, seconds_left: float) -> None:
        self.group = group
        self.seconds_left = seconds_left
        super().__init__(
            418,
            "blocked",
            f"Upbit blocked the '{group}' request group for {seconds_left:.0f} s after too many "
            "requests",
            hint="requests resume by themselves when the block ends",
        )


class UpbitRateLimitedError(UpbitApiError):
    """Still 429 Too Many Requests after every retry."""


class UpbitServerError(UpbitApiError):
    """Upbit answered 5xx on every retry."""


class UpbitConnectionError(UpbitApiError):
    """Upbit could not be reached (network error or timeout) on every retry."""


class PrivateUnavailableError(UpbitApiError):
    """A private call (balances, orders) without API keys."""

    def __init__(self) -> None:
        super().__init__(0, "no_credentials", NO_KEYS_REASON)
