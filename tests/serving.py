"""Real `contacts-server serve` processes on loopback, for tests of several servers on one
PostgreSQL (a read replica, the compose topology): started, asked, stopped, and their
stderr kept to say what went wrong."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from demo_server import Output, free_port, project_environment, run_command

START_TIMEOUT = 90.0


@dataclass
class Server:
    process: subprocess.Popen[str]
    port: int
    stdout: Output
    stderr: Output

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def post(
        self, token: str, query: str, variables: dict[str, Any] | None = None
    ) -> httpx.Response:
        return httpx.post(
            f"{self.base}/graphql",
            json={"query": query, "variables": variables or {}},
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )

    def readyz(self) -> httpx.Response:
        return httpx.get(f"{self.base}/readyz", timeout=10)

    def get(self, token: str, query: str) -> httpx.Response:
        return httpx.get(
            f"{self.base}/graphql",
            params={"query": query},
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )

    def data(self, token: str, query: str, variables: dict[str, Any] | None = None) -> Any:
        """The `data` of a request that must succeed: HTTP 200 and no errors."""
        response = self.post(token, query, variables)
        body = response.json()
        assert response.status_code == 200, (response.status_code, body, self.stderr.text)
        assert "errors" not in body, (body, self.stderr.text)
        return body["data"]


def start(directory: Path, **env: str) -> Server:
    """A `serve` process with `env` as its settings (DATABASE_URL among them)."""
    port = free_port()
    environment = project_environment(
        ENVIRONMENT="production", LOG_LEVEL="WARNING", PYTHONUNBUFFERED="1", **env
    )
    process = subprocess.Popen(  # noqa: S603 (our own command line)
        [sys.executable, "-m", "server.cli", "serve", "--port", str(port)],
        cwd=directory,  # no .env of the project's
        env=environment,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    assert process.stderr is not None
    stdout, stderr = Output(), Output()
    for output, stream in ((stdout, process.stdout), (stderr, process.stderr)):
        threading.Thread(target=output.drain, args=(stream,), daemon=True).start()
    return Server(process, port, stdout, stderr)


def wait_until_ready(server: Server) -> None:
    """Until /readyz says ready (every database it uses answers); fails if it exits first."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            time.sleep(0.5)  # for the threads to collect what it said last
            raise AssertionError(
                f"serve exited with {server.process.returncode}:\n{server.stderr.text}"
            )
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(f"{server.base}/readyz", timeout=2).status_code == 200:
                return
        time.sleep(0.1)
    raise AssertionError(f"the server was never ready:\n{server.stderr.text}")


def stop(server: Server) -> None:
    process = server.process
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    for stream in (process.stdout, process.stderr):
        if stream is not None:
            stream.close()


# What serve says when the port free_port() chose was taken before it could listen (other
# programs on the machine pick free ports too); the server is started again on another.
PORT_TAKEN = "is in use by another program"


@contextlib.contextmanager
def serving(directory: Path, count: int, **env: str) -> Iterator[list[Server]]:
    """`count` servers started at the same moment with the same settings, each ready."""
    servers = [start(directory, **env) for _ in range(count)]
    try:
        for index in range(count):
            for attempt in range(3):
                try:
                    wait_until_ready(servers[index])
                    break
                except AssertionError:
                    if PORT_TAKEN not in servers[index].stderr.text or attempt == 2:
                        raise
                    stop(servers[index])
                    servers[index] = start(directory, **env)
        yield servers
    finally:
        for server in servers:
            stop(server)


def create_user(database_url: str, directory: Path, workspace: str, email: str) -> str:
    """An ADMIN of `workspace` made by `contacts-server create-user`; its API token."""
    ran = run_command(
        sys.executable, "-m", "server.cli", "--database-url", database_url, "create-user",
        "--workspace", workspace, "--email", email, "--name", email.split("@")[0],
        "--role", "admin",
        cwd=directory,
    )  # fmt: skip
    assert ran.code == 0, ran.stderr
    return ran.stdout.strip().splitlines()[-1]
