"""A real `contacts-server serve --demo` in a subprocess, on its own fresh SQLite file.

For tests that use the server from outside, as a person or a script does (the example
scripts, the playground in a browser). The server's database is its own, whatever the
suite's --db: these tests run the same in both passes.
"""

from __future__ import annotations

import contextlib
import os
import queue
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
START_TIMEOUT = 60.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def project_environment(**extra: str) -> dict[str, str]:
    """This process's environment with the project importable and no database settings."""
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "CONTACTS_TOKEN"}}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    env.update(extra)
    return env


@dataclass
class Output:
    """Everything a stream printed, collected by a thread so that the pipe never fills."""

    lines: list[str] = field(default_factory=list)
    fresh: queue.Queue[str | None] = field(default_factory=queue.Queue)

    def drain(self, stream: IO[str]) -> None:
        for line in stream:
            self.lines.append(line.rstrip("\n"))
            self.fresh.put(line.rstrip("\n"))
        self.fresh.put(None)

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


@dataclass
class DemoServer:
    process: subprocess.Popen[str]
    database: Path
    port: int
    token: str
    stdout: Output
    stderr: Output

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/graphql"

    @property
    def database_url(self) -> str:
        return f"sqlite://{self.database}"

    def graphql(
        self, query: str, variables: dict[str, Any] | None = None, *, token: str | None = None
    ) -> dict[str, Any]:
        """The data of a successful operation; fails the test on any error."""
        response = httpx.post(
            self.url,
            json={"query": query, "variables": variables or {}},
            headers={"Authorization": f"Bearer {token or self.token}"},
            timeout=30,
        )
        body = response.json()
        assert response.status_code == 200, body
        assert "errors" not in body, body["errors"]
        data: dict[str, Any] = body["data"]
        return data

    def sql(self, statement: str, parameters: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Run SQL on the server's database file (committed at once)."""
        with contextlib.closing(sqlite3.connect(self.database, timeout=30)) as connection:
            rows = connection.execute(statement, parameters).fetchall()
            connection.commit()
        return rows


def _wait_for_token(server: subprocess.Popen[str], stdout: Output, stderr: Output) -> str:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        try:
            line = stdout.fresh.get(timeout=0.5)
        except queue.Empty:
            continue
        if line is None:
            break
        if line.startswith("cs_"):
            return line
    raise AssertionError(
        f"`serve --demo` printed no token (exit code {server.poll()}):\n"
        f"{stdout.text}\n{stderr.text}"
    )


def _wait_until_healthy(port: int, server: subprocess.Popen[str], stderr: Output) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if server.poll() is not None:
            break
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                return
        time.sleep(0.1)
    raise AssertionError(f"the server never answered /healthz:\n{stderr.text}")


@contextlib.contextmanager
def demo_server(directory: Path, **env: str) -> Iterator[DemoServer]:
    """Start `serve --demo` on a fresh SQLite file in `directory`; stop it afterwards."""
    database = directory / "demo.sqlite3"
    port = free_port()
    environment = project_environment(
        **{"LOG_LEVEL": "WARNING", "ENVIRONMENT": "development", "PYTHONUNBUFFERED": "1", **env}
    )
    process = subprocess.Popen(  # noqa: S603 (our own command line)
        [sys.executable, "-m", "server.cli", "--database-url", f"sqlite://{database}",
         "serve", "--demo", "--port", str(port)],
        cwd=directory,  # no .env of the project's
        env=environment,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    stdout, stderr = Output(), Output()
    assert process.stdout is not None
    assert process.stderr is not None
    threads = [
        threading.Thread(target=stdout.drain, args=(process.stdout,), daemon=True),
        threading.Thread(target=stderr.drain, args=(process.stderr,), daemon=True),
    ]
    for thread in threads:
        thread.start()
    try:
        token = _wait_for_token(process, stdout, stderr)
        _wait_until_healthy(port, process, stderr)
        yield DemoServer(process, database, port, token, stdout, stderr)
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for thread in threads:
            thread.join(timeout=5)
        process.stdout.close()
        process.stderr.close()


@dataclass
class Ran:
    code: int
    stdout: str
    stderr: str


def run_command(
    *args: str | Path,
    cwd: Path,
    env: dict[str, str] | None = None,
    stdin: str | None = None,
    timeout: float = 60,
) -> Ran:
    """Run a command to completion (the project importable, no CONTACTS_TOKEN unless given)."""
    done = subprocess.run(  # noqa: S603 (our own command lines)
        [str(arg) for arg in args],
        cwd=cwd,
        env=project_environment(**(env or {})),
        input=stdin if stdin is not None else "",
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return Ran(done.returncode, done.stdout, done.stderr)
