"""Bulk lifecycle results are the same whether the selection reads a contact's ID only or more.

Results that read only `contact { id }` are built without loading full rows; these tests pin
that both ways give the same results, and that anything beyond the ID loads the rows.
"""

from __future__ import annotations

from typing import Any

import pytest
from conftest import GraphQL, World, gid

from server import lifecycle
from server.policy import StageCategory

ARCHIVE = """
mutation Archive($input: ArchiveContactsInput!) {
  archiveContacts(input: $input) {
    succeeded failed
    results {
      __typename
      ... on RuleViolation { contactId code message }
      ... on ContactArchived { contact { %(fields)s } }
      ... on ArchiveBlockedByStage { contact { %(fields)s } }
      ... on ContactIsArchived { contact { %(fields)s } }
    }
  }
}
%(fragments)s
"""

WIDE = """
fragment Wide on Contact { displayName status archivedAt emails }
"""

DELETE = """
mutation Delete($input: DeleteContactsInput!) {
  deleteContacts(input: $input) {
    results {
      __typename
      ... on ContactDeleted { contactId displayName }
      ... on ContactNotArchived { contactId contact { id } }
    }
  }
}
"""


async def archive(gql: GraphQL, world: World, sent: list[str], fields: str) -> dict[str, Any]:
    fragments = WIDE if "...Wide" in fields else ""
    query = ARCHIVE % {"fields": fields, "fragments": fragments}
    data = await gql(query, {"input": {"selection": {"ids": sent}}}, as_=world.member)
    payload: dict[str, Any] = data["archiveContacts"]
    return payload


async def mixed(world: World) -> list[str]:
    free = await world.contact("Free", "One")
    lead = await world.contact("Lead", "Two", stage=StageCategory.LEAD)
    archived = await world.contact("Archived", "Three", archived=True)
    return [gid(lead), gid(free), "not-an-id", gid(archived), gid(free)]


async def test_results_that_read_only_ids_match_results_that_read_more(
    gql: GraphQL, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def no_full_rows(*args: object) -> None:
        raise AssertionError("full rows loaded for a selection of IDs")

    sent = await mixed(world)
    with monkeypatch.context() as patched:
        patched.setattr(lifecycle, "full_rows", no_full_rows)
        narrow = await archive(gql, world, sent, "__typename id")
    wide = await archive(gql, world, await mixed(world), "id status")

    def shape(payload: dict[str, Any]) -> list[tuple[str, str | None]]:
        return [(r["__typename"], r.get("code")) for r in payload["results"]]

    assert shape(narrow) == shape(wide)
    assert (narrow["succeeded"], narrow["failed"]) == (wide["succeeded"], wide["failed"]) == (1, 3)
    assert [r["contact"]["__typename"] for r in narrow["results"] if "contact" in r] == [
        "Contact"
    ] * 3
    lead, free, _, archived, _ = sent
    assert [r["contact"]["id"] for r in narrow["results"] if "contact" in r] == [
        lead,
        free,
        archived,
    ]
    assert [r["contact"]["status"] for r in wide["results"] if "contact" in r] == [
        "ACTIVE",
        "ARCHIVED",
        "ARCHIVED",
    ]


async def test_a_fragment_inside_contact_reads_the_rows_after_the_change(
    gql: GraphQL, world: World
) -> None:
    sent = await mixed(world)

    payload = await archive(gql, world, sent, "id ...Wide")

    archived = payload["results"][1]
    assert archived["__typename"] == "ContactArchived"
    assert archived["contact"]["id"] == sent[1]
    assert archived["contact"]["status"] == "ARCHIVED"
    assert archived["contact"]["archivedAt"] is not None
    assert archived["contact"]["displayName"] == "Free One"
    blocked = payload["results"][0]["contact"]
    assert (blocked["id"], blocked["status"], blocked["archivedAt"]) == (sent[0], "ACTIVE", None)


async def test_delete_names_the_deleted_from_the_locked_columns(gql: GraphQL, world: World) -> None:
    nameless = await world.contact(None, None, emails=["only@example.com"], archived=True)
    named = await world.contact("Grace", "Hopper", archived=True)
    active = await world.contact("Still", "Here")

    data = await gql(
        DELETE,
        {"input": {"selection": {"ids": [gid(nameless), gid(active), gid(named)]}}},
        as_=world.admin,
    )

    assert data["deleteContacts"]["results"] == [
        {
            "__typename": "ContactDeleted",
            "contactId": gid(nameless),
            "displayName": "only@example.com",
        },
        {
            "__typename": "ContactNotArchived",
            "contactId": gid(active),
            "contact": {"id": gid(active)},
        },
        {"__typename": "ContactDeleted", "contactId": gid(named), "displayName": "Grace Hopper"},
    ]
