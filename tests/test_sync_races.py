"""Racing sources never make two contacts of one person (issue #23, point 2).

Matching (source ID, else email, else phone) must hold when the requests that bring the
same new person in arrive at once. Each round sends them together, through two processes
serving the suite's database: the in-process app (on PostgreSQL, a pool of connections)
and a second server in a subprocess (on SQLite, a second writer of the same file). Every
round is a new person; every request must succeed, and the person must be one contact.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pgcluster
import pytest
from conftest import GraphQL, Person, World
from demo_server import free_port, project_environment
from sourcing import LOG, SYNC
from tortoise.transactions import in_transaction

from server import claims
from server.models import Contact, Interaction

ROOT = Path(__file__).resolve().parents[1]
ROUNDS = 20
START_TIMEOUT_S = 60.0
WHEN = "2026-03-01T10:30:00+00:00"


@pytest.fixture(scope="module")
def other_server(database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The base URL of a second server process on the suite's database."""
    port = free_port()
    log = tmp_path_factory.mktemp("other_server") / "server.log"
    env = project_environment(
        DATABASE_URL=database,
        ENVIRONMENT="test",
        RATE_LIMIT_PER_MINUTE="0",
        LOG_LEVEL="WARNING",
    )
    with log.open("w") as output:
        process = subprocess.Popen(  # noqa: S603 (our own interpreter and module)
            [sys.executable, "-m", "uvicorn", "server.app:create_app", "--factory",
             "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
            env=env,
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"the second server never got ready:\n{log.read_text()}")
            try:
                if httpx.get(f"{base}/readyz", timeout=2.0).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


@pytest.fixture
async def there(other_server: str) -> AsyncIterator[GraphQL]:
    """GraphQL through the second server process."""
    async with httpx.AsyncClient(base_url=other_server, timeout=60.0) as http:
        yield GraphQL(http)


@dataclass
class Answer:
    """One request's outcome: its data, or what went wrong."""

    data: dict[str, Any] | None
    problem: str | None


async def ask(gql: GraphQL, query: str, variables: dict[str, Any], person: Person) -> Answer:
    response = await gql.raw(query, variables, person.token)
    body = response.json()
    if response.status_code != 200 or body.get("errors"):
        errors = body.get("errors") or [{}]
        codes = ", ".join(str(e.get("extensions", {}).get("code")) for e in errors)
        return Answer(None, f"HTTP {response.status_code} {codes}")
    return Answer(body["data"], None)


async def at_once(*calls: Awaitable[Answer]) -> list[Answer]:
    return list(await asyncio.gather(*calls))


def sync_input(source: str, account: str, *rows: dict[str, Any]) -> dict[str, Any]:
    return {"input": {"source": source, "sourceAccount": account, "contacts": list(rows)}}


def log_input(email: str) -> dict[str, Any]:
    payload = {"kind": "EMAIL", "direction": "INBOUND", "occurredAt": WHEN, "email": email}
    return {"input": payload}


async def contacts_with_email(world: World, email: str) -> list[Contact]:
    rows = await Contact.filter(workspace_id=world.workspace.id)
    return [c for c in rows if email in c.emails]


def problems_of(answers: list[Answer]) -> list[str]:
    return [a.problem for a in answers if a.problem is not None]


def created_by(answers: list[Answer]) -> int:
    """How many contacts the answers say they created (syncs' counts, logged interactions')."""
    total = 0
    for answer in answers:
        assert answer.data is not None
        if "syncContacts" in answer.data:
            total += answer.data["syncContacts"]["created"]
        else:
            total += int(answer.data["logInteraction"]["contactCreated"])
    return total


def verdict(failures: list[str]) -> str:
    return f"{len(failures)} of {ROUNDS} rounds went wrong:\n" + "\n".join(failures)


async def test_two_syncs_of_one_new_source_id_at_once_make_one_contact(
    world: World, gql: GraphQL, there: GraphQL
) -> None:
    failures: list[str] = []
    for round_ in range(ROUNDS):
        external_id = f"ada-{round_}"
        answers = await at_once(
            ask(gql, SYNC, sync_input("PHONE", "Ada's phone", {
                "externalId": external_id, "firstName": "Ada"}), world.member),
            ask(there, SYNC, sync_input("PHONE", "Ada's phone", {
                "externalId": external_id, "lastName": "Lovelace"}), world.admin),
        )  # fmt: skip
        problems = problems_of(answers)
        found = await Contact.filter(workspace_id=world.workspace.id, external_id=external_id)
        if problems or len(found) != 1:
            failures.append(f"round {round_}: {len(found)} contacts; {problems}")
            continue
        assert (found[0].first_name, found[0].last_name) == ("Ada", "Lovelace")
        reports = sorted((a.data or {})["syncContacts"]["created"] for a in answers)
        assert reports == [0, 1]
    assert failures == [], verdict(failures)


async def test_a_phone_sync_and_a_mailbox_sync_of_one_new_email_at_once_make_one_contact(
    world: World, gql: GraphQL, there: GraphQL
) -> None:
    failures: list[str] = []
    for round_ in range(ROUNDS):
        email = f"grace{round_}@example.com"
        answers = await at_once(
            ask(gql, SYNC, sync_input("PHONE", "Grace's phone", {
                "externalId": f"p{round_}", "firstName": "Grace", "emails": [email]}),
                world.member),
            ask(there, SYNC, sync_input("EMAIL", "grace@work", {
                "externalId": f"m{round_}", "lastName": "Hopper",
                "emails": [email.upper()]}), world.admin),
        )  # fmt: skip
        problems = problems_of(answers)
        found = await contacts_with_email(world, email)
        if problems or len(found) != 1:
            failures.append(f"round {round_}: {len(found)} contacts; {problems}")
            continue
        assert (found[0].first_name, found[0].last_name) == ("Grace", "Hopper")
        assert created_by(answers) == 1
    assert failures == [], verdict(failures)


async def test_a_sync_and_two_logged_interactions_of_one_new_email_at_once_make_one_contact(
    world: World, gql: GraphQL, there: GraphQL
) -> None:
    failures: list[str] = []
    for round_ in range(ROUNDS):
        email = f"alan{round_}@example.com"
        answers = await at_once(
            ask(gql, SYNC, sync_input("EMAIL", "alan@work", {
                "externalId": f"a{round_}", "firstName": "Alan", "emails": [email]}),
                world.member),
            ask(gql, LOG, log_input(email), world.member),
            ask(there, LOG, log_input(email.title()), world.admin),
        )  # fmt: skip
        problems = problems_of(answers)
        found = await contacts_with_email(world, email)
        if problems or len(found) != 1:
            failures.append(f"round {round_}: {len(found)} contacts; {problems}")
            continue
        assert found[0].first_name == "Alan"
        assert created_by(answers) == 1
        assert await Interaction.filter(contact_id=found[0].id).count() == 2
    assert failures == [], verdict(failures)


async def test_two_logged_interactions_of_one_new_email_at_once_make_one_contact(
    world: World, gql: GraphQL, there: GraphQL
) -> None:
    failures: list[str] = []
    for round_ in range(ROUNDS):
        email = f"edsger{round_}@example.com"
        answers = await at_once(
            ask(gql, LOG, log_input(email), world.member),
            ask(there, LOG, log_input(email), world.admin),
        )
        problems = problems_of(answers)
        found = await contacts_with_email(world, email)
        if problems or len(found) != 1:
            failures.append(f"round {round_}: {len(found)} contacts; {problems}")
            continue
        assert created_by(answers) == 1
        assert await Interaction.filter(contact_id=found[0].id).count() == 2
    assert failures == [], verdict(failures)


# ---------------------------------------------------------------- the claims themselves


def test_a_key_has_the_same_stripe_in_every_process_and_every_version() -> None:
    # Processes claim the same stripe for a key only if they compute it alike: a change here
    # lets an old and a new server, side by side during a deploy, create duplicates again.
    assert claims.stripe((claims.EMAIL, "ada@example.com")) == 25
    assert claims.stripe((claims.PHONE, "+12025550100")) == 31
    assert claims.stripe((claims.ORIGIN, "phone", "Ada's phone", "42")) == 28


@pytest.mark.postgres_only
async def test_a_claim_of_a_full_sync_holds_one_lock_per_stripe_whatever_its_size(
    world: World,
) -> None:
    keys = [(claims.EMAIL, f"p{n}@example.com") for n in range(5_000)]
    keys += [(claims.PHONE, f"+1202555{n:04}") for n in range(5_000)]
    async with in_transaction() as connection:
        await claims.claim(connection, world.workspace.id, keys)
        _, rows = await connection.execute_query(
            "SELECT classid, objid FROM pg_locks WHERE locktype = 'advisory'"
            " AND pid = pg_backend_pid() AND granted ORDER BY classid"
        )
    held = [(int(row["classid"]), int(row["objid"])) for row in rows]
    assert held == [(claims.CLAIM_CLASS + s, world.workspace.id) for s in range(claims.STRIPES)]


async def _waiting_on_locks(holder: Any) -> int:
    count: int = await holder.fetchval(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
        " AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
    )
    return count


@pytest.mark.postgres_only
async def test_requests_that_waited_for_a_claim_match_the_contact_the_first_one_created(
    world: World, gql: GraphQL, there: GraphQL, database: str
) -> None:
    # A third connection holds every stripe of the workspace until all three requests wait
    # for it: they have read nothing yet, and each must then find the first one's contact.
    email = "barbara@example.com"
    calls = (
        ask(gql, SYNC, sync_input("PHONE", "Barbara's phone", {
            "externalId": "b", "firstName": "Barbara", "emails": [email]}), world.member),
        ask(there, SYNC, sync_input("EMAIL", "barbara@work", {
            "externalId": "b", "lastName": "Liskov", "emails": [email]}), world.admin),
        ask(gql, LOG, log_input(email), world.member),
    )  # fmt: skip
    holder = await pgcluster.connect(database)
    tasks: list[asyncio.Future[Answer]] = []
    try:
        async with holder.transaction():
            await holder.execute(
                "SELECT pg_advisory_xact_lock($1 + s, $2) FROM generate_series(0, $3 - 1) s",
                claims.CLAIM_CLASS,
                world.workspace.id,
                claims.STRIPES,
            )
            tasks = [asyncio.ensure_future(call) for call in calls]
            deadline = asyncio.get_running_loop().time() + START_TIMEOUT_S
            while await _waiting_on_locks(holder) < len(tasks):
                assert not any(t.done() for t in tasks), "a request did not wait for the claim"
                assert asyncio.get_running_loop().time() < deadline, "never waited for the claim"
                await asyncio.sleep(0.005)
    finally:
        # Released (or failed): let every request finish before judging.
        answers = list(await asyncio.gather(*tasks))
        await holder.close()
    assert problems_of(answers) == []
    found = await contacts_with_email(world, email)
    assert len(found) == 1
    assert (found[0].first_name, found[0].last_name) == ("Barbara", "Liskov")
    assert created_by(answers) == 1
    assert await Interaction.filter(contact_id=found[0].id).count() == 1
