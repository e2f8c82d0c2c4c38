"""One rate limit for every process: real `contacts-server serve` processes sharing a real
redis-server (RATE_LIMIT_STORAGE=redis://...), the per-process default, and failing open
when Redis goes away."""

from __future__ import annotations

import contextlib
import json
import secrets
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from conftest import World, count_statements
from demo_server import Output, free_port, project_environment
from redis_server import RedisServer, redis_server

from server.app import create_app
from server.ratelimit import token_key
from server.settings import Environment, Settings

START_TIMEOUT = 60.0
# A window of 10 requests per 60 s: nothing ages out while a test runs.
LIMIT = 10
LIMITED = {"RATE_LIMIT_PER_MINUTE": str(LIMIT), "RATE_LIMIT_BURST": str(LIMIT)}
QUERY = {"query": "{ viewer { name } }"}
STORAGE_ERRORS = "contacts_rate_limit_storage_errors_total"


@dataclass
class Server:
    process: subprocess.Popen[str]
    port: int
    stderr: Output

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def post(self, token: str) -> httpx.Response:
        return httpx.post(
            f"{self.base}/graphql",
            json=QUERY,
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )

    def metric(self, name: str) -> float:
        text = httpx.get(f"{self.base}/metrics", timeout=10).text
        for line in text.splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
        raise AssertionError(f"{name} is not in /metrics:\n{text}")

    def warnings(self, logger: str) -> list[dict[str, str]]:
        entries = []
        for line in self.stderr.lines:
            with contextlib.suppress(ValueError):
                entry = json.loads(line)
                if entry.get("logger") == logger and entry.get("level") == "WARNING":
                    entries.append(entry)
        return entries


def _wait_until_healthy(server: Server) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            break
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(f"{server.base}/healthz", timeout=2).status_code == 200:
                return
        time.sleep(0.1)
    raise AssertionError(f"the server never answered /healthz:\n{server.stderr.text}")


def _start(database_url: str, directory: Path, env: dict[str, str], args: list[str]) -> Server:
    port = free_port()
    environment = project_environment(
        ENVIRONMENT="production", LOG_LEVEL="WARNING", PYTHONUNBUFFERED="1", **env
    )
    process = subprocess.Popen(  # noqa: S603 (our own command line)
        [sys.executable, "-m", "server.cli", "--database-url", database_url,
         "serve", "--port", str(port), *args],
        cwd=directory,  # no .env of the project's
        env=environment,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    assert process.stderr is not None
    stderr = Output()
    threading.Thread(target=stderr.drain, args=(process.stderr,), daemon=True).start()
    return Server(process, port, stderr)


def _stop(server: Server) -> None:
    process = server.process
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    if process.stderr is not None:
        process.stderr.close()


@contextlib.contextmanager
def serving(
    database_url: str, directory: Path, count: int, *args: str, **env: str
) -> Iterator[list[Server]]:
    """`count` `contacts-server serve` processes on the suite's (migrated) database, started
    together, with `env` as their settings and `args` after `serve`; terminated afterwards."""
    servers = [_start(database_url, directory, env, list(args)) for _ in range(count)]
    try:
        for server in servers:
            _wait_until_healthy(server)
        yield servers
    finally:
        for server in servers:
            _stop(server)


@pytest.fixture
def redis() -> Iterator[RedisServer]:
    with redis_server() as server:
        yield server


@pytest.fixture(scope="module")
def two_servers(
    database: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Server, Server]]:
    """Two servers sharing one Redis, for the tests that leave Redis running. Each test has
    tokens of its own (a fresh world), so windows never carry over from one to the next."""
    directory = tmp_path_factory.mktemp("servers")
    with (
        redis_server() as redis,
        serving(database, directory, 2, RATE_LIMIT_STORAGE=redis.url, **LIMITED) as servers,
    ):
        first, second = servers
        yield first, second


def test_two_servers_sharing_redis_let_a_token_through_exactly_the_limit(
    world: World, two_servers: tuple[Server, Server]
) -> None:
    first, second = two_servers
    token = world.member.token
    answers = [(first if n % 2 else second).post(token) for n in range(LIMIT)]
    assert [a.status_code for a in answers] == [200] * LIMIT
    assert [a.headers["RateLimit-Remaining"] for a in answers] == [
        str(LIMIT - n) for n in range(1, LIMIT + 1)
    ]
    assert {a.headers["RateLimit-Limit"] for a in answers} == {str(LIMIT)}
    assert {a.headers["RateLimit-Policy"] for a in answers} == {f"{LIMIT};w=60"}

    for server in (first, second):
        refused = server.post(token)
        assert refused.status_code == 429
        assert 1 <= int(refused.headers["Retry-After"]) <= 60
        assert refused.headers["RateLimit-Remaining"] == "0"
        assert refused.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"

    # Another token has a window of its own, on either server.
    assert first.post(world.admin.token).status_code == 200
    assert second.post(world.admin.token).headers["RateLimit-Remaining"] == str(LIMIT - 2)


def test_one_server_with_two_workers_lets_a_token_through_exactly_the_limit(
    world: World, redis: RedisServer, database: str, tmp_path: Path
) -> None:
    # However the kernel spreads the connections over the workers, they count in one Redis.
    env = {"RATE_LIMIT_STORAGE": redis.url, **LIMITED}
    with serving(database, tmp_path, 1, "--workers", "2", **env) as (server,):
        statuses = [server.post(world.member.token).status_code for _ in range(LIMIT + 2)]
    assert statuses == [200] * LIMIT + [429, 429]


def test_a_token_is_limited_before_it_is_authenticated(
    two_servers: tuple[Server, Server],
) -> None:
    first, second = two_servers
    unknown = "cs_" + secrets.token_urlsafe(32)
    statuses = [(first if n % 2 else second).post(unknown).status_code for n in range(LIMIT)]
    assert statuses == [401] * LIMIT
    assert first.post(unknown).status_code == 429
    assert second.post(unknown).status_code == 429


def test_the_default_memory_storage_counts_in_each_process(
    database: str, world: World, tmp_path: Path
) -> None:
    with serving(database, tmp_path, 2, **LIMITED) as (first, second):
        token = world.member.token
        statuses = [(first if n % 2 else second).post(token).status_code for n in range(2 * LIMIT)]
        assert statuses == [200] * (2 * LIMIT)
        assert first.post(token).status_code == 429
        assert second.post(token).status_code == 429


def test_with_redis_gone_requests_are_served_counted_and_warned_about_once(
    world: World, redis: RedisServer, database: str, tmp_path: Path
) -> None:
    token = world.member.token
    with serving(database, tmp_path, 1, RATE_LIMIT_STORAGE=redis.url, **LIMITED) as (server,):
        assert [server.post(token).status_code for _ in range(3)] == [200] * 3
        assert server.metric(STORAGE_ERRORS) == 0.0

        redis.stop()
        answers = [server.post(token) for _ in range(2 * LIMIT)]
        assert [a.status_code for a in answers] == [200] * (2 * LIMIT)  # fail open
        assert all("RateLimit-Remaining" not in a.headers for a in answers)
        assert server.metric(STORAGE_ERRORS) == 2 * LIMIT
        warnings = server.warnings("contacts_server.ratelimit")
        assert len(warnings) == 1
        assert "served without a rate limit" in warnings[0]["message"]
        assert token not in server.stderr.text
        assert token_key(token) not in server.stderr.text

        # A Redis back on the same address (empty: nothing was saved) limits again.
        redis.start()
        statuses = [server.post(token).status_code for _ in range(LIMIT + 1)]
        assert statuses == [200] * LIMIT + [429]
        assert server.metric(STORAGE_ERRORS) == 2 * LIMIT
        assert len(server.warnings("contacts_server.ratelimit")) == 1


async def test_a_refusal_from_redis_runs_no_sql(
    world: World, redis: RedisServer, database: str
) -> None:
    settings = Settings(
        database_url=database,
        environment=Environment.TEST,
        rate_limit_per_minute=60,
        rate_limit_burst=2,
        rate_limit_storage=redis.url,
    )
    app = create_app(settings, manage_database=False)
    headers = {"Authorization": f"Bearer {world.member.token}"}
    transport = httpx.ASGITransport(app=app)
    # The lifespan closes the limiter's connections to Redis when the app stops.
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://test") as http,
    ):
        for _ in range(2):
            assert (await http.post("/graphql", json=QUERY, headers=headers)).status_code == 200
        with count_statements() as log:
            refused = await http.post("/graphql", json=QUERY, headers=headers)
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "2"
    assert log.statements == []
