"""A throwaway `redis-server` for the tests: its own free port and directory, no persistence.

Tests that need Redis fail, never skip, when redis-server is not installed: `make
system-deps` installs Debian's `redis-server` package.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

START_TIMEOUT = 20.0
INSTALL_HINT = (
    "redis-server is not installed: run `make system-deps` "
    "(or `apt-get install redis-server`); the Redis tests never skip without it."
)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _ping(port: int) -> bool:
    """True when a Redis on `port` answers PING (RESP, by hand: no client needed)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as connection:
            connection.sendall(b"PING\r\n")
            return connection.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@dataclass
class RedisServer:
    port: int
    directory: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    def start(self) -> None:
        executable = shutil.which("redis-server")
        if executable is None:
            raise AssertionError(INSTALL_HINT)
        log = self.directory / "redis.log"
        # --save '' and --appendonly no: nothing is written to disk, and a restart is empty.
        self.process = subprocess.Popen(  # noqa: S603 (our own command line)
            [executable, "--port", str(self.port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no", "--dir", str(self.directory),
             "--logfile", str(log)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            if _ping(self.port):
                return
            time.sleep(0.05)
        text = log.read_text() if log.exists() else ""
        self.stop()
        raise AssertionError(f"redis-server never answered PING on port {self.port}:\n{text}")

    def stop(self) -> None:
        """Terminate the server (a kill, as far as its clients can tell) and wait for it."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
        # Closed: nothing answers on the port any more.
        assert not _ping(self.port)


@contextlib.contextmanager
def redis_server() -> Iterator[RedisServer]:
    """A running redis-server on a free port of 127.0.0.1; terminated afterwards."""
    with tempfile.TemporaryDirectory(prefix="redis-") as directory:
        server = RedisServer(_free_port(), Path(directory))
        server.start()
        try:
            yield server
        finally:
            server.stop()
