"""Contact.interactions: newest first, in pages, kept by archiving, gone with the contact."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from conftest import GraphQL, World, count_statements, gid

from server import ids
from server.models import Contact, Interaction

START = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)

HISTORY = """
query($id: ID!, $first: Int, $after: String) {
  contact(id: $id) {
    interactions(first: $first, after: $after) {
      totalCount
      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
      edges { cursor node { id kind direction subject occurredAt } }
    }
  }
}
"""

LIST = """
query($first: Int, $history: Int) {
  contacts(first: $first) {
    edges { node {
      displayName
      interactions(first: $history) {
        totalCount
        pageInfo { hasNextPage endCursor }
        edges { node { subject } }
      }
    } }
  }
}
"""

ARCHIVE = """
mutation($ids: [ID!]!) { archiveContacts(input: {selection: {ids: $ids}}) { succeeded } }
"""

DELETE = """
mutation($ids: [ID!]!) { deleteContacts(input: {selection: {ids: $ids}}) { succeeded } }
"""


async def log(
    world: World, contact: Contact, subject: str, minutes: int, kind: str = "email"
) -> Interaction:
    return await Interaction.create(
        workspace=world.workspace,
        contact=contact,
        kind=kind,
        direction="inbound",
        occurred_at=START + timedelta(minutes=minutes),
        subject=subject,
    )


async def history(
    gql: GraphQL, world: World, contact: Contact, first: int | None = None, after: str | None = None
) -> dict[str, Any]:
    data = await gql(
        HISTORY, {"id": gid(contact), "first": first, "after": after}, as_=world.member
    )
    assert data["contact"] is not None
    connection: dict[str, Any] = data["contact"]["interactions"]
    return connection


def subjects(connection: dict[str, Any]) -> list[str]:
    return [edge["node"]["subject"] for edge in connection["edges"]]


async def test_interactions_come_newest_first_with_their_fields(gql: GraphQL, world: World) -> None:
    contact = await world.contact()
    await log(world, contact, "Intro", 0)
    call = await log(world, contact, "Call back", 30, kind="call")
    await log(world, contact, "Follow-up", 10)

    connection = await history(gql, world, contact)

    assert subjects(connection) == ["Call back", "Follow-up", "Intro"]
    assert connection["edges"][0]["node"] == {
        "id": ids.encode("Interaction", call.id),
        "kind": "CALL",
        "direction": "INBOUND",
        "subject": "Call back",
        "occurredAt": (START + timedelta(minutes=30)).isoformat(),
    }
    assert connection["totalCount"] == 3
    assert connection["pageInfo"]["hasNextPage"] is False
    assert connection["pageInfo"]["hasPreviousPage"] is False


async def test_pages_walk_the_whole_history_without_gaps_or_repeats_even_with_equal_times(
    gql: GraphQL, world: World
) -> None:
    contact = await world.contact()
    for index in range(7):
        # Pairs share a moment: ties are broken by the newest row first.
        await log(world, contact, f"S{index}", index // 2)

    seen: list[str] = []
    after = None
    pages = 0
    while True:
        connection = await history(gql, world, contact, first=3, after=after)
        pages += 1
        assert connection["totalCount"] == 7
        assert connection["pageInfo"]["hasPreviousPage"] is (after is not None)
        seen += subjects(connection)
        if not connection["pageInfo"]["hasNextPage"]:
            break
        after = connection["pageInfo"]["endCursor"]

    assert pages == 3
    assert seen == ["S6", "S5", "S4", "S3", "S2", "S1", "S0"]


async def test_a_first_of_zero_gives_no_edges_but_the_count(gql: GraphQL, world: World) -> None:
    contact = await world.contact()
    await log(world, contact, "Only", 0)

    connection = await history(gql, world, contact, first=0)

    assert connection["edges"] == []
    assert connection["totalCount"] == 1
    assert connection["pageInfo"] == {
        "hasNextPage": True,
        "hasPreviousPage": False,
        "startCursor": None,
        "endCursor": None,
    }


@pytest.mark.parametrize(
    ("first", "after"),
    [(501, None), (-1, None), (2, "garbage"), (2, ids.encode("InteractionCursor", "x|1"))],
)
async def test_a_bad_page_size_or_cursor_is_bad_input(
    gql: GraphQL, world: World, first: int, after: str | None
) -> None:
    contact = await world.contact()

    code, _, _ = await gql.error(
        HISTORY, {"id": gid(contact), "first": first, "after": after}, as_=world.member
    )

    assert code == "BAD_USER_INPUT"


async def test_a_contact_list_gives_each_contact_its_own_newest_interactions(
    gql: GraphQL, world: World
) -> None:
    busy = await world.contact("Ada", "A")
    quiet = await world.contact("Bob", "B")
    some = await world.contact("Cal", "C")
    for index in range(5):
        await log(world, busy, f"ada-{index}", index)
    await log(world, some, "cal-0", 100)

    data = await gql(LIST, {"history": 2}, as_=world.member)

    by_name = {
        edge["node"]["displayName"]: edge["node"]["interactions"]
        for edge in data["contacts"]["edges"]
    }
    assert {name: subjects(c) for name, c in by_name.items()} == {
        "Ada A": ["ada-4", "ada-3"],
        "Bob B": [],
        "Cal C": ["cal-0"],
    }
    assert {name: c["totalCount"] for name, c in by_name.items()} == {
        "Ada A": 5,
        "Bob B": 0,
        "Cal C": 1,
    }
    assert {name: c["pageInfo"]["hasNextPage"] for name, c in by_name.items()} == {
        "Ada A": True,
        "Bob B": False,
        "Cal C": False,
    }
    assert quiet.id != busy.id

    # The next page of one contact continues from its cursor.
    after = by_name["Ada A"]["pageInfo"]["endCursor"]
    connection = await history(gql, world, busy, first=2, after=after)
    assert subjects(connection) == ["ada-2", "ada-1"]


async def make_contacts_with_history(world: World, count: int) -> None:
    for index in range(count):
        contact = await world.contact(f"Person{index:03d}", "History")
        for minute in range(index % 4):
            await log(world, contact, f"{index}-{minute}", minute)


async def test_a_page_of_contacts_asks_for_their_history_in_a_bounded_number_of_statements(
    gql: GraphQL, world: World
) -> None:
    await make_contacts_with_history(world, 50)
    await gql("{ viewer { name } }", as_=world.member)  # records the token's last use

    with count_statements() as five:
        small = await gql(LIST, {"first": 5, "history": 3}, as_=world.member)
    with count_statements() as fifty:
        large = await gql(LIST, {"first": 50, "history": 3}, as_=world.member)

    assert len(small["contacts"]["edges"]) == 5
    assert len(large["contacts"]["edges"]) == 50
    assert sum(len(e["node"]["interactions"]["edges"]) for e in large["contacts"]["edges"]) == 73
    assert fifty.count == five.count, fifty.statements
    # Authentication, the page, one windowed query and one grouped count.
    assert fifty.count <= 4, fifty.statements


async def test_another_workspaces_contact_and_its_history_are_not_visible(
    gql: GraphQL, world: World, other_world: World
) -> None:
    theirs = await other_world.contact()
    await log(other_world, theirs, "Secret", 0)

    data = await gql(HISTORY, {"id": gid(theirs)}, as_=world.member)

    assert data["contact"] is None


async def test_archiving_keeps_the_history(gql: GraphQL, world: World) -> None:
    contact = await world.contact()
    await log(world, contact, "Intro", 0)
    await log(world, contact, "Follow-up", 10)

    archived = await gql(ARCHIVE, {"ids": [gid(contact)]}, as_=world.member)

    assert archived["archiveContacts"]["succeeded"] == 1
    connection = await history(gql, world, contact)
    assert subjects(connection) == ["Follow-up", "Intro"]
    assert connection["totalCount"] == 2


async def test_deleting_removes_the_history_and_only_that_contacts(
    gql: GraphQL, world: World
) -> None:
    doomed = await world.contact("Ada", "A", archived=True)
    kept = await world.contact("Bob", "B", archived=True)
    await log(world, doomed, "Intro", 0)
    await log(world, doomed, "Follow-up", 10)
    await log(world, kept, "Hello", 0)

    deleted = await gql(DELETE, {"ids": [gid(doomed)]}, as_=world.admin)

    assert deleted["deleteContacts"]["succeeded"] == 1
    assert await Interaction.filter(contact_id=doomed.id).count() == 0
    assert subjects(await history(gql, world, kept)) == ["Hello"]
