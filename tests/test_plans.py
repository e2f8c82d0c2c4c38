"""SQLite looks up the contacts a statement names by key, whatever its statistics.

The app never runs ANALYZE, and without statistics SQLite prefers the workspace's indexes
to key lookups: a statement naming one contact would read every contact of the workspace.
"""

from __future__ import annotations

import pytest
from conftest import GraphQL, World, count_statements, gid
from sourcing import sync

from server import db

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


async def contact_plans(statement: str) -> list[str]:
    """How SQLite reads `contact` for a logged statement (its parameters do not matter)."""
    sql = statement.rsplit(": [", 1)[0]
    _, rows = await db.connection().execute_query(
        f"EXPLAIN QUERY PLAN {sql}", [None] * sql.count("?")
    )
    details = [str(row["detail"]) for row in rows]
    return [d for d in details if d.startswith(("SCAN contact ", "SEARCH contact "))]


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
