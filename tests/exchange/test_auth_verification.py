"""The simulator's JWT verification, as Upbit specifies it (shared/upbit-protocol.md §6)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
import warnings
from urllib.parse import unquote, urlencode

import jwt
import pytest

from upbit_tui.exchange.auth import AuthError, AuthOk, KeyStore, query_hash

ACCESS = "test-access"
SECRET = "test-secret"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def sign(
    payload: dict[str, object], secret: str = SECRET, alg: str = "HS512", mac_alg: str = ""
) -> str:
    """A token signed by hand, independent of any JWT library (``mac_alg`` may lie about alg)."""
    header = _b64(json.dumps({"alg": alg, "typ": "JWT"}).encode())
    body = _b64(json.dumps(payload).encode())
    digest = {"HS256": hashlib.sha256, "HS512": hashlib.sha512}[mac_alg or alg]
    mac = hmac.new(secret.encode(), f"{header}.{body}".encode(), digest).digest()
    return f"{header}.{body}.{_b64(mac)}"


def payload(**extra: object) -> dict[str, object]:
    return {"access_key": ACCESS, "nonce": str(uuid.uuid4()), **extra}


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def keys() -> KeyStore:
    return KeyStore({ACCESS: SECRET})


@pytest.mark.parametrize("alg", ["HS256", "HS512"])
def test_accepts_both_algorithms(keys: KeyStore, alg: str) -> None:
    assert keys.verify(f"Bearer {sign(payload(), alg=alg)}") == AuthOk(ACCESS)


def test_accepts_tokens_made_by_pyjwt(keys: KeyStore) -> None:
    # Upbit's own samples sign with PyJWT; the short test secret only triggers a warning there.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        token = jwt.encode(payload(), SECRET, algorithm="HS512")
    assert keys.verify(f"Bearer {token}") == AuthOk(ACCESS)


def test_alg_must_match_the_signature(keys: KeyStore) -> None:
    for alg, mac_alg in [("HS512", "HS256"), ("HS256", "HS512")]:
        result = keys.verify(f"Bearer {sign(payload(), alg=alg, mac_alg=mac_alg)}")
        assert isinstance(result, AuthError) and result.name == "jwt_verification"


@pytest.mark.parametrize("alg", ["none", "RS256", "HS384"])
def test_other_algorithms_are_refused(keys: KeyStore, alg: str) -> None:
    header = _b64(json.dumps({"alg": alg, "typ": "JWT"}).encode())
    body = _b64(json.dumps(payload()).encode())
    mac = hmac.new(SECRET.encode(), f"{header}.{body}".encode(), hashlib.sha384).digest()
    result = keys.verify(f"Bearer {header}.{body}.{_b64(mac)}")
    assert isinstance(result, AuthError) and result.name == "jwt_verification"


def test_wrong_secret_is_refused(keys: KeyStore) -> None:
    result = keys.verify(f"Bearer {sign(payload(), secret='not-the-secret')}")
    assert isinstance(result, AuthError)
    assert (result.name, result.status) == ("jwt_verification", 401)


def test_secret_is_raw_bytes_not_base64(keys: KeyStore) -> None:
    store = KeyStore({ACCESS: "c2VjcmV0"})  # base64 of "secret"
    assert store.verify(f"Bearer {sign(payload(), secret='c2VjcmV0')}") == AuthOk(ACCESS)
    refused = store.verify(f"Bearer {sign(payload(), secret='secret')}")
    assert isinstance(refused, AuthError) and refused.name == "jwt_verification"


def test_unknown_access_key(keys: KeyStore) -> None:
    token = sign({"access_key": "someone-else", "nonce": str(uuid.uuid4())})
    result = keys.verify(f"Bearer {token}")
    assert isinstance(result, AuthError) and result.name == "invalid_access_key"


def test_expired_access_key(keys: KeyStore) -> None:
    keys.expire(ACCESS)
    result = keys.verify(f"Bearer {sign(payload())}")
    assert isinstance(result, AuthError) and result.name == "expired_access_key"


@pytest.mark.parametrize("header", [None, "", "   ", "Bearer", "Bearer   ", "Basic abc"])
def test_missing_token(keys: KeyStore, header: str | None) -> None:
    result = keys.verify(header)
    assert isinstance(result, AuthError) and result.name == "no_authorization_token"


@pytest.mark.parametrize(
    "token", ["abc", "a.b", "a.b.c.d", "!!!.###.$$$", f"{_b64(b'[1]')}.{_b64(b'{}')}.xx"]
)
def test_malformed_tokens(keys: KeyStore, token: str) -> None:
    result = keys.verify(f"Bearer {token}")
    assert isinstance(result, AuthError) and result.name == "jwt_verification"


@pytest.mark.parametrize("nonce", [None, "", 1.5, True, ["x"]])
def test_nonce_is_required(keys: KeyStore, nonce: object) -> None:
    claims: dict[str, object] = {"access_key": ACCESS}
    if nonce is not None:
        claims["nonce"] = nonce
    result = keys.verify(f"Bearer {sign(claims)}")
    assert isinstance(result, AuthError) and result.name == "jwt_verification"


def test_millisecond_nonce_of_old_docs_is_accepted(keys: KeyStore) -> None:
    claims: dict[str, object] = {"access_key": ACCESS, "nonce": 1573042776297}
    assert keys.verify(f"Bearer {sign(claims)}") == AuthOk(ACCESS)


def test_reused_nonce_is_refused(keys: KeyStore) -> None:
    claims = payload()
    assert keys.verify(f"Bearer {sign(claims)}") == AuthOk(ACCESS)
    # A different token (other alg) with the same nonce is still a reuse.
    result = keys.verify(f"Bearer {sign(claims, alg='HS256')}")
    assert isinstance(result, AuthError) and result.name == "nonce_used"


def test_refused_token_does_not_spend_its_nonce(keys: KeyStore) -> None:
    claims = payload()
    assert isinstance(keys.verify(f"Bearer {sign(claims, secret='bad')}"), AuthError)
    assert keys.verify(f"Bearer {sign(claims)}") == AuthOk(ACCESS)


def test_nonces_are_forgotten_after_the_window() -> None:
    clock = FakeClock()
    store = KeyStore({ACCESS: SECRET}, clock=clock, nonce_window=60.0)
    claims = payload()
    assert store.verify(f"Bearer {sign(claims)}") == AuthOk(ACCESS)
    clock.now += 59.0
    assert isinstance(store.verify(f"Bearer {sign(claims)}"), AuthError)
    assert store.remembered_nonces == 1
    clock.now += 2.0
    assert store.remembered_nonces == 0
    assert store.verify(f"Bearer {sign(claims)}") == AuthOk(ACCESS)


def test_nonce_memory_is_bounded() -> None:
    store = KeyStore({ACCESS: SECRET}, max_nonces=10)
    for _ in range(25):
        assert store.verify(f"Bearer {sign(payload())}") == AuthOk(ACCESS)
    assert store.remembered_nonces == 10


def test_query_hash_is_over_the_unencoded_query(keys: KeyStore) -> None:
    params = [("market", "KRW-BTC"), ("states[]", "wait"), ("states[]", "watch")]
    plain = "market=KRW-BTC&states[]=wait&states[]=watch"
    assert unquote(urlencode(params)) == plain
    claims = payload(query_hash=hashlib.sha512(plain.encode()).hexdigest(), query_hash_alg="SHA512")
    # The request travels percent-encoded; the hash is still over the decoded text.
    assert keys.verify(f"Bearer {sign(claims)}", query=urlencode(params)) == AuthOk(ACCESS)


def test_query_hash_alg_defaults_to_sha512(keys: KeyStore) -> None:
    claims = payload(query_hash=query_hash("market=KRW-BTC"))
    assert keys.verify(f"Bearer {sign(claims)}", query="market=KRW-BTC") == AuthOk(ACCESS)


@pytest.mark.parametrize(
    "claims_extra",
    [
        {},  # parameters sent, no query_hash
        {"query_hash": query_hash("market=KRW-ETH"), "query_hash_alg": "SHA512"},
        {"query_hash": query_hash("market=KRW-BTC"), "query_hash_alg": "SHA256"},
        {"query_hash": 12345},
    ],
)
def test_bad_query_hash(keys: KeyStore, claims_extra: dict[str, object]) -> None:
    result = keys.verify(f"Bearer {sign(payload(**claims_extra))}", query="market=KRW-BTC")
    assert isinstance(result, AuthError) and result.name == "invalid_query_payload"


def test_query_hash_without_parameters_must_hash_nothing(keys: KeyStore) -> None:
    empty = payload(query_hash=query_hash(""), query_hash_alg="SHA512")
    assert keys.verify(f"Bearer {sign(empty)}", query="") == AuthOk(ACCESS)
    other = payload(query_hash=query_hash("market=KRW-BTC"))
    result = keys.verify(f"Bearer {sign(other)}", query=None)
    assert isinstance(result, AuthError) and result.name == "invalid_query_payload"


def test_error_body_is_upbits_exchange_shape() -> None:
    error = KeyStore().verify(None)
    assert isinstance(error, AuthError)
    assert error.body() == {"error": {"name": "no_authorization_token", "message": error.message}}
    assert list(error.body()["error"]) == ["name", "message"]


def test_secret_never_appears_in_errors(keys: KeyStore) -> None:
    results = [
        keys.verify(f"Bearer {sign(payload(), secret='bad')}"),
        keys.verify(f"Bearer {sign(payload(query_hash='x'))}", query="a=1"),
    ]
    for result in results:
        assert isinstance(result, AuthError)
        assert SECRET not in repr(result) and SECRET not in result.message
