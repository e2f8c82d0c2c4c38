"""Audience counts and totalCount: exact after every kind of change, on both databases.

On PostgreSQL they come from the tally that triggers keep (migration 0004); these tests hold
the tally to the contacts themselves, whatever changed them.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import pgcluster
import pytest
from conftest import GraphQL, StatementLog, World, count_statements, gid, make_world
from demo_server import Ran, run_command
from sourcing import CREATE, archive, delete, sync, upload
from tortoise.transactions import in_transaction

from server import db, tallies
from server.models import Contact, Workspace
from server.policy import ContactStatus, StageCategory

COUNTS = """{
  audiences { kind contactCount }
  contacts { totalCount }
  archived: contacts(filter: {status: ARCHIVED}) { totalCount }
}"""

UNARCHIVE = """mutation($ids: [ID!]) {
  unarchiveContacts(input: {selection: {ids: $ids}}) { succeeded } }"""

RENAME = """mutation($id: ID!) {
  updateContact(input: {id: $id, patch: {company: "Renamed"}}) { __typename } }"""


async def counts(gql: GraphQL, world: World) -> dict[str, int]:
    """Every count the API gives, by audience kind; fails unless the totals agree."""
    data = await gql(COUNTS, as_=world.member)
    by_kind = {row["kind"]: row["contactCount"] for row in data["audiences"]}
    assert data["contacts"]["totalCount"] == by_kind["ALL_PEOPLE"]
    assert data["archived"]["totalCount"] == by_kind["ARCHIVED_PEOPLE"]
    return by_kind


async def counted(world: World) -> dict[str, int]:
    """The same counts by counting the rows."""
    mine = Contact.filter(workspace_id=world.workspace.id)
    return {
        "MY_PEOPLE": await mine.filter(status=ContactStatus.ACTIVE).count(),
        "ARCHIVED_PEOPLE": await mine.filter(status=ContactStatus.ARCHIVED).count(),
        "ALL_PEOPLE": await mine.count(),
    }


def expected(active: int, archived: int) -> dict[str, int]:
    return {"MY_PEOPLE": active, "ARCHIVED_PEOPLE": archived, "ALL_PEOPLE": active + archived}


async def created(gql: GraphQL, world: World, name: str) -> Contact:
    data = await gql(CREATE, {"input": {"firstName": name}}, as_=world.member)
    assert data["createContact"]["__typename"] == "ContactCreated"
    return await Contact.get(workspace_id=world.workspace.id, first_name=name)


async def test_audience_counts_follow_every_change_to_the_contacts(
    gql: GraphQL, world: World, other_world: World
) -> None:
    await other_world.contact("Elsewhere", archived=True)
    assert await counts(gql, world) == expected(active=0, archived=0)

    ada, bob, cal = [await created(gql, world, name) for name in ("Ada", "Bob", "Cal")]
    assert await counts(gql, world) == expected(active=3, archived=0)

    await sync(gql, world.member, [{"externalId": "P1", "firstName": "Dee"}])
    csv = b"first_name\nEve\nFay\n"
    assert (await upload(gql.http, world.member.token, csv)).status_code == 200
    assert await counts(gql, world) == expected(active=6, archived=0)

    await archive(gql, world, ada, bob, cal)
    assert await counts(gql, world) == expected(active=3, archived=3)

    data = await gql(UNARCHIVE, {"ids": [gid(ada)]}, as_=world.member)
    assert data["unarchiveContacts"]["succeeded"] == 1
    data = await gql(RENAME, {"id": gid(ada)}, as_=world.member)
    assert data["updateContact"]["__typename"] == "ContactUpdated"
    assert await counts(gql, world) == expected(active=4, archived=2)

    await delete(gql, world, await Contact.get(id=bob.id))
    assert await counts(gql, world) == expected(active=4, archived=1)
    assert await counts(gql, world) == await counted(world)
    assert await counts(gql, other_world) == expected(active=0, archived=1)


async def test_a_refused_archive_leaves_the_counts_as_they_were(gql: GraphQL, world: World) -> None:
    lead = await world.contact("Lea", stage=StageCategory.LEAD)
    await world.contact("Max")
    before = await counts(gql, world)

    data = await gql(
        """mutation($ids: [ID!]) { archiveContacts(input: {selection: {ids: $ids}}) {
          succeeded results { __typename } } }""",
        {"ids": [gid(lead)]},
        as_=world.member,
    )

    assert data["archiveContacts"]["results"] == [{"__typename": "ArchiveBlockedByStage"}]
    assert await counts(gql, world) == before == expected(active=2, archived=0)


SAVE = """mutation($name: String!, $filter: ContactFilter!) {
  saveAudience(input: {name: $name, filter: $filter}) { id } }"""

AUDIENCE_SIZES = "{ audiences { name contactCount } }"


def counting(log: StatementLog) -> list[str]:
    """The statements that count contacts (not the token's, nor the audiences' own rows)."""
    return [s for s in log.statements if "COUNT(" in s.upper() or "contact_tally" in s]


async def test_every_audiences_count_comes_from_a_fixed_number_of_statements(
    gql: GraphQL, world: World
) -> None:
    await world.contact("Ada", tags=["vip"], emails=["ada@example.com"])
    await world.contact("Bob", archived=True, tags=["vip"])
    await world.contact("Cal", stage=StageCategory.LEAD, assignee=world.member)
    await world.contact("Dee", company="Globex")
    filters: dict[str, dict[str, Any]] = {
        "Everyone": {},
        "Archived": {"status": "ARCHIVED"},
        "Leads": {"stageCategories": ["LEAD"]},
        "Mine": {"assigneeId": world.member.id},
        "Unassigned active": {"unassigned": True, "status": "ACTIVE"},
        "Archivable": {"archivable": True},
        "Not archivable": {"archivable": False},
    }
    await gql(SAVE, {"name": "Named Globex", "filter": {"search": "globex"}}, as_=world.member)
    with count_statements() as one:
        before = await gql(AUDIENCE_SIZES, as_=world.member)
    for name, contact_filter in filters.items():
        await gql(SAVE, {"name": name, "filter": contact_filter}, as_=world.member)

    with count_statements() as many:
        data = await gql(AUDIENCE_SIZES, as_=world.member)

    sizes = {row["name"]: row["contactCount"] for row in data["audiences"]}
    assert sizes == {
        "My People": 3, "Archived People": 1, "All People": 4, "Named Globex": 1, "Everyone": 4,
        "Archived": 1, "Leads": 1, "Mine": 1, "Unassigned active": 2, "Archivable": 2,
        "Not archivable": 1,
    }  # fmt: skip
    assert before["audiences"][-1] == {"name": "Named Globex", "contactCount": 1}
    assert len(counting(many)) == len(counting(one)) == (2 if db.is_postgres() else 1)


NESTED_TOTALS = """{ audiences { name contactCount
  active: contacts(filter: {status: ACTIVE}) { totalCount }
  named: contacts(filter: {search: "ada"}) { totalCount } } }"""


async def test_the_totals_of_every_audiences_lists_come_from_a_fixed_number_of_statements(
    gql: GraphQL, world: World
) -> None:
    await world.contact("Ada", company="Globex")
    await world.contact("Bob", archived=True, company="Globex")
    await world.contact("Cal")
    await gql(SAVE, {"name": "Globex", "filter": {"search": "globex"}}, as_=world.member)
    with count_statements() as one:
        await gql(NESTED_TOTALS, as_=world.member)
    for name in ("Leads", "Archived", "Mine"):
        await gql(SAVE, {"name": name, "filter": {"status": "ARCHIVED"}}, as_=world.member)

    with count_statements() as many:
        data = await gql(NESTED_TOTALS, as_=world.member)

    totals = {
        row["name"]: (row["contactCount"], row["active"]["totalCount"], row["named"]["totalCount"])
        for row in data["audiences"]
    }
    assert totals == {
        "My People": (2, 2, 1), "Archived People": (1, 0, 0), "All People": (3, 2, 1),
        "Globex": (2, 1, 1), "Leads": (1, 0, 0), "Archived": (1, 0, 0), "Mine": (1, 0, 0),
    }  # fmt: skip
    assert len(counting(many)) == len(counting(one)) == (2 if db.is_postgres() else 1)


# ---------------------------------------------------------------- PostgreSQL's tally


async def tally_rows(workspace: Workspace) -> int:
    rows = await db.connection().execute_query_dict(
        "SELECT count(*) AS n FROM contact_tally WHERE workspace_id = $1", [workspace.id]
    )
    return int(rows[0]["n"])


@pytest.mark.postgres_only
async def test_counts_sum_the_tally_instead_of_counting_contacts(
    gql: GraphQL, world: World
) -> None:
    await world.contact("Ada")
    await world.contact("Bob", archived=True)

    with count_statements() as log:
        assert await counts(gql, world) == expected(active=1, archived=1)

    reads = [s for s in log.statements if "contact_tally" in s]
    counting = [s for s in log.statements if "COUNT(" in s.upper() and "contact_tally" not in s]
    # One read for the three audiences together, one for both lists' totalCount together.
    assert (len(reads), counting) == (2, [])


@pytest.mark.postgres_only
async def test_a_read_folds_the_tally_once_it_piles_up(gql: GraphQL, world: World) -> None:
    for n in range(tallies.FOLD_AFTER + 1):
        await world.contact(f"Person {n}", archived=n % 3 == 0)
    assert await tally_rows(world.workspace) > tallies.FOLD_AFTER

    assert await counts(gql, world) == expected(active=43, archived=22)

    assert await tally_rows(world.workspace) == 2
    assert await counts(gql, world) == expected(active=43, archived=22)


@pytest.mark.postgres_only
async def test_the_tally_counts_changes_made_behind_the_apps_back(
    gql: GraphQL, world: World
) -> None:
    client = db.connection()
    for n in range(3):
        await world.contact(f"Person {n}")
    await client.execute_query(
        "UPDATE contact SET status = 'archived' WHERE workspace_id = $1 AND first_name <> $2",
        [world.workspace.id, "Person 0"],
    )
    assert await counts(gql, world) == expected(active=1, archived=2)

    await client.execute_query("DELETE FROM contact WHERE workspace_id = $1", [world.workspace.id])
    assert await counts(gql, world) == expected(active=0, archived=0)

    await world.contact("Ada")
    await client.execute_script("TRUNCATE contact CASCADE")
    assert await counts(gql, world) == expected(active=0, archived=0)


@pytest.mark.postgres_only
async def test_a_deleted_workspace_leaves_no_tally_behind(database: str) -> None:
    doomed = await make_world("Doomed")
    await doomed.contact("Ada")
    await doomed.contact("Bob", archived=True)

    await doomed.workspace.delete()

    assert await tallies.tally(doomed.workspace.id) == dict.fromkeys(ContactStatus, 0)
    await tallies.fold(doomed.workspace.id)
    assert await tally_rows(doomed.workspace) == 0


@pytest.mark.postgres_only
async def test_concurrent_changes_and_folds_keep_the_tally_exact(
    gql: GraphQL, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tallies, "FOLD_AFTER", 0)  # every read folds, racing the writers
    people = [await world.contact(f"Person {n}") for n in range(40)]

    async def change(n: int) -> Any:
        if n % 4 == 0:  # its counts are of a moment mid-race: only the end is checked
            return await gql(COUNTS, as_=world.member)
        if n % 4 == 1:
            return await created(gql, world, f"New {n}")
        return await archive(gql, world, people[n])

    await asyncio.gather(*(change(n) for n in range(40)))

    # 10 reads, 10 creates, 20 archives: 40 + 10 contacts, 20 of them archived.
    assert await counts(gql, world) == expected(active=30, archived=20) == await counted(world)


def recount(database_url: str, cwd: Path) -> Ran:
    command = [sys.executable, "-m", "server.cli", "--database-url", database_url, "recount"]
    return run_command(*command, cwd=cwd)


@pytest.mark.postgres_only
async def test_recount_rebuilds_a_tally_that_missed_a_load_with_triggers_disabled(
    gql: GraphQL, world: World, database: str, tmp_path: Path
) -> None:
    await world.contact("Ada")
    async with in_transaction() as client:
        await client.execute_script("SET LOCAL session_replication_role = replica")
        await client.execute_query(
            "INSERT INTO contact (workspace_id, emails, phones, sort_name, search_text, status,"
            " created_at, updated_at) SELECT $1, '[]', '[]', 'x', 'x', 'archived', now(), now()"
            " FROM generate_series(1, 5)",
            [world.workspace.id],
        )
    assert await counts(gql, world) == expected(active=1, archived=0)

    ran = recount(database, tmp_path)

    assert (ran.code, ran.stdout, ran.stderr) == (
        0,
        "Recounted 6 contacts in 1 workspace(s).\n",
        "",
    )
    assert await counts(gql, world) == expected(active=1, archived=5)


def test_recount_on_sqlite_has_nothing_to_do(tmp_path: Path) -> None:
    url = f"sqlite://{tmp_path / 'contacts.sqlite3'}"
    assert run_command(sys.executable, "-m", "server.cli", "--database-url", url, "migrate",
                       cwd=tmp_path).code == 0  # fmt: skip

    ran = recount(url, tmp_path)

    assert (ran.code, ran.stderr) == (0, "")
    assert ran.stdout == "Nothing to do: SQLite counts contacts directly and keeps no tally.\n"


MIGRATE_TO = """
import asyncio, sys
from tortoise.migrations.api.migrate import migrate
from server.db import tortoise_config
asyncio.run(migrate(config=tortoise_config(sys.argv[1]), target=sys.argv[2]))
"""


def migrate_to(url: str, target: str, cwd: Path) -> None:
    ran = run_command(sys.executable, "-c", MIGRATE_TO, url, target, cwd=cwd)
    assert ran.code == 0, ran.stderr


@pytest.mark.postgres_only
async def test_upgrading_a_database_that_has_contacts_tallies_them_and_downgrading_drops_it(
    database: str, tmp_path: Path
) -> None:
    with pgcluster.database_on_server(database) as url:
        migrate_to(url, "models.0003_audit_entries", tmp_path)
        connection = await pgcluster.connect(url)
        try:
            workspace = await connection.fetchval(
                "INSERT INTO workspace (name, phone_region, secret, created_at)"
                " VALUES ('Old', 'US', 's', now()) RETURNING id"
            )
            await connection.execute(
                "INSERT INTO contact (workspace_id, emails, phones, sort_name, search_text,"
                " status, created_at, updated_at) SELECT $1, '[]', '[]', 'x', 'x',"
                " CASE WHEN n % 3 = 0 THEN 'archived' ELSE 'active' END, now(), now()"
                " FROM generate_series(1, 30) AS n",
                workspace,
            )

            migrate_to(url, "models.0004_contact_tallies", tmp_path)
            tallied = await connection.fetch(
                "SELECT status, sum(contacts) AS n FROM contact_tally"
                " WHERE workspace_id = $1 GROUP BY status ORDER BY status",
                workspace,
            )
            assert [tuple(row) for row in tallied] == [("active", 20), ("archived", 10)]

            migrate_to(url, "models.0003_audit_entries", tmp_path)
            left = await connection.fetchval("SELECT to_regclass('contact_tally') IS NULL")
            assert left is True
            await connection.execute("DELETE FROM contact")  # no trigger is left to fire
        finally:
            await connection.close()
