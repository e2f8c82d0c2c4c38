"""Reads from a streaming replica (DATABASE_READ_URL): a real `serve` process on a primary
and a real hot standby made from it with `pg_basebackup -R`.

A query reads from the standby, which the tests show by pausing its replay: what the primary
wrote since stays out of a query's answer, and is in a mutation's. Nothing the server does
writes to the standby: it would refuse (`cannot execute ... in a read-only transaction`),
and its log and the server's would say so.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pgcluster import HotStandby, RunningCluster, connect, hot_standby, restartable_cluster
from pydantic import ValidationError
from serving import Server, create_user, serving

from server.settings import Settings

CREATE = """
mutation Create($name: String!) {
  createContact(input: {firstName: $name}) {
    __typename
    ... on ContactCreated { contact { id firstName } }
  }
}
"""
TOTAL = "{ contacts { totalCount } }"
COUNTS = "{ audiences { kind contactCount } }"
VIEWER = "{ viewer { email } }"
READ_ONLY = "read-only transaction"


@dataclass
class Replicated:
    primary: RunningCluster
    standby: HotStandby
    server: Server
    directory: Path

    def user(self) -> tuple[str, str]:
        """An ADMIN of a workspace of its own, made on the primary: (token, email)."""
        workspace = f"w-{secrets.token_hex(4)}"
        email = f"ada@{workspace}.test"
        return create_user(self.primary.url, self.directory, workspace, email), email


@pytest.fixture(scope="module")
def replicated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Replicated]:
    directory = tmp_path_factory.mktemp("replica")
    with restartable_cluster() as primary, hot_standby(primary) as standby:
        env = {
            "DATABASE_URL": primary.url,
            "DATABASE_READ_URL": standby.url,
            "RATE_LIMIT_PER_MINUTE": "0",
        }
        # serve migrates the empty primary (never the standby, which would refuse).
        with serving(directory, 1, **env) as (server,):
            yield Replicated(primary, standby, server, directory)
        assert READ_ONLY not in server.stderr.text
        assert READ_ONLY not in standby.log()


async def sql(url: str, statement: str, *arguments: Any) -> list[Any]:
    connection = await connect(url)
    try:
        return list(await connection.fetch(statement, *arguments))
    finally:
        await connection.close()


async def caught_up(replicated: Replicated) -> None:
    """Until the standby has replayed everything the primary has written so far."""
    # The insert position: with synchronous_commit=off (the suite's cluster) a commit may not
    # be written, let alone sent, yet; the WAL writer sends it within a second.
    rows = await sql(replicated.primary.url, "SELECT pg_current_wal_insert_lsn()::text")
    target = rows[0][0]
    for _ in range(300):
        rows = await sql(
            replicated.standby.url, "SELECT pg_last_wal_replay_lsn() >= $1::text::pg_lsn", target
        )
        if rows[0][0]:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"the standby never replayed up to {target}")


@contextlib.asynccontextmanager
async def replay_paused(replicated: Replicated) -> AsyncIterator[None]:
    """The standby replays nothing of what the primary writes within (then catches up)."""
    await caught_up(replicated)
    await sql(replicated.standby.url, "SELECT pg_wal_replay_pause()")
    try:
        for _ in range(100):
            state = await sql(replicated.standby.url, "SELECT pg_get_wal_replay_pause_state()")
            if state[0][0] == "paused":
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("the standby's replay never paused")
        yield
    finally:
        await sql(replicated.standby.url, "SELECT pg_wal_replay_resume()")
    await caught_up(replicated)


@pytest.mark.postgres_only
async def test_serve_starts_and_is_ready_with_a_hot_standby_as_its_read_replica(
    replicated: Replicated,
) -> None:
    assert await sql(replicated.standby.url, "SELECT pg_is_in_recovery()") == [(True,)]
    token, email = replicated.user()
    await caught_up(replicated)
    assert replicated.server.data(token, VIEWER) == {"viewer": {"email": email}}


@pytest.mark.postgres_only
async def test_a_token_not_used_for_an_hour_reads_its_viewer_and_its_use_is_written_on_the_primary(
    replicated: Replicated,
) -> None:
    token, email = replicated.user()
    await sql(
        replicated.primary.url,
        "UPDATE api_token SET last_used_at = now() - interval '1 hour'",
    )
    await caught_up(replicated)
    assert replicated.server.data(token, VIEWER) == {"viewer": {"email": email}}
    rows = await sql(
        replicated.primary.url,
        "SELECT count(*) FROM api_token t JOIN app_user u ON u.id = t.user_id "
        "WHERE u.email = $1 AND t.last_used_at > now() - interval '1 minute'",
        email,
    )
    assert rows == [(1,)]


@pytest.mark.postgres_only
async def test_audience_counts_read_from_the_replica_sum_more_than_64_tally_rows(
    replicated: Replicated,
) -> None:
    token, email = replicated.user()
    for n in range(70):
        created = replicated.server.data(token, CREATE, {"name": f"P{n}"})
        assert created["createContact"]["__typename"] == "ContactCreated"
    await caught_up(replicated)
    workspace = "SELECT workspace_id FROM app_user WHERE email = $1"
    tally_rows = f"SELECT count(*) FROM contact_tally WHERE workspace_id = ({workspace})"  # noqa: S608
    assert await sql(replicated.standby.url, tally_rows, email) == [(70,)]
    counts = replicated.server.data(token, COUNTS)["audiences"]
    assert counts == [
        {"kind": "MY_PEOPLE", "contactCount": 70},
        {"kind": "ARCHIVED_PEOPLE", "contactCount": 0},
        {"kind": "ALL_PEOPLE", "contactCount": 70},
    ]
    # The read folded the tally, on the primary: one row for the one status.
    assert await sql(replicated.primary.url, tally_rows, email) == [(1,)]
    await caught_up(replicated)
    assert replicated.server.data(token, COUNTS)["audiences"] == counts


@pytest.mark.postgres_only
async def test_while_the_replica_lags_a_query_misses_a_new_write_that_a_mutation_sees(
    replicated: Replicated,
) -> None:
    token, _ = replicated.user()
    await caught_up(replicated)
    async with replay_paused(replicated):
        created = replicated.server.data(token, CREATE, {"name": "Grace"})
        # The mutation's own payload: read on the primary, within the mutation.
        assert created["createContact"]["contact"]["firstName"] == "Grace"
        contact_id = created["createContact"]["contact"]["id"]
        # A query reads from the standby, which has not replayed the new contact yet,
        # whether it is POSTed or sent with GET.
        assert replicated.server.data(token, TOTAL) == {"contacts": {"totalCount": 0}}
        got = replicated.server.get(token, TOTAL)
        assert got.json() == {"data": {"contacts": {"totalCount": 0}}}
        read = "query Read($id: ID!) { contact(id: $id) { firstName } }"
        assert replicated.server.data(token, read, {"id": contact_id}) == {"contact": None}
        # A second mutation reads on the primary too: it finds the contact the first made.
        update = """
        mutation Rename($id: ID!) {
          updateContact(input: {id: $id, patch: {lastName: "Hopper"}}) {
            __typename ... on ContactUpdated { contact { firstName lastName } }
          }
        }
        """
        renamed = replicated.server.data(token, update, {"id": contact_id})
        assert renamed == {
            "updateContact": {
                "__typename": "ContactUpdated",
                "contact": {"firstName": "Grace", "lastName": "Hopper"},
            }
        }
    # Replayed: the query sees it.
    assert replicated.server.data(token, TOTAL) == {"contacts": {"totalCount": 1}}
    assert replicated.server.data(token, read, {"id": contact_id}) == {
        "contact": {"firstName": "Grace"}
    }


@pytest.mark.postgres_only
async def test_while_the_replica_lags_a_pages_tags_come_from_the_replica_like_its_contacts(
    replicated: Replicated,
) -> None:
    # The tags are read by a DataLoader, in a task of its own: it must read where the
    # request reads.
    token, _ = replicated.user()
    created = replicated.server.data(token, CREATE, {"name": "Tagged"})
    contact_id = created["createContact"]["contact"]["id"]
    tag = """
    mutation Tag($id: ID!, $tags: [String!]!) {
      updateContact(input: {id: $id, patch: {tagNames: $tags}}) {
        __typename ... on ContactUpdated { contact { tags { name } } }
      }
    }
    """
    replicated.server.data(token, tag, {"id": contact_id, "tags": ["old"]})
    page = "{ contacts { edges { node { firstName tags { name } } } } }"
    before = {"contacts": {"edges": [{"node": {"firstName": "Tagged", "tags": [{"name": "old"}]}}]}}
    await caught_up(replicated)
    assert replicated.server.data(token, page) == before
    async with replay_paused(replicated):
        retagged = replicated.server.data(token, tag, {"id": contact_id, "tags": ["new"]})
        assert retagged["updateContact"]["contact"]["tags"] == [{"name": "new"}]
        assert replicated.server.data(token, page) == before
    after = {"contacts": {"edges": [{"node": {"firstName": "Tagged", "tags": [{"name": "new"}]}}]}}
    assert replicated.server.data(token, page) == after


@pytest.mark.postgres_only
async def test_a_document_of_two_mutation_fields_commits_both_on_the_primary(
    replicated: Replicated,
) -> None:
    # Its fields run in one transaction (schema/permissions_first.py's AllOrNothing), which
    # must name the primary among the two connections.
    token, _ = replicated.user()
    both = """
    mutation Both {
      a: createContact(input: {firstName: "A"}) { __typename }
      b: createContact(input: {firstName: "B"}) { __typename }
    }
    """
    assert replicated.server.data(token, both) == {
        "a": {"__typename": "ContactCreated"},
        "b": {"__typename": "ContactCreated"},
    }
    await caught_up(replicated)
    assert replicated.server.data(token, TOTAL) == {"contacts": {"totalCount": 2}}


@pytest.mark.postgres_only
async def test_a_token_issued_while_the_replica_lags_is_accepted_at_once(
    replicated: Replicated,
) -> None:
    async with replay_paused(replicated):
        token, email = replicated.user()
        # Unknown to the standby, so looked up on the primary.
        assert replicated.server.data(token, VIEWER) == {"viewer": {"email": email}}


@pytest.mark.postgres_only
async def test_a_token_revoked_while_the_replica_lags_can_no_longer_write_but_still_reads(
    replicated: Replicated,
) -> None:
    token, email = replicated.user()
    await caught_up(replicated)
    async with replay_paused(replicated):
        await sql(
            replicated.primary.url,
            "UPDATE api_token SET revoked_at = now() WHERE user_id = "
            "(SELECT id FROM app_user WHERE email = $1)",
            email,
        )
        refused = replicated.server.post(token, CREATE, {"name": "Late"})
        assert refused.status_code == 401
        assert refused.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
        # The lag documented in docs/operations.md: a query, read from the replica, still
        # sees the token until the revocation is replayed.
        assert replicated.server.data(token, VIEWER) == {"viewer": {"email": email}}
    assert replicated.server.post(token, VIEWER).status_code == 401


@pytest.mark.postgres_only
async def test_a_mixed_workload_from_four_clients_is_answered_without_one_write_to_the_replica(
    replicated: Replicated,
) -> None:
    token, _ = replicated.user()
    await caught_up(replicated)
    statuses: list[int] = []
    errors: list[Any] = []

    def client(number: int) -> None:
        for n in range(20):
            for query, variables in (
                (CREATE, {"name": f"C{number}-{n}"}),
                (TOTAL, None),
                (COUNTS, None),
                (VIEWER, None),
            ):
                response = replicated.server.post(token, query, variables)
                statuses.append(response.status_code)
                errors.extend(response.json().get("errors", []))

    threads = [threading.Thread(target=client, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [200] * 320
    assert errors == []
    await caught_up(replicated)
    assert replicated.server.data(token, TOTAL) == {"contacts": {"totalCount": 80}}
    assert READ_ONLY not in replicated.server.stderr.text
    assert READ_ONLY not in replicated.standby.log()


@pytest.mark.postgres_only
async def test_with_the_replica_stopped_the_primary_serves_queries_and_mutations_alike(
    replicated: Replicated,
) -> None:
    token, email = replicated.user()
    await caught_up(replicated)
    # A standby and a server of their own: the module's go on for the other tests.
    with hot_standby(replicated.primary) as standby:
        env = {
            "DATABASE_URL": replicated.primary.url,
            "DATABASE_READ_URL": standby.url,
            "RATE_LIMIT_PER_MINUTE": "0",
        }
        with serving(replicated.directory, 1, **env) as (server,):
            assert server.data(token, VIEWER) == {"viewer": {"email": email}}
            standby.stop()
            assert server.data(token, VIEWER) == {"viewer": {"email": email}}
            created = server.data(token, CREATE, {"name": "Meanwhile"})
            assert created["createContact"]["contact"]["firstName"] == "Meanwhile"
            assert server.data(token, TOTAL) == {"contacts": {"totalCount": 1}}
            ready = server.readyz()
            assert (ready.status_code, ready.text) == (200, "ready")


def test_every_transaction_in_server_goes_through_db_transaction() -> None:
    # With a replica there are two connections, and Tortoise's `in_transaction()` without a
    # name refuses to choose; db.transaction() names the primary and keeps reads there.
    root = Path(__file__).resolve().parents[1]
    offenders = [
        str(path.relative_to(root))
        for path in sorted((root / "server").rglob("*.py"))
        # db.py's own transaction() is the one call, and names the primary.
        if "in_transaction(" in path.read_text().replace("in_transaction(PRIMARY)", "")
    ]
    assert offenders == []


def test_a_read_url_must_be_postgres() -> None:
    with pytest.raises(ValidationError, match="DATABASE_READ_URL must start with postgres://"):
        Settings(database_url="postgres://p@h/db", database_read_url="sqlite://./replica.db")


def test_a_read_url_needs_a_postgres_primary() -> None:
    with pytest.raises(ValidationError, match="DATABASE_READ_URL needs a PostgreSQL DATABASE_URL"):
        Settings(database_url="sqlite://./data.db", database_read_url="postgres://r@h/db")


def test_a_postgresql_read_url_is_read_as_postgres_and_an_empty_one_as_unset() -> None:
    settings = Settings(database_url="postgres://p@h/db", database_read_url="postgresql://r@h/db")
    assert settings.database_read_url == "postgres://r@h/db"
    unset = Settings(database_url="postgres://p@h/db", database_read_url=" ")
    assert unset.database_read_url is None
