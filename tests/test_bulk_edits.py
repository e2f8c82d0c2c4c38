"""Bulk edits (stage, assignee, tags, buckets): per-contact results, and archived ones frozen."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import GraphQL, World, bucket_of, gid, refetch

from server import ids
from server.db import values_of
from server.editing import MAX_TAGS
from server.models import Bucket, Contact, ContactBucket, ContactTag, Tag
from server.policy import StageCategory

RESULTS = """
    succeeded
    failed
    results {
      __typename
      ... on RuleViolation { contactId code message }
      ... on ContactUpdated { contact { id updatedAt } }
      ... on ContactIsArchived { contact { id status } }
    }
"""

MUTATIONS = {
    name: f"mutation($input: {input_type}!) {{ {name}(input: $input) {{ {RESULTS} }} }}"
    for name, input_type in (
        ("setContactStage", "SetStageInput"),
        ("assignContacts", "AssignContactsInput"),
        ("tagContacts", "TagContactsInput"),
        ("untagContacts", "TagContactsInput"),
        ("addContactsToBucket", "BucketContactsInput"),
        ("removeContactsFromBucket", "BucketContactsInput"),
    )
}

CREATE_BUCKET = "mutation($name: String!) { createBucket(name: $name) { id name contactCount } }"

ARCHIVED_MESSAGE = "The contact is archived: unarchive it before changing or messaging it."
NOT_FOUND_MESSAGE = "No contact with this ID exists in your workspace."


async def snapshot(contact: Contact) -> tuple[object, ...]:
    """What a refused edit must not change, read back from the database."""
    row = await refetch(contact)
    assert row is not None
    tags = sorted(await values_of(ContactTag.filter(contact_id=contact.id), "tag__name"))
    buckets = sorted(await values_of(ContactBucket.filter(contact_id=contact.id), "bucket_id"))
    return (
        row.status,
        row.stage_id,
        row.assignee_id,
        row.first_name,
        row.emails,
        row.updated_at,
        tags,
        buckets,
    )


async def edit(
    gql: GraphQL, world: World, mutation: str, contact_ids: list[str], **arguments: Any
) -> dict[str, Any]:
    variables = {"input": {"selection": {"ids": contact_ids}, **arguments}}
    data = await gql(MUTATIONS[mutation], variables, as_=world.member)
    payload: dict[str, Any] = data[mutation]
    return payload


def outcomes(payload: dict[str, Any]) -> list[tuple[str, str | None, str]]:
    """(__typename, code, contact ID) of each result, in order."""
    return [
        (
            r["__typename"],
            r.get("code"),
            r["contactId"] if "contactId" in r else r["contact"]["id"],
        )
        for r in payload["results"]
    ]


def counts(payload: dict[str, Any]) -> tuple[int, int]:
    return payload["succeeded"], payload["failed"]


async def tag_names(contact: Contact) -> list[str]:
    return sorted(await values_of(ContactTag.filter(contact_id=contact.id), "tag__name"))


# ---------------------------------------------------------------- the rules, for every edit


async def arguments_for(mutation: str, world: World) -> dict[str, Any]:
    """Valid arguments of each bulk edit, beside the selection."""
    if mutation == "setContactStage":
        return {"stageId": world.stage_id(StageCategory.PAST)}
    if mutation == "assignContacts":
        return {"assigneeId": world.member.id}
    if mutation in ("tagContacts", "untagContacts"):
        return {"tagNames": ["vip", "new-tag"]}
    return {"bucketId": await bucket_of(world, "Newsletter")}


EDITS = sorted(MUTATIONS)


@pytest.mark.parametrize("mutation", EDITS)
async def test_an_archived_contact_is_frozen_against_every_edit(
    gql: GraphQL, world: World, mutation: str
) -> None:
    arguments = await arguments_for(mutation, world)
    frozen = await world.contact("Ada", "Lovelace", archived=True, tags=["vip"])
    if "bucketId" in arguments:
        bucket = ids.decode(arguments["bucketId"], "Bucket")
        await ContactBucket.create(contact=frozen, bucket_id=bucket)
    before = await snapshot(frozen)

    payload = await edit(gql, world, mutation, [gid(frozen)], **arguments)

    assert counts(payload) == (0, 1)
    assert payload["results"] == [
        {
            "__typename": "ContactIsArchived",
            "contactId": gid(frozen),
            "code": "CONTACT_ARCHIVED",
            "message": ARCHIVED_MESSAGE,
            "contact": {"id": gid(frozen), "status": "ARCHIVED"},
        }
    ]
    assert await snapshot(frozen) == before
    assert await Tag.filter(name_key="new-tag").count() == 0


@pytest.mark.parametrize("mutation", EDITS)
async def test_every_edit_gives_one_result_per_contact_in_order_and_changes_only_active_ones(
    gql: GraphQL, world: World, other_world: World, mutation: str
) -> None:
    arguments = await arguments_for(mutation, world)
    active = await world.contact("Ada", "Lovelace", tags=["vip"])
    archived = await world.contact("Bob", "Archived", archived=True)
    theirs = await other_world.contact("Their", "Contact", tags=["vip"])
    refused = {c.id: await snapshot(c) for c in (archived, theirs)}

    payload = await edit(
        gql,
        world,
        mutation,
        [gid(archived), "garbage", gid(active), gid(theirs), gid(active)],
        **arguments,
    )

    assert counts(payload) == (1, 3)
    assert outcomes(payload) == [
        ("ContactIsArchived", "CONTACT_ARCHIVED", gid(archived)),
        ("ContactNotFound", "CONTACT_NOT_FOUND", "garbage"),
        ("ContactUpdated", None, gid(active)),
        ("ContactNotFound", "CONTACT_NOT_FOUND", gid(theirs)),
    ]
    assert payload["results"][1]["message"] == NOT_FOUND_MESSAGE
    assert {c.id: await snapshot(c) for c in (archived, theirs)} == refused
    row = await refetch(active)
    assert row is not None
    assert row.updated_at > active.updated_at
    assert payload["results"][2]["contact"]["updatedAt"] == row.updated_at.isoformat()


@pytest.mark.parametrize("mutation", EDITS)
async def test_a_viewer_may_not_edit(gql: GraphQL, world: World, mutation: str) -> None:
    arguments = await arguments_for(mutation, world)
    contact = await world.contact()
    before = await snapshot(contact)

    code, _, _ = await gql.error(
        MUTATIONS[mutation],
        {"input": {"selection": {"ids": [gid(contact)]}, **arguments}},
        as_=world.viewer,
    )

    assert code == "FORBIDDEN"
    assert await snapshot(contact) == before


# ---------------------------------------------------------------- stages


async def test_setting_a_stage_moves_the_selected_contacts_into_it(
    gql: GraphQL, world: World
) -> None:
    first = await world.contact("Ada", "A")
    second = await world.contact("Bob", "B", stage=StageCategory.LEAD)

    payload = await edit(
        gql,
        world,
        "setContactStage",
        [gid(first), gid(second)],
        stageId=world.stage_id(StageCategory.ACTIVE),
    )

    assert counts(payload) == (2, 0)
    assert outcomes(payload) == [
        ("ContactUpdated", None, gid(first)),
        ("ContactUpdated", None, gid(second)),
    ]
    for contact in (first, second):
        row = await refetch(contact)
        assert row is not None
        assert row.stage_id == world.stages[StageCategory.ACTIVE].id


async def test_a_null_stage_removes_the_stage(gql: GraphQL, world: World) -> None:
    contact = await world.contact(stage=StageCategory.LEAD)

    payload = await edit(gql, world, "setContactStage", [gid(contact)], stageId=None)

    assert outcomes(payload) == [("ContactUpdated", None, gid(contact))]
    row = await refetch(contact)
    assert row is not None
    assert row.stage_id is None


@pytest.mark.parametrize("stage", ["other workspace", "malformed", "unknown"])
async def test_a_stage_outside_the_workspace_is_bad_input_and_changes_nothing(
    gql: GraphQL, world: World, other_world: World, stage: str
) -> None:
    contact = await world.contact(stage=StageCategory.LEAD)
    before = await snapshot(contact)
    stage_id = {
        "other workspace": other_world.stage_id(StageCategory.PAST),
        "malformed": "nonsense",
        "unknown": ids.encode("Stage", 999_999),
    }[stage]

    code, _, _ = await gql.error(
        MUTATIONS["setContactStage"],
        {"input": {"selection": {"ids": [gid(contact)]}, "stageId": stage_id}},
        as_=world.member,
    )

    assert code == "BAD_USER_INPUT"
    assert await snapshot(contact) == before


# ---------------------------------------------------------------- assignees


async def test_assigning_sets_the_assignee_and_null_unassigns(gql: GraphQL, world: World) -> None:
    contact = await world.contact()

    assigned = await edit(gql, world, "assignContacts", [gid(contact)], assigneeId=world.admin.id)
    row = await refetch(contact)
    assert row is not None
    assert row.assignee_id == world.admin.user.id

    unassigned = await edit(gql, world, "assignContacts", [gid(contact)], assigneeId=None)
    row = await refetch(contact)
    assert row is not None
    assert row.assignee_id is None

    assert outcomes(assigned) == outcomes(unassigned) == [("ContactUpdated", None, gid(contact))]


@pytest.mark.parametrize("assignee", ["other workspace", "malformed", "unknown"])
async def test_an_assignee_outside_the_workspace_is_bad_input_and_changes_nothing(
    gql: GraphQL, world: World, other_world: World, assignee: str
) -> None:
    contact = await world.contact(assignee=world.member)
    before = await snapshot(contact)
    assignee_id = {
        "other workspace": other_world.member.id,
        "malformed": "nonsense",
        "unknown": ids.encode("User", 999_999),
    }[assignee]

    code, _, _ = await gql.error(
        MUTATIONS["assignContacts"],
        {"input": {"selection": {"ids": [gid(contact)]}, "assigneeId": assignee_id}},
        as_=world.member,
    )

    assert code == "BAD_USER_INPUT"
    assert await snapshot(contact) == before


# ---------------------------------------------------------------- tags


async def test_tagging_creates_unknown_tags_and_reuses_existing_ones_case_insensitively(
    gql: GraphQL, world: World
) -> None:
    first = await world.contact("Ada", "A", tags=["VIP"])
    second = await world.contact("Bob", "B")

    payload = await edit(
        gql, world, "tagContacts", [gid(first), gid(second)], tagNames=["vip", "Golf", "GOLF"]
    )

    assert counts(payload) == (2, 0)
    assert outcomes(payload) == [
        ("ContactUpdated", None, gid(first)),
        ("ContactUpdated", None, gid(second)),
    ]
    assert sorted(await values_of(Tag.filter(workspace=world.workspace), "name")) == [
        "Golf",
        "VIP",
    ]
    assert await tag_names(first) == ["Golf", "VIP"]
    assert await tag_names(second) == ["Golf", "VIP"]


async def test_tagging_twice_keeps_one_link(gql: GraphQL, world: World) -> None:
    contact = await world.contact()

    await edit(gql, world, "tagContacts", [gid(contact)], tagNames=["vip"])
    payload = await edit(gql, world, "tagContacts", [gid(contact)], tagNames=["VIP"])

    assert outcomes(payload) == [("ContactUpdated", None, gid(contact))]
    assert await ContactTag.filter(contact_id=contact.id).count() == 1


async def test_tags_are_unique_per_workspace_not_across_workspaces(
    gql: GraphQL, world: World, other_world: World
) -> None:
    theirs = await other_world.contact(tags=["vip"])
    mine = await world.contact()

    await edit(gql, world, "tagContacts", [gid(mine)], tagNames=["VIP"])

    assert await Tag.filter(workspace=world.workspace).count() == 1
    assert await tag_names(theirs) == ["vip"]
    assert await tag_names(mine) == ["VIP"]


async def test_untagging_removes_tags_case_insensitively_and_ignores_unknown_names(
    gql: GraphQL, world: World
) -> None:
    contact = await world.contact(tags=["vip", "golf"])
    other = await world.contact("Bob", "B", tags=["vip"])

    payload = await edit(gql, world, "untagContacts", [gid(contact)], tagNames=["VIP", "never"])

    assert outcomes(payload) == [("ContactUpdated", None, gid(contact))]
    assert await tag_names(contact) == ["golf"]
    assert await tag_names(other) == ["vip"]
    assert await Tag.filter(name_key="never").count() == 0


@pytest.mark.parametrize("mutation", ["tagContacts", "untagContacts"])
@pytest.mark.parametrize("names", [[], ["ok", "  "], ["x" * 101], ["a\x00b"]])
async def test_missing_blank_or_too_long_tag_names_are_bad_input_and_change_nothing(
    gql: GraphQL, world: World, mutation: str, names: list[str]
) -> None:
    contact = await world.contact(tags=["ok"])
    before = await snapshot(contact)

    code, _, _ = await gql.error(
        MUTATIONS[mutation],
        {"input": {"selection": {"ids": [gid(contact)]}, "tagNames": names}},
        as_=world.member,
    )

    assert code == "BAD_USER_INPUT"
    assert await snapshot(contact) == before
    assert await Tag.all().count() == 1


async def test_a_tag_name_whose_key_would_not_fit_is_refused(gql: GraphQL, world: World) -> None:
    contact = await world.contact()

    # 60 characters, but 120 once case-folded ("ß" folds to "ss").
    code, _, _ = await gql.error(
        MUTATIONS["tagContacts"],
        {"input": {"selection": {"ids": [gid(contact)]}, "tagNames": ["ß" * 60]}},
        as_=world.member,
    )

    assert code == "BAD_USER_INPUT"
    assert await Tag.all().count() == 0


# ---------------------------------------------------------------- buckets


BUCKETS = """
query { buckets { name contactCount } }
"""


async def test_adding_to_a_bucket_links_each_contact_once_and_removing_unlinks_it(
    gql: GraphQL, world: World
) -> None:
    first = await world.contact("Ada", "A")
    second = await world.contact("Bob", "B")
    bucket_id = await bucket_of(world, "Newsletter", first)

    added = await edit(
        gql, world, "addContactsToBucket", [gid(first), gid(second)], bucketId=bucket_id
    )
    assert counts(added) == (2, 0)
    assert outcomes(added) == [
        ("ContactUpdated", None, gid(first)),
        ("ContactUpdated", None, gid(second)),
    ]
    assert (await gql(BUCKETS, as_=world.member))["buckets"] == [
        {"name": "Newsletter", "contactCount": 2}
    ]

    removed = await edit(gql, world, "removeContactsFromBucket", [gid(first)], bucketId=bucket_id)
    assert outcomes(removed) == [("ContactUpdated", None, gid(first))]
    assert await ContactBucket.filter(contact_id=first.id).count() == 0
    assert await ContactBucket.filter(contact_id=second.id).count() == 1


@pytest.mark.parametrize("mutation", ["addContactsToBucket", "removeContactsFromBucket"])
@pytest.mark.parametrize("bucket", ["other workspace", "malformed", "unknown"])
async def test_a_bucket_outside_the_workspace_is_bad_input_and_changes_nothing(
    gql: GraphQL, world: World, other_world: World, mutation: str, bucket: str
) -> None:
    contact = await world.contact()
    theirs = await other_world.contact()
    their_bucket = await bucket_of(other_world, "Theirs", theirs)
    before = (await snapshot(contact), await snapshot(theirs))
    bucket_id = {
        "other workspace": their_bucket,
        "malformed": "nonsense",
        "unknown": ids.encode("Bucket", 999_999),
    }[bucket]

    code, _, _ = await gql.error(
        MUTATIONS[mutation],
        {"input": {"selection": {"ids": [gid(contact)]}, "bucketId": bucket_id}},
        as_=world.member,
    )

    assert code == "BAD_USER_INPUT"
    assert (await snapshot(contact), await snapshot(theirs)) == before


async def test_a_bucket_is_created_empty_in_the_viewers_workspace_only(
    gql: GraphQL, world: World, other_world: World
) -> None:
    data = await gql(CREATE_BUCKET, {"name": "  Spring   campaign "}, as_=world.member)

    bucket = data["createBucket"]
    assert (bucket["name"], bucket["contactCount"]) == ("Spring campaign", 0)
    row = await Bucket.get(id=ids.decode(bucket["id"], "Bucket"))
    assert row.workspace_id == world.workspace.id
    assert (await gql(BUCKETS, as_=other_world.member))["buckets"] == []


@pytest.mark.parametrize("name", ["", "   ", "x" * 101, "a\x00b"])
async def test_a_bucket_needs_a_name_of_1_to_100_characters_without_control_characters(
    gql: GraphQL, world: World, name: str
) -> None:
    code, _, _ = await gql.error(CREATE_BUCKET, {"name": name}, as_=world.member)

    assert code == "BAD_USER_INPUT"
    assert await Bucket.all().count() == 0


async def test_a_viewer_may_not_create_buckets(gql: GraphQL, world: World) -> None:
    code, _, _ = await gql.error(CREATE_BUCKET, {"name": "Mine"}, as_=world.viewer)

    assert code == "FORBIDDEN"
    assert await Bucket.all().count() == 0


# ---------------------------------------------------------------- audience selections


async def test_an_audience_selection_edits_the_active_and_reports_the_archived_frozen(
    gql: GraphQL, world: World
) -> None:
    active = await world.contact("Ada", "A", tags=["vip"])
    archived = await world.contact("Bob", "B", archived=True, tags=["vip"])
    await world.contact("Cal", "C")
    before = await snapshot(archived)
    tag_id = ids.encode("Tag", (await Tag.get(name_key="vip")).id)

    data = await gql(
        MUTATIONS["assignContacts"],
        {
            "input": {
                "selection": {
                    "audienceId": ids.encode("Audience", "all_people"),
                    "filter": {"tagIds": [tag_id]},
                },
                "assigneeId": world.member.id,
            }
        },
        as_=world.member,
    )

    payload = data["assignContacts"]
    assert counts(payload) == (1, 1)
    assert outcomes(payload) == [
        ("ContactUpdated", None, gid(active)),
        ("ContactIsArchived", "CONTACT_ARCHIVED", gid(archived)),
    ]
    assert await snapshot(archived) == before


# ---------------------------------------------------------------- tag caps


async def test_a_call_naming_more_tags_than_a_contact_may_carry_is_refused_whole(
    gql: GraphQL, world: World
) -> None:
    contact = await world.contact()
    names = [f"t{n}" for n in range(MAX_TAGS + 1)]
    code, message, _ = await gql.error(
        MUTATIONS["tagContacts"],
        {"input": {"selection": {"ids": [gid(contact)]}, "tagNames": names}},
        as_=world.member,
    )
    assert code == "BAD_USER_INPUT"
    assert f"At most {MAX_TAGS} tags." in message
    assert await Tag.filter(workspace_id=world.workspace.id).count() == 0
    assert await tag_names(contact) == []


async def test_tagging_that_would_crowd_one_contact_beyond_the_cap_changes_no_contact(
    gql: GraphQL, world: World
) -> None:
    crowded = await world.contact("Full", "Up", tags=[f"old{n}" for n in range(MAX_TAGS - 1)])
    roomy = await world.contact("Room", "Y")
    before = await Tag.filter(workspace_id=world.workspace.id).count()
    code, message, _ = await gql.error(
        MUTATIONS["tagContacts"],
        {"input": {"selection": {"ids": [gid(crowded), gid(roomy)]}, "tagNames": ["a", "b"]}},
        as_=world.member,
    )
    assert (code, message) == (
        "BAD_USER_INPUT",
        f"1 of the selected contacts would have more than {MAX_TAGS} tags; untag them first. "
        "Nothing was changed.",
    )
    assert await tag_names(roomy) == []
    assert len(await tag_names(crowded)) == MAX_TAGS - 1
    assert await Tag.filter(workspace_id=world.workspace.id).count() == before


async def test_a_contact_may_be_tagged_up_to_the_cap_counting_tags_it_has_once(
    gql: GraphQL, world: World
) -> None:
    almost = await world.contact(tags=[f"old{n}" for n in range(MAX_TAGS - 1)])
    payload = await edit(gql, world, "tagContacts", [gid(almost)], tagNames=["old0", "new"])
    assert counts(payload) == (1, 0)
    assert len(await tag_names(almost)) == MAX_TAGS


async def test_creating_a_contact_with_more_tags_than_the_cap_is_invalid_input(
    gql: GraphQL, world: World
) -> None:
    data = await gql(
        """mutation ($input: ContactInput!) { createContact(input: $input) {
          __typename ... on InvalidContactInput { errors { field message } } } }""",
        {"input": {"firstName": "Many", "tagNames": [f"t{n}" for n in range(MAX_TAGS + 1)]}},
        as_=world.member,
    )
    assert data["createContact"] == {
        "__typename": "InvalidContactInput",
        "errors": [{"field": "tagNames", "message": f"At most {MAX_TAGS} tags."}],
    }
    assert await Contact.filter(workspace_id=world.workspace.id).count() == 0
