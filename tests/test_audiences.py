"""saveAudience and the audiences: built-ins first, saved filters after, each workspace its own."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import GraphQL, World, bucket_of, gid, refetch

from server import ids
from server.directory import MAX_SEARCH
from server.models import Contact, SavedAudience, Tag
from server.policy import ContactStatus, StageCategory

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


# ---------------------------------------------------------------- limits, update, delete

UPDATE = """
mutation($input: UpdateAudienceInput!) {
  updateAudience(input: $input) { id name contactCount }
}
"""

DELETE = "mutation($id: ID!) { deleteAudience(id: $id) }"


async def stored(world: World) -> list[tuple[str, dict[str, Any]]]:
    rows = await SavedAudience.filter(workspace_id=world.workspace.id).order_by("id")
    return [(row.name, row.criteria) for row in rows]


async def test_a_search_longer_than_the_limit_is_refused_and_saves_nothing(
    gql: GraphQL, world: World
) -> None:
    too_long = "x" * (MAX_SEARCH + 1)
    code, message, _ = await gql.error(
        SAVE, {"input": {"name": "Huge", "filter": {"search": too_long}}}, as_=world.member
    )
    assert (code, message) == ("BAD_USER_INPUT", f"A search has at most {MAX_SEARCH} characters.")
    assert await stored(world) == []
    code, _, _ = await gql.error(FILTERED, {"filter": {"search": "y" * 50_001}}, as_=world.member)
    assert code == "BAD_USER_INPUT"
    data = await gql(AUDIENCES, as_=world.viewer)
    assert [audience["name"] for audience in data["audiences"]] == [
        "My People",
        "Archived People",
        "All People",
    ]
    await gql(FILTERED, {"filter": {"search": "z" * MAX_SEARCH}}, as_=world.member)


async def test_a_cursor_longer_than_any_the_server_writes_is_refused(
    gql: GraphQL, world: World
) -> None:
    code, message, _ = await gql.error(
        "query($after: String) { contacts(after: $after) { totalCount } }",
        {"after": "A" * 100_000},
        as_=world.member,
    )
    assert code == "BAD_USER_INPUT"
    assert "cursor" in message


async def test_its_owner_renames_a_saved_audience_and_gives_it_a_new_filter(
    gql: GraphQL, world: World
) -> None:
    await world.contact("Ada", "Active")
    await world.contact("Bob", "Archived", archived=True)
    audience = await save(gql, world, "Actives", {"status": "ACTIVE"})
    renamed = await gql(
        UPDATE, {"input": {"id": audience["id"], "name": "  Renamed  "}}, as_=world.member
    )
    assert renamed["updateAudience"] == {"id": audience["id"], "name": "Renamed", "contactCount": 1}
    refiltered = await gql(
        UPDATE,
        {"input": {"id": audience["id"], "filter": {"status": "ARCHIVED"}}},
        as_=world.member,
    )
    assert refiltered["updateAudience"]["contactCount"] == 1
    assert await stored(world) == [("Renamed", {"status": "archived"})]
    listed = await gql(AUDIENCE, {"id": audience["id"]}, as_=world.viewer)
    assert names(listed["audience"]["contacts"]) == {"Bob Archived"}


async def test_an_update_that_breaks_a_rule_changes_nothing(gql: GraphQL, world: World) -> None:
    audience = await save(gql, world, "Keep", {"status": "ACTIVE"})
    before = await stored(world)
    for change in (
        {"name": ""},
        {"filter": {"search": "x" * (MAX_SEARCH + 1)}},
        {"filter": {"tagIds": [ids.encode("Tag", 999_999)]}},
    ):
        code, _, _ = await gql.error(
            UPDATE, {"input": {"id": audience["id"], **change}}, as_=world.member
        )
        assert code == "BAD_USER_INPUT", change
    assert await stored(world) == before


async def test_only_its_owner_or_an_admin_may_change_or_delete_a_saved_audience(
    gql: GraphQL, world: World
) -> None:
    audience = await save(gql, world, "Member's", {"status": "ACTIVE"})
    theirs = await gql(SAVE, {"input": {"name": "Admin's", "filter": {}}}, as_=world.admin)
    admins = theirs["saveAudience"]["id"]
    before = await stored(world)
    for query, variables in (
        (UPDATE, {"input": {"id": admins, "name": "Mine now"}}),
        (DELETE, {"id": admins}),
    ):
        code, message, _ = await gql.error(query, variables, as_=world.member)
        assert code == "FORBIDDEN"
        assert message == "Only whoever saved this audience, or an admin, may change or delete it."
        code, _, _ = await gql.error(query, variables, as_=world.viewer)
        assert code == "FORBIDDEN"
    assert await stored(world) == before
    data = await gql(DELETE, {"id": audience["id"]}, as_=world.admin)
    assert data == {"deleteAudience": audience["id"]}
    assert await stored(world) == [("Admin's", {})]


async def test_deleting_a_saved_audience_leaves_its_contacts_as_they_are(
    gql: GraphQL, world: World
) -> None:
    ada = await world.contact("Ada", "Active", tags=["vip"])
    audience = await save(gql, world, "Everyone", {})
    assert await gql(DELETE, {"id": audience["id"]}, as_=world.member) == {
        "deleteAudience": audience["id"]
    }
    assert await stored(world) == []
    assert await gql(AUDIENCE, {"id": audience["id"]}, as_=world.member) == {"audience": None}
    data = await gql(FILTERED, {"filter": {}}, as_=world.member)
    assert names(data["contacts"]) == {"Ada Active"}
    assert (await Contact.get(id=ada.id)).status == ContactStatus.ACTIVE


async def test_a_built_in_or_unknown_audience_cannot_be_changed_or_deleted(
    gql: GraphQL, world: World
) -> None:
    my_people = ids.encode("Audience", "my_people")
    other = await save(gql, world, "Ours", {})
    for audience_id, message in (
        (my_people, "A built-in audience cannot be changed or deleted."),
        (ids.encode("Audience", "999999"), "No saved audience with this ID in your workspace."),
        (ids.encode("Contact", 1), "No saved audience with this ID in your workspace."),
        ("not-an-id", "No saved audience with this ID in your workspace."),
    ):
        for query, variables in (
            (UPDATE, {"input": {"id": audience_id, "name": "x"}}),
            (DELETE, {"id": audience_id}),
        ):
            assert await gql.error(query, variables, as_=world.admin) == (
                "BAD_USER_INPUT",
                message,
                None,
            )
    assert await stored(world) == [("Ours", {})]
    assert other["name"] == "Ours"


async def test_another_workspaces_saved_audience_is_unknown_here(
    gql: GraphQL, world: World, other_world: World
) -> None:
    theirs = await gql(SAVE, {"input": {"name": "Theirs", "filter": {}}}, as_=other_world.admin)
    code, message, _ = await gql.error(
        DELETE, {"id": theirs["saveAudience"]["id"]}, as_=world.admin
    )
    assert (code, message) == (
        "BAD_USER_INPUT",
        "No saved audience with this ID in your workspace.",
    )
    assert await stored(other_world) == [("Theirs", {})]
