"""Securing the gateway: NATS credentials from [gateway] or the environment, against a real
nats-server that requires them; secrets never shown; private data only over an authenticated
server unless the operator opts in.

TLS: certificates are made with the openssl command (the `cryptography` package is not a
dependency); without openssl those tests are skipped, and the settings' plumbing (files
checked at load, one line when unusable) is tested either way.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from gateway_harness import (
    ACCESS,
    SECRET,
    TIMEOUT_FACTOR,
    Collector,
    fast_config,
    fast_settings,
    gateway_config_file,
    unique_prefix,
    wait_until,
)

from upbit_tui.client.manager import PrivateUnavailableError
from upbit_tui.client.proxy import WebSocketClientProxy
from upbit_tui.config import AuthConfig, ConfigError, GatewayConfig, Secret, load_config
from upbit_tui.gateway.localserver import LocalNatsServer
from upbit_tui.gateway.protocol import GatewayUnavailableError
from upbit_tui.gateway.remote import RemoteWebSocketManager
from upbit_tui.gateway.service import GatewayService

USER, PASSWORD, TOKEN = "gw-user", "pw-Zq81-not-shown", "tok-Yx55-not-shown"


@pytest.fixture(scope="module")
def password_server() -> Iterator[LocalNatsServer]:
    with LocalNatsServer(extra_args=["--user", USER, "--pass", PASSWORD]) as server:
        yield server


@pytest.fixture(scope="module")
def token_server() -> Iterator[LocalNatsServer]:
    with LocalNatsServer(extra_args=["--auth", TOKEN]) as server:
        yield server


def with_nats(config: Any, **values: Any) -> Any:
    return config.replace(gateway=dataclasses.replace(config.gateway, **values))


def keyed(config: Any) -> Any:
    return config.replace(auth=AuthConfig(ACCESS, SECRET))


# ---------------------------------------------------------------------- config


def test_nats_credentials_from_config_and_env_are_secrets(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text(f'[gateway]\nnats_user = "{USER}"\nnats_password = "{PASSWORD}"\n')
    path.chmod(0o600)
    config = load_config(path, environ={})
    assert config.gateway.nats_user == USER
    assert isinstance(config.gateway.nats_password, Secret)
    assert config.gateway.nats_password.reveal() == PASSWORD
    assert PASSWORD not in repr(config) and PASSWORD not in str(config.gateway)
    env = {"UPBIT_TUI_NATS_USER": "other", "UPBIT_TUI_NATS_PASSWORD": "env-pw"}
    config = load_config(path, environ=env)
    assert config.gateway.nats_user == "other"
    assert config.gateway.nats_password == Secret("env-pw")
    config = load_config(None, environ={"UPBIT_TUI_NATS_TOKEN": TOKEN})
    assert config.gateway.nats_token == Secret(TOKEN) and TOKEN not in repr(config)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('nats_password = "x"', r"nats_password: needs nats_user too"),
        ('nats_user = "u"', r"nats_user: needs nats_password too"),
        ('nats_user = "u"\nnats_password = "p"\nnats_token = "t"', r"one way to authenticate"),
        ('nats_tls_cert = "/etc/hostname"', r"nats_tls_cert and nats_tls_key: set both"),
        ('nats_tls_ca = "/nonexistent/ca.pem"', r"nats_tls_ca: cannot read '/nonexistent/ca.pem'"),
        ('nats_creds = "/nonexistent/u.creds"', r"nats_creds: cannot read"),
        ("allow_unauthenticated_private = 1", r"allow_unauthenticated_private: expected true"),
    ],
)
def test_bad_nats_settings_are_one_clear_line(tmp_path: Path, body: str, message: str) -> None:
    path = tmp_path / "c.toml"
    path.write_text(f"[gateway]\n{body}\n")
    with pytest.raises(ConfigError, match=message) as caught:
        load_config(path, environ={})
    assert "\n" not in str(caught.value)


def test_unusable_tls_files_are_one_line(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("not a certificate\n")
    path = tmp_path / "c.toml"
    path.write_text(f'[gateway]\nnats_tls_ca = "{ca}"\n')
    with pytest.raises(ConfigError, match=r"\[gateway\] nats_tls_\*: unusable TLS files"):
        load_config(path, environ={})


def test_creds_without_the_nkeys_package_say_what_to_install(tmp_path: Path) -> None:
    creds = tmp_path / "u.creds"
    creds.write_text("-----BEGIN NATS USER JWT-----\n")
    path = tmp_path / "c.toml"
    path.write_text(f'[gateway]\nnats_creds = "{creds}"\n')
    try:
        import nkeys  # noqa: F401
    except ImportError:
        with pytest.raises(ConfigError, match=r"pip install nkeys"):
            load_config(path, environ={})
    else:
        assert load_config(path, environ={}).gateway.nats_creds == str(creds)


# ---------------------------------------------------------------------- real servers


@pytest.mark.parametrize("how", ["password", "token", "url"])
async def test_gateway_and_remote_authenticate_and_stream(
    sim: Any,
    password_server: LocalNatsServer,
    token_server: LocalNatsServer,
    how: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    prefix = unique_prefix()
    config = keyed(fast_config(sim))
    url = password_server.url
    if how == "password":
        config = with_nats(config, nats_user=USER, nats_password=Secret(PASSWORD))
    elif how == "token":
        config, url = with_nats(config, nats_token=Secret(TOKEN)), token_server.url
    else:
        url = url.replace("nats://", f"nats://{USER}:{PASSWORD}@")
    caplog.set_level(logging.DEBUG)
    ticks, balances = Collector(), Collector()
    async with GatewayService(config, nats_url=url, settings=fast_settings(prefix)) as gateway:
        await gateway.wait_active()
        assert gateway.nats_authenticated and gateway.status()["private_served"]
        async with RemoteWebSocketManager(url, prefix=prefix, auth=config.gateway) as remote:
            proxy = WebSocketClientProxy("p", remote)
            await proxy.subscribe_ticker("KRW-BTC", ticks)
            await proxy.subscribe_balance(balances)  # served: the server requires auth
            await ticks.wait_for(lambda c: len(c.events) >= 1)
            await balances.wait_for(lambda c: len(c.events) >= 1)
            health = await proxy.health_check()
    shown = repr(health) + caplog.text
    for secret in (PASSWORD, TOKEN):
        assert secret not in shown
    assert health["gateway"]["nats_url"].startswith("nats://")
    if how == "url":
        assert health["gateway"]["nats_url"].startswith("nats://***@")


async def test_wrong_password_is_refused_at_once_with_the_server_reason(
    password_server: LocalNatsServer,
) -> None:
    wrong = GatewayConfig(nats_user=USER, nats_password=Secret("wrong-Kq2-secret"))
    remote = RemoteWebSocketManager(password_server.url, auth=wrong, connect_timeout=30.0)
    async with asyncio.timeout(10 * TIMEOUT_FACTOR):  # not the 30 s connect deadline
        with pytest.raises(GatewayUnavailableError, match="Authorization Violation") as caught:
            await remote.start()
    assert "wrong-Kq2-secret" not in str(caught.value)
    assert f"NATS at {password_server.url} refused us" in str(caught.value)


async def run_cli(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    import os

    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "upbit_tui", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={**os.environ, **(env or {})},
    )  # fmt: skip
    async with asyncio.timeout(30 * TIMEOUT_FACTOR):
        out, err = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_gateway_cli_with_a_wrong_token_is_one_line_and_exit_2(
    token_server: LocalNatsServer,
) -> None:
    code, _, err = await run_cli(
        "gateway", "--demo", "--nats", token_server.url,
        env={"UPBIT_TUI_NATS_TOKEN": "bad-Rt7-token"},
    )  # fmt: skip
    assert code == 2, err
    lines = [line for line in err.splitlines() if line.startswith("upbit-tui gateway:")]
    assert len(lines) == 1 and "refused us" in lines[0], err
    assert "bad-Rt7-token" not in err and "Traceback" not in err


async def test_headless_with_a_half_set_password_is_one_line_and_exit_2(tmp_path: Path) -> None:
    code, out, err = await run_cli(
        "headless", "--gateway", "nats://127.0.0.1:9", "--count", "1",
        env={"UPBIT_TUI_NATS_PASSWORD": "lonely-Pw3"},
    )  # fmt: skip
    assert code == 2 and out == ""
    assert "nats_password: needs nats_user too" in err and "lonely-Pw3" not in err


async def test_gateway_cli_logs_its_url_without_the_password(
    sim: Any, password_server: LocalNatsServer, tmp_path: Path
) -> None:
    from gateway_harness import Child

    url = password_server.url.replace("nats://", f"nats://{USER}:{PASSWORD}@")
    config, prefix = gateway_config_file(tmp_path, sim), unique_prefix()
    child = await Child.start(
        "-m", "upbit_tui", "gateway", "--config", str(config), "--nats", url,
        "--prefix", prefix, "--name", "auth-gw",
    )  # fmt: skip
    try:
        async with RemoteWebSocketManager(url, prefix=prefix, heartbeat=0.2) as probe:
            await wait_until(lambda: probe.gateway.get("gateway") == "auth-gw", what="gateway up")
    except BaseException:
        await child.close()
        raise
    import signal

    child.process.send_signal(signal.SIGTERM)
    async with asyncio.timeout(10 * TIMEOUT_FACTOR):
        assert await child.process.wait() == 0
    assert child.process.stderr is not None
    err = (await child.process.stderr.read()).decode()
    await child.close()
    assert "nats://***@127.0.0.1" in err and PASSWORD not in err


# ---------------------------------------------------------------------- private data


async def test_private_data_is_refused_over_an_unauthenticated_server(
    sim: Any, nats_server: LocalNatsServer, caplog: pytest.LogCaptureFixture
) -> None:
    prefix = unique_prefix()
    caplog.set_level(logging.WARNING, logger="upbit_tui.gateway")
    async with GatewayService(
        keyed(fast_config(sim)), nats_url=nats_server.url, settings=fast_settings(prefix)
    ) as gateway:
        await gateway.wait_active()
        assert "requires no authentication: private data" in caplog.text
        async with RemoteWebSocketManager(nats_server.url, prefix=prefix) as remote:
            proxy = WebSocketClientProxy("p", remote)
            with pytest.raises(PrivateUnavailableError, match="allow_unauthenticated_private"):
                await proxy.subscribe_balance(Collector())
            ticks = Collector()
            await proxy.subscribe_ticker("KRW-BTC", ticks)  # public data is unaffected
            await ticks.wait_for(lambda c: len(c.events) >= 1)
            await wait_until(lambda: bool(remote.gateway), what="a sync reply")
            assert not remote.is_private_available()
            assert "allow_unauthenticated_private" in (remote.private_unavailable_reason or "")
            health = await proxy.health_check()
            assert health["private"]["available"] is False
            assert health["gateway"]["private_served"] is False


async def test_private_data_over_an_unauthenticated_server_when_opted_in(
    sim: Any, nats_server: LocalNatsServer, caplog: pytest.LogCaptureFixture
) -> None:
    prefix = unique_prefix()
    caplog.set_level(logging.WARNING, logger="upbit_tui.gateway")
    config = with_nats(keyed(fast_config(sim)), allow_unauthenticated_private=True)
    balances = Collector()
    async with GatewayService(
        config, nats_url=nats_server.url, settings=fast_settings(prefix)
    ) as gateway:
        await gateway.wait_active()
        assert "anyone who reaches the server can read the account's balances" in caplog.text
        async with RemoteWebSocketManager(nats_server.url, prefix=prefix) as remote:
            proxy = WebSocketClientProxy("p", remote)
            await proxy.subscribe_balance(balances)
            await balances.wait_for(lambda c: len(c.events) >= 1)


# ---------------------------------------------------------------------- TLS (openssl CLI)


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)


def _make_certificates(tmp: Path) -> dict[str, Path]:
    """A CA, a server certificate for 127.0.0.1 and a client certificate, by the openssl
    command (no Python package needed; the test is skipped where openssl is missing)."""
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    _openssl("req", "-x509", *ec, "-keyout", str(tmp / "ca.key"), "-out", str(tmp / "ca.pem"),
             "-days", "2", "-subj", "/CN=upbit-tui test CA")  # fmt: skip
    for name, extension in (
        ("server", "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n"),
        ("client", "extendedKeyUsage=clientAuth\n"),
    ):
        (tmp / f"{name}.ext").write_text(extension)
        _openssl("req", *ec, "-keyout", str(tmp / f"{name}.key"), "-out",
                 str(tmp / f"{name}.csr"), "-subj", f"/CN={name}")  # fmt: skip
        csr, pem = str(tmp / f"{name}.csr"), str(tmp / f"{name}.pem")
        _openssl("x509", "-req", "-in", csr, "-CA", str(tmp / "ca.pem"),
                 "-CAkey", str(tmp / "ca.key"), "-CAcreateserial", "-days", "2",
                 "-out", pem, "-extfile", str(tmp / f"{name}.ext"))  # fmt: skip
    return {
        "ca": tmp / "ca.pem",
        "server": tmp / "server.pem",
        "server_key": tmp / "server.key",
        "client": tmp / "client.pem",
        "client_key": tmp / "client.key",
    }


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalNatsServer, Any]]:
    if shutil.which("openssl") is None:
        pytest.skip("no openssl command to make test certificates")
    tmp = tmp_path_factory.mktemp("tls")
    files = _make_certificates(tmp)
    args = ["--tls", "--tlscert", str(files["server"]), "--tlskey", str(files["server_key"]),
            "--tlsverify", "--tlscacert", str(files["ca"])]  # fmt: skip
    with LocalNatsServer(extra_args=args, scheme="tls") as server:
        yield server, files


async def test_mutual_tls_carries_the_stream_and_counts_as_authentication(
    sim: Any, tls_server: tuple[LocalNatsServer, Any], tmp_path: Path
) -> None:
    server, files = tls_server
    path = tmp_path / "c.toml"
    path.write_text(
        f'[gateway]\nnats_tls_ca = "{files["ca"]}"\nnats_tls_cert = "{files["client"]}"\n'
        f'nats_tls_key = "{files["client_key"]}"\n'
    )
    tls = load_config(path, environ={}).gateway
    config = keyed(fast_config(sim)).replace(gateway=tls)
    prefix = unique_prefix()
    ticks, balances = Collector(), Collector()
    async with GatewayService(config, nats_url=server.url, settings=fast_settings(prefix)) as gw:
        await gw.wait_active()
        assert gw.nats_authenticated  # the server verifies client certificates
        async with RemoteWebSocketManager(server.url, prefix=prefix, auth=tls) as remote:
            proxy = WebSocketClientProxy("p", remote)
            await proxy.subscribe_ticker("KRW-BTC", ticks)
            await proxy.subscribe_balance(balances)
            await ticks.wait_for(lambda c: len(c.events) >= 1)
            await balances.wait_for(lambda c: len(c.events) >= 1)


async def test_a_server_certificate_we_do_not_trust_is_refused_at_once(
    tls_server: tuple[LocalNatsServer, Any],
) -> None:
    server, files = tls_server
    # The client certificate, but the system's CAs: the test CA's server is not trusted.
    untrusting = GatewayConfig(
        nats_tls_cert=str(files["client"]), nats_tls_key=str(files["client_key"])
    )
    remote = RemoteWebSocketManager(server.url, auth=untrusting, connect_timeout=30.0)
    async with asyncio.timeout(10 * TIMEOUT_FACTOR):
        with pytest.raises(GatewayUnavailableError, match="refused us: TLS failed"):
            await remote.start()
