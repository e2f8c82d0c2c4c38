"""SQLite starts from the contacts a statement names, by key, whatever its statistics.

The app never runs ANALYZE, and without statistics SQLite prefers the workspace's indexes
to key lookups: a statement naming one contact would read every contact of the workspace,
and a page's tags would be found by probing every tag of the workspace.
"""

from __future__ import annotations

import pytest
from conftest import GraphQL, World, count_statements, gid
from sourcing import sync

from server import db
from server.models import Bucket

pytestmark = pytest.mark.sqlite_only

LIFECYCLE = """
mutation Lifecycle($id: ID!) {
  archived: archiveContacts(input: {selection: {ids: [$id]}}) {
    results { __typename ... on ContactArchived { contact { id displayName } } }
  }
  unarchived: unarchiveContacts(input: {selection: {ids: [$id]}}) {
    results { __typename ... on ContactUnarchived { contact { id displayName } } }
  }
  edited: updateContact(input: {id: $id, patch: {company: "Renamed"}}) { __typename }
  archivedAgain: archiveContacts(input: {selection: {ids: [$id]}}) { results { __typename } }
  deleted: deleteContacts(input: {selection: {ids: [$id]}}) {
    results { __typename ... on ContactDeleted { contactId displayName } }
  }
}
"""


async def plans(statement: str) -> list[str]:
    """How SQLite reads each table for a logged statement (its parameters do not matter)."""
    sql = statement.rsplit(": [", 1)[0]
    _, rows = await db.connection().execute_query(
        f"EXPLAIN QUERY PLAN {sql}", [None] * sql.count("?")
    )
    return [str(row["detail"]) for row in rows]


async def contact_plans(statement: str) -> list[str]:
    """How SQLite reads `contact` for a logged statement."""
    return [d for d in await plans(statement) if d.startswith(("SCAN contact ", "SEARCH contact "))]


async def test_the_lifecycle_of_one_contact_among_many_reads_it_by_key(
    gql: GraphQL, world: World
) -> None:
    await sync(gql, world.member, [{"externalId": str(n), "firstName": f"P{n}"} for n in range(50)])
    contact = await world.contact("Ada", "Lovelace")
    with count_statements() as log:
        data = await gql(LIFECYCLE, {"id": gid(contact)}, as_=world.admin)
    assert [
        data["archived"]["results"][0]["__typename"],
        data["unarchived"]["results"][0]["__typename"],
        data["edited"]["__typename"],
        data["deleted"]["results"][0]["__typename"],
    ] == ["ContactArchived", "ContactUnarchived", "ContactUpdated", "ContactDeleted"]
    plans = {s.rsplit(": [", 1)[0]: await contact_plans(s) for s in log.statements}
    reads = {sql: plan for sql, plan in plans.items() if plan}
    assert len(reads) >= 5, reads  # the locks, the full rows, the updates and the delete
    by_key = ("USING INTEGER PRIMARY KEY (rowid=?)", "rowid=?)")
    assert {sql: plan for sql, plan in reads.items() if not plan[0].endswith(by_key)} == {}


PAGE = "{ contacts(first: 10) { edges { node { tags { name } buckets { name } } } } }"


async def test_a_page_reads_its_tags_and_buckets_from_its_contacts_not_from_every_label(
    gql: GraphQL, world: World
) -> None:
    # More labels in the workspace than on the page: the plan SQLite would pick without the
    # `+` starts from them.
    for n in range(12):
        await world.contact(f"P{n}", "Tagged", tags=[f"tag{n}", f"tag{n + 1}"])
    await Bucket.create(workspace=world.workspace, name="Golf")
    with count_statements() as log:
        data = await gql(PAGE, as_=world.admin)
    assert any(edge["node"]["tags"] for edge in data["contacts"]["edges"])
    label_reads = {
        statement.rsplit(": [", 1)[0]: [
            detail
            for detail in await plans(statement)
            if detail.startswith(("SCAN", "SEARCH")) and "json_each" not in detail
        ]
        for statement in log.statements
        if '"contact_tag" AS link' in statement or '"contact_bucket" AS link' in statement
    }
    # Tags and buckets in one statement, one part each.
    assert len(label_reads) == 1, log.statements
    ((sql, details),) = label_reads.items()
    assert len(details) == 4, (sql, details)
    for links, labels in (details[0:2], details[2:4]):
        # First the links of the page's contacts (by contact), then each label by key.
        assert links.startswith("SEARCH link USING COVERING INDEX"), (sql, details)
        assert "(contact_id=?)" in links, (sql, details)
        assert labels == "SEARCH label USING INTEGER PRIMARY KEY (rowid=?)", (sql, details)
