"""JWTs as Upbit specifies them, checked with PyJWT; keys never shown."""

from __future__ import annotations

import hashlib
import logging
import pickle
import warnings

import jwt
import pytest

from upbit_tui.config import AuthConfig, load_config
from upbit_tui.net.auth import (
    NO_KEYS_REASON,
    Credentials,
    bearer,
    credentials_from_config,
    make_token,
    query_string,
)

# Decoding with a short test secret makes PyJWT warn; signing (our code) must not.
pytestmark = pytest.mark.filterwarnings("ignore:The HMAC key:jwt.warnings.InsecureKeyLengthWarning")

ACCESS = "ak-0123456789abcdef"
SECRET = "sk-very-secret-9876543210"


def _decode(token: str) -> dict[str, str]:
    return jwt.decode(token, SECRET, algorithms=["HS512"])


def test_token_is_hs512_signed_with_the_raw_secret() -> None:
    token = make_token(Credentials(ACCESS, SECRET))
    assert jwt.get_unverified_header(token) == {"alg": "HS512", "typ": "JWT"}
    payload = _decode(token)
    assert payload["access_key"] == ACCESS
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(token, "another-secret", algorithms=["HS512"])


def test_signing_with_an_upbit_length_secret_does_not_warn() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        make_token(Credentials(ACCESS, "s" * 40), "market=KRW-BTC")


def test_token_without_params_carries_only_access_key_and_nonce() -> None:
    payload = _decode(make_token(Credentials(ACCESS, SECRET)))
    assert set(payload) == {"access_key", "nonce"}  # no exp: Upbit's tokens have none


def test_every_token_gets_a_fresh_uuid_nonce() -> None:
    creds = Credentials(ACCESS, SECRET)
    nonces = [_decode(make_token(creds))["nonce"] for _ in range(200)]
    assert len(set(nonces)) == 200
    assert all(len(n) == 36 and n.count("-") == 4 for n in nonces)


def test_query_hash_is_sha512_of_the_unencoded_query() -> None:
    query = query_string(
        [("market", "KRW-BTC"), ("states", ["wait", "watch"]), ("limit", 100), ("page", None)]
    )
    assert query == "market=KRW-BTC&states[]=wait&states[]=watch&limit=100"
    payload = _decode(make_token(Credentials(ACCESS, SECRET), query))
    assert payload["query_hash"] == hashlib.sha512(query.encode()).hexdigest()
    assert payload["query_hash_alg"] == "SHA512"


def test_query_string_keeps_order_and_leaves_values_unencoded() -> None:
    query = query_string({"to": "2025-06-24T04:56:53Z", "market": "KRW-BTC", "is_details": True})
    assert query == "to=2025-06-24T04:56:53Z&market=KRW-BTC&is_details=true"


def test_bearer_header_holds_a_valid_token() -> None:
    header = bearer(Credentials(ACCESS, SECRET), "market=KRW-BTC")
    scheme, token = header["Authorization"].split(" ")
    assert scheme == "Bearer"
    assert _decode(token)["query_hash"] == hashlib.sha512(b"market=KRW-BTC").hexdigest()


def test_credentials_never_show_either_key(caplog: pytest.LogCaptureFixture) -> None:
    creds = Credentials(ACCESS, SECRET)
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("test").info("creds: %s %r", creds, creds)
    for text in (repr(creds), str(creds), f"{creds}", caplog.text):
        assert SECRET not in text
        assert ACCESS not in text
    with pytest.raises(TypeError):
        pickle.dumps(creds)
    assert creds.redact(f"bad key {ACCESS} / {SECRET}") == "bad key *** / ***"


def test_missing_keys_are_a_clear_error() -> None:
    with pytest.raises(ValueError, match="access key and a secret key"):
        Credentials("", SECRET)


def test_credentials_from_config_and_environment() -> None:
    assert credentials_from_config(AuthConfig()) is None
    config = load_config(environ={"UPBIT_ACCESS_KEY": ACCESS, "UPBIT_SECRET_KEY": SECRET})
    creds = credentials_from_config(config.auth)
    assert creds == Credentials(ACCESS, SECRET)
    assert "UPBIT_ACCESS_KEY" in NO_KEYS_REASON and "[auth]" in NO_KEYS_REASON
