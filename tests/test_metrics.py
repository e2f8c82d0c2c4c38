"""/metrics of a real `serve --workers 2`: the sum over all workers, never going backwards.

Each request and scrape goes over a fresh connection, so that any worker may take it. The
server's TMPDIR is the test's own, where the shared metrics directory is looked for.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from demo_server import project_environment
from test_cli import free_port

from server.shared_metrics import PREFIX

START_TIMEOUT = 60.0
REQUESTS = 40
SCRAPES = 10
SAMPLE = re.compile(r"^contacts_http_requests_total\{(?P<labels>[^}]*)\} (?P<value>\S+)$")
HEALTHZ = 'method="GET",path="/healthz",status="200"'

pytestmark = pytest.mark.sqlite_only  # the database plays no part: once is enough


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    port: int
    tmp: Path
    log: Path

    def get(self, path: str) -> httpx.Response:
        # A client per request: a connection of its own, which any worker may accept.
        with httpx.Client(base_url=f"http://127.0.0.1:{self.port}", timeout=10) as http:
            return http.get(path)

    def shared_directories(self) -> list[Path]:
        return sorted(self.tmp.glob(f"{PREFIX}*"))


@contextlib.contextmanager
def serving(tmp_path: Path, *args: str) -> Iterator[Server]:
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    port = free_port()
    log = tmp_path / "serve.log"
    url = f"sqlite://{tmp_path / 'contacts.sqlite3'}"
    with log.open("wb") as output:
        process = subprocess.Popen(  # noqa: S603 (our own command line)
            [sys.executable, "-m", "server.cli", "--database-url", url,
             "serve", "--port", str(port), *args],
            cwd=tmp_path, env=project_environment(TMPDIR=str(tmp), LOG_LEVEL="WARNING"),
            stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT,
        )  # fmt: skip
    server = Server(process, port, tmp, log)
    try:
        wait_until_ready(server)
        yield server
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=45)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def wait_until_ready(server: Server) -> None:
    # /readyz, not /healthz: the requests the tests count are their own.
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline and server.process.poll() is None:
        with contextlib.suppress(httpx.TransportError):
            if server.get("/readyz").status_code == 200:
                return
        time.sleep(0.1)
    raise AssertionError(f"serve never became ready:\n{server.log.read_text()}")


def request_counts(exposition: str) -> dict[str, float]:
    """contacts_http_requests_total per label set."""
    counts: dict[str, float] = {}
    for line in exposition.splitlines():
        if match := SAMPLE.match(line):
            counts[match["labels"]] = counts.get(match["labels"], 0.0) + float(match["value"])
    return counts


def workers_of(server: Server) -> list[int]:
    """The pids of uvicorn's workers: the children it started with multiprocessing's spawn."""
    parent = server.process.pid
    children = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
    return [
        int(pid) for pid in children if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()
    ]


def counter_file(directory: Path, pid: int) -> Path:
    # prometheus_client names each process's files <type>_<pid>.db.
    return directory / f"counter_{pid}.db"


def test_metrics_under_two_workers_sum_every_worker_and_never_go_backwards(
    tmp_path: Path,
) -> None:
    with serving(tmp_path, "--workers", "2") as server:
        (directory,) = server.shared_directories()
        for _ in range(REQUESTS):
            assert server.get("/healthz").status_code == 200
        # Both workers took some: the sum below is one of two processes' counts.
        writers = [pid for pid in workers_of(server) if counter_file(directory, pid).exists()]
        assert len(writers) == 2, writers

        scrapes = [request_counts(server.get("/metrics").text) for _ in range(SCRAPES)]
        assert server.shared_directories() == [directory]

    assert [scrape.get(HEALTHZ) for scrape in scrapes] == [float(REQUESTS)] * SCRAPES
    totals = [sum(scrape.values()) for scrape in scrapes]
    assert totals == sorted(totals)
    assert totals[0] >= REQUESTS
    assert server.process.returncode == 0, server.log.read_text()
    assert server.shared_directories() == []


def test_metrics_keep_the_counts_of_a_worker_killed_and_replaced(tmp_path: Path) -> None:
    with serving(tmp_path, "--workers", "2") as server:
        (directory,) = server.shared_directories()
        for _ in range(REQUESTS):
            assert server.get("/healthz").status_code == 200
        before = workers_of(server)
        assert len(before) == 2
        # One that has counted something, so that there are counts to lose.
        victim = next(pid for pid in before if counter_file(directory, pid).exists())
        os.kill(victim, signal.SIGKILL)
        deadline = time.monotonic() + START_TIMEOUT
        while len(now := workers_of(server)) < 2 or victim in now:
            assert time.monotonic() < deadline, f"uvicorn started no new worker: {now}"
            time.sleep(0.1)
        wait_until_ready(server)

        scrapes = [request_counts(server.get("/metrics").text) for _ in range(SCRAPES)]
        assert counter_file(directory, victim).exists()

    # Its counts were in the sum before it died, and stay there: nothing goes backwards.
    assert [scrape.get(HEALTHZ) for scrape in scrapes] == [float(REQUESTS)] * SCRAPES
    assert server.shared_directories() == []


def test_metrics_of_a_single_process_need_no_shared_directory(tmp_path: Path) -> None:
    with serving(tmp_path) as server:
        for _ in range(3):
            assert server.get("/healthz").status_code == 200
        counts = request_counts(server.get("/metrics").text)
        assert server.shared_directories() == []

    assert counts[HEALTHZ] == 3.0
