"""Notifications say what failed in words, not exception reprs (issue 12.13)."""

from __future__ import annotations

import socket

import aiohttp

from widgets.error_text import describe_error, humanize_reason


def test_a_name_that_does_not_resolve_reads_as_such() -> None:
    error = socket.gaierror(-2, "Name or service not known")
    assert describe_error(error) == "network error: name not resolved"
    key = aiohttp.client_reqrep.ConnectionKey("api.upbit.com", 443, True, True, None, None, None)
    wrapped = aiohttp.ClientConnectorError(key, error)
    assert describe_error(wrapped) == "cannot reach api.upbit.com: name not resolved"


def test_connection_layer_reasons_lose_their_reprs() -> None:
    reason = (
        "public connection failed (connect failed: gaierror: [Errno -2] Name or service not known)"
    )
    assert humanize_reason(reason, "api.upbit.com") == (
        "public connection failed (cannot reach api.upbit.com: name not resolved)"
    )
    refused = (
        "connect failed: ConnectionRefusedError: [Errno 111] Connect call failed ('127.0.0.1', 9)"
    )
    assert humanize_reason(refused, "127.0.0.1:9") == "cannot reach 127.0.0.1:9: connection refused"
    assert humanize_reason("closed by server (code 1000)") == "closed by server (code 1000)"


def test_other_errors_keep_their_first_line() -> None:
    assert describe_error(ValueError("bad value\nmore")) == "bad value"
    assert describe_error(RuntimeError()) == "RuntimeError"
