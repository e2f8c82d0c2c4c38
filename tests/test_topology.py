"""docker-compose.yml's topology without Docker: one PostgreSQL (a fresh database on the
suite's server), one real `redis-server`, and two `contacts-server serve` processes on
loopback, started at the same moment on the empty database.

Both migrate under the migration lock (one applies, the other finds nothing to do), and
then any request may go to either: a write through one is read through the other at once,
and a token's rate limit is one for both.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from pgcluster import database_on_server
from redis_server import redis_server
from serving import Server, create_user, serving

pytestmark = pytest.mark.postgres_only

LIMIT = 10
CREATE = """
mutation Create($name: String!) {
  createContact(input: {firstName: $name}) {
    __typename
    ... on ContactCreated { contact { id firstName } }
  }
}
"""
READ = "query Read($id: ID!) { contact(id: $id) { firstName lastName } }"
RENAME = """
mutation Rename($id: ID!, $last: String!) {
  updateContact(input: {id: $id, patch: {lastName: $last}}) {
    __typename ... on ContactUpdated { contact { lastName } }
  }
}
"""
VIEWER = "{ viewer { email } }"


@dataclass
class Topology:
    database_url: str
    servers: list[Server]
    directory: Path

    def user(self, workspace: str) -> str:
        return create_user(self.database_url, self.directory, workspace, f"ada@{workspace}.test")


@pytest.fixture(scope="module")
def topology(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Topology]:
    directory = tmp_path_factory.mktemp("topology")
    # The suite's server, a database of its own: empty, so that both servers find
    # migrations to apply as they start.
    with (
        database_on_server(database_url) as fresh,
        redis_server() as redis,
        serving(
            directory,
            2,
            DATABASE_URL=fresh,
            RATE_LIMIT_STORAGE=redis.url,
            RATE_LIMIT_PER_MINUTE=str(LIMIT),
            RATE_LIMIT_BURST=str(LIMIT),
        ) as servers,
    ):
        yield Topology(fresh, servers, directory)


def migrations_said(server: Server) -> str:
    """What serve said of the migrations, before it served."""
    said = [line for line in server.stdout.lines if re.match(r"(Applied|The database)", line)]
    assert len(said) == 1, server.stdout.text
    return said[0]


def test_both_servers_started_together_on_an_empty_database_and_one_of_them_migrated(
    topology: Topology,
) -> None:
    said = sorted(migrations_said(server) for server in topology.servers)
    assert re.fullmatch(r"Applied 4 migration\(s\): 0001_initial, .*\.", said[0]), said
    assert said[1] == "The database is up to date: no migration to apply."


def test_a_write_through_either_server_is_read_through_the_other_at_once(
    topology: Topology,
) -> None:
    first, second = topology.servers
    token = topology.user("Either")
    created = first.data(token, CREATE, {"name": "Ada"})["createContact"]
    assert created["__typename"] == "ContactCreated"
    contact_id = created["contact"]["id"]
    assert second.data(token, READ, {"id": contact_id}) == {
        "contact": {"firstName": "Ada", "lastName": None}
    }
    renamed = second.data(token, RENAME, {"id": contact_id, "last": "Lovelace"})
    assert renamed == {
        "updateContact": {"__typename": "ContactUpdated", "contact": {"lastName": "Lovelace"}}
    }
    assert first.data(token, READ, {"id": contact_id}) == {
        "contact": {"firstName": "Ada", "lastName": "Lovelace"}
    }


def test_one_tokens_rate_limit_is_shared_by_both_servers(topology: Topology) -> None:
    first, second = topology.servers
    token = topology.user("Limited")
    answers = [(first if n % 2 else second).post(token, VIEWER) for n in range(LIMIT)]
    assert [answer.status_code for answer in answers] == [200] * LIMIT
    assert [answer.headers["RateLimit-Remaining"] for answer in answers] == [
        str(LIMIT - 1 - n) for n in range(LIMIT)
    ]
    for server in (first, second):
        refused = server.post(token, VIEWER)
        assert refused.status_code == 429
        assert refused.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
