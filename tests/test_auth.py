"""Who may do what: tokens, roles, and workspaces that never see each other."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from conftest import GraphQL, Person, World, gid, refetch

from server.models import ApiToken, Contact, Suppression
from server.policy import ContactStatus

ARCHIVE = """
mutation Archive($input: ArchiveContactsInput!) {
  archiveContacts(input: $input) {
    succeeded
    failed
    results {
      __typename
      ... on RuleViolation { contactId code }
      ... on ContactArchived { contact { id status } }
    }
  }
}
"""

UNARCHIVE = """
mutation Unarchive($input: UnarchiveContactsInput!) {
  unarchiveContacts(input: $input) {
    succeeded
    failed
    results {
      __typename
      ... on RuleViolation { contactId code }
      ... on ContactUnarchived { contact { id status } }
    }
  }
}
"""

DELETE = """
mutation Delete($input: DeleteContactsInput!) {
  deleteContacts(input: $input) {
    succeeded
    failed
    results {
      __typename
      ... on RuleViolation { contactId code }
      ... on ContactDeleted { contactId displayName }
    }
  }
}
"""

CONTACT = """
query Contact($id: ID!) {
  contact(id: $id) { id }
  node(id: $id) { id }
}
"""

TOTAL = "{ contacts { totalCount edges { node { id } } } }"

State = tuple[object, ...]


async def state(contact: Contact) -> State | None:
    """What a forbidden request must not change; None once deleted."""
    row = await refetch(contact)
    if row is None:
        return None
    return (row.status, row.archived_at, row.updated_at, row.stage_id, row.assignee_id)


def selecting(contact: Contact, **options: Any) -> dict[str, Any]:
    return {"input": {"selection": {"ids": [gid(contact)]}, **options}}


def assert_unauthenticated(response: httpx.Response) -> None:
    assert response.status_code == 401, response.text
    body = response.json()
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert body.get("data") is None


# ---------------------------------------------------------------- tokens


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({}, id="no-header"),
        pytest.param({"Authorization": ""}, id="empty-header"),
        pytest.param({"Authorization": "Bearer "}, id="bearer-without-token"),
        pytest.param({"Authorization": "Basic YWRtaW46YWRtaW4="}, id="basic-credentials"),
        pytest.param({"Authorization": "Bearer cs_thisTokenWasNeverIssued"}, id="unknown-token"),
        pytest.param({"Authorization": "Bearer not-even-our-format"}, id="foreign-format"),
    ],
)
async def test_a_request_without_a_valid_token_is_unauthenticated_with_401(
    gql: GraphQL, world: World, headers: dict[str, str]
) -> None:
    response = await gql.http.post("/graphql", json={"query": TOTAL}, headers=headers)

    assert_unauthenticated(response)


async def test_an_unauthenticated_mutation_changes_nothing(gql: GraphQL, world: World) -> None:
    contact = await world.contact()
    before = await state(contact)

    response = await gql.raw(ARCHIVE, selecting(contact), "cs_thisTokenWasNeverIssued")

    assert_unauthenticated(response)
    assert await state(contact) == before


async def test_a_revoked_token_is_unauthenticated(gql: GraphQL, world: World) -> None:
    await ApiToken.filter(user_id=world.member.user.id).update(revoked_at=datetime.now(UTC))

    response = await gql.raw(TOTAL, token=world.member.token)

    assert_unauthenticated(response)


async def test_a_token_sent_as_a_cookie_is_not_a_credential(gql: GraphQL, world: World) -> None:
    token = world.admin.token
    gql.http.cookies.set("token", token)
    gql.http.cookies.set("Authorization", f"Bearer {token}")

    response = await gql.http.post("/graphql", json={"query": TOTAL})

    assert_unauthenticated(response)


async def test_tokens_are_stored_only_as_hashes(world: World, other_world: World) -> None:
    tokens = [p.token for w in (world, other_world) for p in (w.admin, w.member, w.viewer)]

    rows = await ApiToken.all().values()

    assert len(rows) == len(tokens)
    stored = repr(rows)
    for token in tokens:
        assert token not in stored
        assert token.removeprefix("cs_") not in stored


# ---------------------------------------------------------------- roles


@pytest.mark.parametrize(
    ("mutation", "archived", "options"),
    [
        pytest.param(ARCHIVE, False, {}, id="archive"),
        pytest.param(ARCHIVE, False, {"dryRun": True}, id="archive-dry-run"),
        pytest.param(UNARCHIVE, True, {}, id="unarchive"),
        pytest.param(DELETE, True, {"preventResync": True}, id="delete"),
    ],
)
async def test_a_viewer_may_not_change_contacts_and_nothing_changes(
    gql: GraphQL, world: World, mutation: str, archived: bool, options: dict[str, Any]
) -> None:
    contact = await world.contact(archived=archived, emails=["ada@example.com"])
    before = await state(contact)

    code, message, data = await gql.error(mutation, selecting(contact, **options), as_=world.viewer)

    assert code == "FORBIDDEN"
    assert message
    assert data is None
    assert await state(contact) == before
    assert await Suppression.all().count() == 0


async def test_a_viewer_may_read_contacts(gql: GraphQL, world: World) -> None:
    contact = await world.contact()

    data = await gql(CONTACT, {"id": gid(contact)}, as_=world.viewer)

    assert data == {"contact": {"id": gid(contact)}, "node": {"id": gid(contact)}}


@pytest.mark.parametrize("options", [{}, {"dryRun": True}, {"preventResync": True}])
async def test_a_member_may_not_delete_contacts_and_nothing_changes(
    gql: GraphQL, world: World, options: dict[str, Any]
) -> None:
    contact = await world.contact(archived=True, emails=["ada@example.com"])
    before = await state(contact)

    code, _, data = await gql.error(DELETE, selecting(contact, **options), as_=world.member)

    assert code == "FORBIDDEN"
    assert data is None
    assert await state(contact) == before
    assert await Suppression.all().count() == 0


async def test_a_member_may_archive_and_unarchive_contacts(gql: GraphQL, world: World) -> None:
    contact = await world.contact()

    archived = await gql(ARCHIVE, selecting(contact), as_=world.member)
    unarchived = await gql(UNARCHIVE, selecting(contact), as_=world.member)

    assert archived["archiveContacts"]["results"] == [
        {"__typename": "ContactArchived", "contact": {"id": gid(contact), "status": "ARCHIVED"}}
    ]
    assert unarchived["unarchiveContacts"]["results"] == [
        {"__typename": "ContactUnarchived", "contact": {"id": gid(contact), "status": "ACTIVE"}}
    ]


async def test_an_admin_may_delete_an_archived_contact(gql: GraphQL, world: World) -> None:
    contact = await world.contact("Ada", "Lovelace", archived=True)

    data = await gql(DELETE, selecting(contact), as_=world.admin)

    assert data["deleteContacts"] == {
        "succeeded": 1,
        "failed": 0,
        "results": [
            {
                "__typename": "ContactDeleted",
                "contactId": gid(contact),
                "displayName": "Ada Lovelace",
            }
        ],
    }
    assert await refetch(contact) is None


# ---------------------------------------------------------------- workspaces


async def test_another_workspaces_token_cannot_read_this_workspaces_contact(
    gql: GraphQL, world: World, other_world: World
) -> None:
    mine = await world.contact("Ada", "Lovelace")

    data = await gql(CONTACT, {"id": gid(mine)}, as_=other_world.admin)

    assert data == {"contact": None, "node": None}


async def test_the_contact_list_counts_only_the_viewers_workspace(
    gql: GraphQL, world: World, other_world: World
) -> None:
    ours = [await world.contact("Ada", "Lovelace"), await world.contact(archived=True)]
    theirs = await other_world.contact("Grace", "Hopper")

    data = await gql(TOTAL, as_=world.viewer)
    other = await gql(TOTAL, as_=other_world.viewer)

    assert data["contacts"]["totalCount"] == 2
    assert sorted(e["node"]["id"] for e in data["contacts"]["edges"]) == sorted(map(gid, ours))
    assert other["contacts"]["totalCount"] == 1
    assert [e["node"]["id"] for e in other["contacts"]["edges"]] == [gid(theirs)]


@pytest.mark.parametrize(
    ("mutation", "archived", "field"),
    [
        pytest.param(ARCHIVE, False, "archiveContacts", id="archive"),
        pytest.param(UNARCHIVE, True, "unarchiveContacts", id="unarchive"),
        pytest.param(DELETE, True, "deleteContacts", id="delete"),
    ],
)
async def test_another_workspaces_admin_gets_contact_not_found_and_changes_nothing(
    gql: GraphQL,
    world: World,
    other_world: World,
    mutation: str,
    archived: bool,
    field: str,
) -> None:
    mine = await world.contact(archived=archived)
    before = await state(mine)
    intruder: Person = other_world.admin

    data = await gql(mutation, selecting(mine), as_=intruder)

    assert data[field] == {
        "succeeded": 0,
        "failed": 1,
        "results": [
            {"__typename": "ContactNotFound", "contactId": gid(mine), "code": "CONTACT_NOT_FOUND"}
        ],
    }
    assert await state(mine) == before
    row = await refetch(mine)
    assert row is not None
    expected = ContactStatus.ARCHIVED if archived else ContactStatus.ACTIVE
    assert row.status == expected
