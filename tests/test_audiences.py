"""saveAudience and the audiences: built-ins first, saved filters after, each workspace its own."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import GraphQL, World, bucket_of, gid, refetch

from server import ids
from server.models import SavedAudience, Tag
from server.policy import StageCategory

SAVE = """
mutation($input: SaveAudienceInput!) {
  saveAudience(input: $input) { id name kind contactCount }
}
"""

AUDIENCES = "{ audiences { id name kind contactCount } }"

AUDIENCE = """
query($id: ID!, $filter: ContactFilter) {
  audience(id: $id) {
    name
    kind
    contactCount
    contacts(filter: $filter, first: 500) { totalCount edges { node { displayName } } }
  }
}
"""

FILTERED = """
query($filter: ContactFilter) { contacts(filter: $filter, first: 500) {
  edges { node { displayName } }
} }
"""

TAG = """
mutation($ids: [ID!]!) {
  tagContacts(input: {selection: {ids: $ids}, tagNames: ["vip"]}) { succeeded }
}
"""

ASSIGN = """
mutation($audience: ID!, $assignee: ID) {
  assignContacts(input: {selection: {audienceId: $audience}, assigneeId: $assignee}) {
    succeeded
    failed
    results { __typename ... on ContactUpdated { contact { displayName } } }
  }
}
"""


async def save(
    gql: GraphQL, world: World, name: str, contact_filter: dict[str, Any]
) -> dict[str, Any]:
    data = await gql(SAVE, {"input": {"name": name, "filter": contact_filter}}, as_=world.member)
    audience: dict[str, Any] = data["saveAudience"]
    return audience


def names(connection: dict[str, Any]) -> set[str]:
    return {edge["node"]["displayName"] for edge in connection["edges"]}


async def test_a_saved_audience_is_listed_after_the_built_in_ones_in_the_order_saved(
    gql: GraphQL, world: World
) -> None:
    await world.contact("Ada", "Active", tags=["vip"])
    await world.contact("Bob", "Archived", archived=True, tags=["vip"])
    await world.contact("Cal", "Plain")
    vip = ids.encode("Tag", (await Tag.get(name_key="vip")).id)

    first = await save(gql, world, "  VIPs  ", {"tagIds": [vip]})
    second = await save(gql, world, "Archived VIPs", {"tagIds": [vip], "status": "ARCHIVED"})

    assert {k: first[k] for k in ("name", "kind", "contactCount")} == {
        "name": "VIPs",
        "kind": "SAVED",
        "contactCount": 2,
    }
    data = await gql(AUDIENCES, as_=world.viewer)
    assert [(a["name"], a["kind"], a["contactCount"]) for a in data["audiences"]] == [
        ("My People", "MY_PEOPLE", 2),
        ("Archived People", "ARCHIVED_PEOPLE", 1),
        ("All People", "ALL_PEOPLE", 3),
        ("VIPs", "SAVED", 2),
        ("Archived VIPs", "SAVED", 1),
    ]
    assert [a["id"] for a in data["audiences"][3:]] == [first["id"], second["id"]]


async def test_a_saved_audience_keeps_every_filter_field_and_matches_like_the_filter_itself(
    gql: GraphQL, world: World
) -> None:
    target = await world.contact(
        "Ada",
        "Lovelace",
        company="Analytical Engines",
        stage=StageCategory.PAST,
        tags=["vip"],
    )
    await world.contact("Ada", "Other", company="Analytical Engines", tags=["vip"])
    await world.contact("Ada", "Archived", stage=StageCategory.PAST, archived=True, tags=["vip"])
    bucket = await bucket_of(world, "Newsletter", target)
    vip = ids.encode("Tag", (await Tag.get(name_key="vip")).id)
    contact_filter = {
        "status": "ACTIVE",
        "search": "ANALYTICAL",
        "stageIds": [world.stage_id(StageCategory.PAST), world.stage_id(StageCategory.LOST)],
        "stageCategories": ["PAST"],
        "noStage": False,
        "tagIds": [vip],
        "bucketIds": [bucket],
        "unassigned": True,
        "archivable": True,
    }

    saved = await save(gql, world, "Everything", contact_filter)

    data = await gql(AUDIENCE, {"id": saved["id"]}, as_=world.member)
    direct = await gql(FILTERED, {"filter": contact_filter}, as_=world.member)
    assert names(data["audience"]["contacts"]) == names(direct["contacts"]) == {"Ada Lovelace"}
    assert data["audience"]["contactCount"] == 1
    row = await SavedAudience.get(id=ids.decode(saved["id"], "Audience"))
    assert row.criteria == {
        "status": "active",
        "search": "ANALYTICAL",
        "stage_ids": [world.stages[StageCategory.PAST].id, world.stages[StageCategory.LOST].id],
        "stage_categories": ["past"],
        "no_stage": False,
        "tag_ids": [ids.decode(vip, "Tag")],
        "bucket_ids": [ids.decode(bucket, "Bucket")],
        "unassigned": True,
        "archivable": True,
    }


async def test_a_saved_audience_with_an_assignee_narrows_further_by_a_filter(
    gql: GraphQL, world: World
) -> None:
    await world.contact("Ada", "Mine", assignee=world.member, tags=["vip"])
    await world.contact("Bob", "Mine", assignee=world.member)
    await world.contact("Cal", "Theirs", assignee=world.admin, tags=["vip"])
    vip = ids.encode("Tag", (await Tag.get(name_key="vip")).id)

    saved = await save(gql, world, "Mine", {"assigneeId": world.member.id})

    whole = await gql(AUDIENCE, {"id": saved["id"]}, as_=world.member)
    narrowed = await gql(
        AUDIENCE, {"id": saved["id"], "filter": {"tagIds": [vip]}}, as_=world.member
    )
    assert names(whole["audience"]["contacts"]) == {"Ada Mine", "Bob Mine"}
    assert names(narrowed["audience"]["contacts"]) == {"Ada Mine"}
    assert narrowed["audience"]["contacts"]["totalCount"] == 1
    # The audience's own count is not narrowed by the list's filter.
    assert narrowed["audience"]["contactCount"] == 2


async def test_a_saved_audience_follows_the_contacts_as_they_change(
    gql: GraphQL, world: World
) -> None:
    tagged = await world.contact("Ada", "A", tags=["vip"])
    untagged = await world.contact("Bob", "B")
    vip = ids.encode("Tag", (await Tag.get(name_key="vip")).id)
    saved = await save(gql, world, "VIPs", {"tagIds": [vip]})

    await gql(TAG, {"ids": [gid(untagged)]}, as_=world.member)

    data = await gql(AUDIENCE, {"id": saved["id"]}, as_=world.member)
    assert names(data["audience"]["contacts"]) == {"Ada A", "Bob B"}
    assert tagged.id != untagged.id


async def test_a_saved_audience_selects_the_contacts_it_matches_for_a_bulk_edit(
    gql: GraphQL, world: World
) -> None:
    await world.contact("Ada", "Free")
    await world.contact("Bob", "Free")
    await world.contact("Cal", "Taken", assignee=world.admin)
    saved = await save(gql, world, "Unassigned", {"unassigned": True, "status": "ACTIVE"})

    data = await gql(
        ASSIGN, {"audience": saved["id"], "assignee": world.member.id}, as_=world.member
    )

    payload = data["assignContacts"]
    assert (payload["succeeded"], payload["failed"]) == (2, 0)
    assert payload["results"] == [
        {"__typename": "ContactUpdated", "contact": {"displayName": "Ada Free"}},
        {"__typename": "ContactUpdated", "contact": {"displayName": "Bob Free"}},
    ]


async def test_another_workspace_neither_lists_nor_reads_nor_selects_a_saved_audience(
    gql: GraphQL, world: World, other_world: World
) -> None:
    await world.contact("Ada", "Mine")
    theirs = await other_world.contact("Bob", "Theirs")
    saved = await save(gql, world, "Everyone of mine", {})

    listed = await gql(AUDIENCES, as_=other_world.member)
    read = await gql(AUDIENCE, {"id": saved["id"]}, as_=other_world.member)
    code, _, _ = await gql.error(
        ASSIGN, {"audience": saved["id"], "assignee": None}, as_=other_world.member
    )

    assert [a["kind"] for a in listed["audiences"]] == [
        "MY_PEOPLE",
        "ARCHIVED_PEOPLE",
        "ALL_PEOPLE",
    ]
    assert read["audience"] is None
    assert code == "BAD_USER_INPUT"
    row = await refetch(theirs)
    assert row is not None
    assert row.updated_at == theirs.updated_at


@pytest.mark.parametrize(
    ("name", "search"),
    [("", None), ("   ", None), ("x" * 201, None), ("a\x00", None), ("A", "\x00")],
)
async def test_an_audience_needs_a_name_of_1_to_200_characters_and_no_control_characters(
    gql: GraphQL, world: World, name: str, search: str | None
) -> None:
    code, _, _ = await gql.error(
        SAVE, {"input": {"name": name, "filter": {"search": search}}}, as_=world.member
    )

    assert code == "BAD_USER_INPUT"
    assert await SavedAudience.all().count() == 0


@pytest.mark.parametrize("field", ["stageIds", "tagIds", "bucketIds", "assigneeId"])
async def test_a_filter_naming_another_workspaces_stage_tag_bucket_or_user_is_not_saved(
    gql: GraphQL, world: World, other_world: World, field: str
) -> None:
    theirs = await other_world.contact(tags=["vip"])
    foreign = {
        "stageIds": [other_world.stage_id(StageCategory.LEAD)],
        "tagIds": [ids.encode("Tag", (await Tag.get(name_key="vip")).id)],
        "bucketIds": [await bucket_of(other_world, "Theirs", theirs)],
        "assigneeId": other_world.member.id,
    }[field]

    code, _, _ = await gql.error(
        SAVE, {"input": {"name": "Spy", "filter": {field: foreign}}}, as_=world.member
    )

    assert code == "BAD_USER_INPUT"
    assert await SavedAudience.all().count() == 0


@pytest.mark.parametrize("key", ["99999999999", "\u0661", "0x1", "-1"])
async def test_an_audience_id_that_cannot_be_a_saved_audience_names_none(
    gql: GraphQL, world: World, key: str
) -> None:
    audience_id = ids.encode("Audience", key)

    read = await gql(AUDIENCE, {"id": audience_id}, as_=world.member)
    code, _, _ = await gql.error(
        ASSIGN, {"audience": audience_id, "assignee": None}, as_=world.member
    )

    assert read["audience"] is None
    assert code == "BAD_USER_INPUT"


async def test_a_malformed_id_in_a_saved_filter_is_bad_input(gql: GraphQL, world: World) -> None:
    code, _, _ = await gql.error(
        SAVE, {"input": {"name": "Broken", "filter": {"tagIds": ["nonsense"]}}}, as_=world.member
    )

    assert code == "BAD_USER_INPUT"
    assert await SavedAudience.all().count() == 0


async def test_a_viewer_may_not_save_audiences(gql: GraphQL, world: World) -> None:
    code, _, _ = await gql.error(SAVE, {"input": {"name": "Mine", "filter": {}}}, as_=world.viewer)

    assert code == "FORBIDDEN"
    assert await SavedAudience.all().count() == 0
