"""Stage labels: an admin renames stages; the rules keep keying on the category."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import GraphQL, World, gid, refetch

from server import ids
from server.db import values_of
from server.models import Stage
from server.policy import StageCategory

RENAME = """
mutation($id: ID!, $name: String!) {
  renameStage(id: $id, name: $name) { id name category blocksArchive }
}
"""

STAGES = "{ stages { name category blocksArchive } }"

ARCHIVE = """
mutation($ids: [ID!]!) {
  archiveContacts(input: {selection: {ids: $ids}}) {
    succeeded
    failed
    results {
      __typename
      ... on RuleViolation { contactId code }
      ... on ArchiveBlockedByStage { stage { name category } }
      ... on ContactArchived { contact { id status stage { name category } } }
    }
  }
}
"""

ARCHIVABLE = """
query($archivable: Boolean!) {
  contacts(filter: {archivable: $archivable}) { edges { node { displayName } } }
}
"""

LABELS = {
    StageCategory.LEAD: "Warm",
    StageCategory.POTENTIAL: "Hot",
    StageCategory.ACTIVE: "In Contract",
    StageCategory.PAST: "Inactive",
    StageCategory.LOST: "Lost",
}


async def rename(gql: GraphQL, world: World, category: StageCategory, name: str) -> dict[str, Any]:
    data = await gql(RENAME, {"id": world.stage_id(category), "name": name}, as_=world.admin)
    stage: dict[str, Any] = data["renameStage"]
    return stage


async def stage_names(world: World) -> list[str]:
    return list(
        await values_of(Stage.filter(workspace=world.workspace).order_by("position"), "name")
    )


async def test_an_admin_relabels_every_stage_and_the_categories_stay(
    gql: GraphQL, world: World
) -> None:
    for category, label in LABELS.items():
        renamed = await rename(gql, world, category, label)
        assert renamed == {
            "id": world.stage_id(category),
            "name": label,
            "category": category.name,
            "blocksArchive": category
            in (StageCategory.LEAD, StageCategory.POTENTIAL, StageCategory.ACTIVE),
        }

    data = await gql(STAGES, as_=world.viewer)
    assert data["stages"] == [
        {"name": "Warm", "category": "LEAD", "blocksArchive": True},
        {"name": "Hot", "category": "POTENTIAL", "blocksArchive": True},
        {"name": "In Contract", "category": "ACTIVE", "blocksArchive": True},
        {"name": "Inactive", "category": "PAST", "blocksArchive": False},
        {"name": "Lost", "category": "LOST", "blocksArchive": False},
    ]


async def test_a_renamed_lead_stage_still_blocks_archiving(gql: GraphQL, world: World) -> None:
    await rename(gql, world, StageCategory.LEAD, "Warm")
    contact = await world.contact("Ada", "Lovelace", stage=StageCategory.LEAD)

    data = await gql(ARCHIVE, {"ids": [gid(contact)]}, as_=world.member)

    payload = data["archiveContacts"]
    assert (payload["succeeded"], payload["failed"]) == (0, 1)
    assert payload["results"] == [
        {
            "__typename": "ArchiveBlockedByStage",
            "contactId": gid(contact),
            "code": "ARCHIVE_BLOCKED_BY_STAGE",
            "stage": {"name": "Warm", "category": "LEAD"},
        }
    ]
    row = await refetch(contact)
    assert row is not None
    assert (row.status, row.archived_at) == ("active", None)


async def test_a_past_stage_renamed_like_a_blocking_one_still_lets_contacts_be_archived(
    gql: GraphQL, world: World
) -> None:
    # The label reads like a pipeline stage; the category says the deal is over.
    await rename(gql, world, StageCategory.PAST, "Active (old)")
    contact = await world.contact("Ada", "Lovelace", stage=StageCategory.PAST)

    data = await gql(ARCHIVE, {"ids": [gid(contact)]}, as_=world.member)

    assert data["archiveContacts"]["results"] == [
        {
            "__typename": "ContactArchived",
            "contact": {
                "id": gid(contact),
                "status": "ARCHIVED",
                "stage": {"name": "Active (old)", "category": "PAST"},
            },
        }
    ]


async def test_the_archivable_filter_follows_categories_after_renaming(
    gql: GraphQL, world: World
) -> None:
    for category, label in LABELS.items():
        await rename(gql, world, category, label)
    for category in StageCategory:
        await world.contact(category.name.title(), "Staged", stage=category)

    archivable = await gql(ARCHIVABLE, {"archivable": True}, as_=world.member)
    blocked = await gql(ARCHIVABLE, {"archivable": False}, as_=world.member)

    def names(data: dict[str, Any]) -> set[str]:
        return {edge["node"]["displayName"] for edge in data["contacts"]["edges"]}

    assert names(archivable) == {"Past Staged", "Lost Staged"}
    assert names(blocked) == {"Lead Staged", "Potential Staged", "Active Staged"}


@pytest.mark.parametrize("role", ["member", "viewer"])
async def test_only_an_admin_may_rename_stages(gql: GraphQL, world: World, role: str) -> None:
    person = world.member if role == "member" else world.viewer

    code, _, _ = await gql.error(
        RENAME, {"id": world.stage_id(StageCategory.LEAD), "name": "Warm"}, as_=person
    )

    assert code == "FORBIDDEN"
    assert await stage_names(world) == ["Lead", "Potential", "Active", "Past", "Lost"]


@pytest.mark.parametrize("stage", ["other workspace", "malformed", "unknown"])
async def test_a_stage_outside_the_workspace_is_bad_input_and_nothing_is_renamed(
    gql: GraphQL, world: World, other_world: World, stage: str
) -> None:
    stage_id = {
        "other workspace": other_world.stage_id(StageCategory.LEAD),
        "malformed": "nonsense",
        "unknown": ids.encode("Stage", 999_999),
    }[stage]

    code, _, _ = await gql.error(RENAME, {"id": stage_id, "name": "Warm"}, as_=world.admin)

    assert code == "BAD_USER_INPUT"
    assert await stage_names(world) == await stage_names(other_world)
    assert await stage_names(other_world) == ["Lead", "Potential", "Active", "Past", "Lost"]


@pytest.mark.parametrize("name", ["", "   ", "x" * 101, "potential", " LOST ", "W\x00rm"])
async def test_a_blank_overlong_or_taken_name_is_bad_input_and_nothing_is_renamed(
    gql: GraphQL, world: World, name: str
) -> None:
    code, _, _ = await gql.error(
        RENAME, {"id": world.stage_id(StageCategory.LEAD), "name": name}, as_=world.admin
    )

    assert code == "BAD_USER_INPUT"
    assert await stage_names(world) == ["Lead", "Potential", "Active", "Past", "Lost"]


async def test_a_stage_may_be_renamed_to_another_case_of_its_own_name(
    gql: GraphQL, world: World
) -> None:
    renamed = await rename(gql, world, StageCategory.LEAD, "  LEAD  ")

    assert renamed["name"] == "LEAD"
    assert await stage_names(world) == ["LEAD", "Potential", "Active", "Past", "Lost"]
