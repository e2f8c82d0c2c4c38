"""Faults: a failure inside a mutation leaves nothing half-done; readiness follows the
database; no answer ever carries a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from conftest import GraphQL, World, gid
from pgcluster import RunningCluster, _free_port, restartable_cluster

from server import db, lifecycle
from server.models import AuditEntry, Contact
from server.policy import ContactStatus

ROOT = Path(__file__).resolve().parents[1]
ARCHIVE = """mutation($ids: [ID!]) { archiveContacts(input: {selection: {ids: $ids}}) {
  succeeded } }"""


async def test_a_failure_after_the_update_rolls_the_whole_mutation_back(
    world: World, gql: GraphQL, monkeypatch: pytest.MonkeyPatch
) -> None:
    contacts = [await world.contact(f"P{n}", "Q") for n in range(3)]

    async def fail(*args: object, **kwargs: object) -> None:
        raise ConnectionResetError("the database went away")

    monkeypatch.setattr(lifecycle, "_record", fail)
    response = await gql.raw(ARCHIVE, {"ids": [gid(c) for c in contacts]}, world.member.token)
    body = response.json()
    assert body["errors"][0]["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    assert "went away" not in response.text
    for contact in contacts:
        again = await Contact.get(id=contact.id)
        assert (again.status, again.archived_at) == (ContactStatus.ACTIVE, None)
    assert await AuditEntry.all().count() == 0


@pytest.mark.postgres_only
async def test_a_connection_killed_mid_mutation_rolls_back_and_the_server_carries_on(
    world: World, gql: GraphQL, monkeypatch: pytest.MonkeyPatch
) -> None:
    contacts = [await world.contact(f"P{n}", "Q") for n in range(3)]
    record = lifecycle._record

    async def die(*args: object, **kwargs: object) -> None:
        # Inside the mutation's transaction: the server closes this very connection.
        await db.connection().execute_query("SELECT pg_terminate_backend(pg_backend_pid())")

    monkeypatch.setattr(lifecycle, "_record", die)
    response = await gql.raw(ARCHIVE, {"ids": [gid(c) for c in contacts]}, world.member.token)
    assert response.json()["errors"][0]["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    for contact in contacts:
        assert (await Contact.get(id=contact.id)).status is ContactStatus.ACTIVE

    monkeypatch.setattr(lifecycle, "_record", record)
    data = await gql(ARCHIVE, {"ids": [gid(c) for c in contacts]}, as_=world.member)
    assert data["archiveContacts"]["succeeded"] == 3


@pytest.fixture
def away_cluster() -> Iterator[RunningCluster]:
    with restartable_cluster() as cluster:
        yield cluster


def _wait_for(url: str, status: int, seconds: float = 20.0) -> httpx.Response:
    deadline = time.monotonic() + seconds
    last: httpx.Response | None = None
    while time.monotonic() < deadline:
        try:
            last = httpx.get(url, timeout=2.0)
            if last.status_code == status:
                return last
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{url} did not answer {status} (last: {last})")


@pytest.mark.postgres_only
def test_readiness_says_503_while_the_database_is_away_and_recovers_by_itself(
    away_cluster: RunningCluster,
) -> None:
    env = {**os.environ, "DATABASE_URL": away_cluster.url, "ENVIRONMENT": "production"}
    migrate = (
        f"import asyncio; from server import db; asyncio.run(db.migrate({away_cluster.url!r}))"
    )
    subprocess.run(  # noqa: S603 (our own interpreter and module)
        [sys.executable, "-c", migrate], check=True, env=env, cwd=ROOT, timeout=60
    )
    port = _free_port()
    server = subprocess.Popen(  # noqa: S603 (our own interpreter and module)
        [
            sys.executable,
            "-m",
            "uvicorn",
            "server.app:create_app",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_for(f"{base}/readyz", 200)
        away_cluster.stop()
        away = _wait_for(f"{base}/readyz", 503)
        assert "Traceback" not in away.text
        assert httpx.get(f"{base}/healthz", timeout=2.0).status_code == 200
        answer = httpx.post(
            f"{base}/graphql",
            json={"query": "{ viewer { name } }"},
            headers={"Authorization": "Bearer cs_unknown"},
            timeout=5.0,
        )
        assert "Traceback" not in answer.text
        assert "asyncpg" not in answer.text
        # JSON with a code, and the connection stays usable: the second request on it is
        # answered too (a dropped connection would fail it).
        with httpx.Client(base_url=base, timeout=5.0) as client:
            for _ in range(2):
                refused = client.post(
                    "/graphql",
                    json={"query": "{ viewer { name } }"},
                    headers={"Authorization": "Bearer cs_unknown"},
                )
                assert refused.status_code == 503
                assert refused.headers["retry-after"] == "5"
                assert refused.headers.get("connection") != "close"
                assert [e["extensions"]["code"] for e in refused.json()["errors"]] == [
                    "SERVICE_UNAVAILABLE"
                ]
        away_cluster.start()
        _wait_for(f"{base}/readyz", 200)
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=5)
