"""archiveContacts through GraphQL: every archive row of CONTRACT.md's rules table."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from conftest import GraphQL, World, gid, refetch

from server import ids
from server.models import Contact, ContactTag, Interaction
from server.policy import ContactStatus, StageCategory

ARCHIVE = """
mutation Archive($input: ArchiveContactsInput!) {
  archiveContacts(input: $input) {
    succeeded
    failed
    dryRun
    results {
      __typename
      ... on RuleViolation { contactId code message }
      ... on ContactArchived { contact { id status archivedAt } }
      ... on ContactIsArchived { contact { id status } }
      ... on ArchiveBlockedByStage { contact { id status } stage { id name category } }
      ... on ArchiveBlockedByAssignee { contact { id status } assignee { id } }
    }
  }
}
"""

CONTACT = """
query Contact($id: ID!) {
  contact(id: $id) {
    status
    archivedAt
    archiveBlockers {
      __typename
      ... on RuleViolation { contactId code }
      ... on ArchiveBlockedByStage { stage { id } }
      ... on ArchiveBlockedByAssignee { assignee { id } }
    }
    tags { name }
    interactions { totalCount }
  }
}
"""

State = tuple[object, ...]


async def state(contact: Contact) -> State:
    """What a refused action must not change, read back from the database."""
    row = await refetch(contact)
    assert row is not None
    return (
        row.status,
        row.archived_at,
        row.updated_at,
        row.stage_id,
        row.assignee_id,
        row.first_name,
        row.last_name,
        row.emails,
        row.phones,
    )


async def archive(
    gql: GraphQL, world: World, contact_ids: list[str], *, dry_run: bool = False
) -> dict[str, Any]:
    data = await gql(
        ARCHIVE,
        {"input": {"selection": {"ids": contact_ids}, "dryRun": dry_run}},
        as_=world.member,
    )
    payload: dict[str, Any] = data["archiveContacts"]
    return payload


def kinds(payload: dict[str, Any]) -> list[tuple[str, str | None, str | None]]:
    """(__typename, code, contactId) of each result; successes carry the contact's ID."""
    return [
        (
            r["__typename"],
            r.get("code"),
            r["contactId"] if "contactId" in r else r["contact"]["id"],
        )
        for r in payload["results"]
    ]


# ---------------------------------------------------------------- archiving


async def test_archiving_an_active_contact_without_stage_or_assignee_makes_it_archived_now(
    gql: GraphQL, world: World
) -> None:
    contact = await world.contact()
    before = await refetch(contact)
    assert before is not None
    started = datetime.now(UTC)

    payload = await archive(gql, world, [gid(contact)])

    assert (payload["succeeded"], payload["failed"], payload["dryRun"]) == (1, 0, False)
    [result] = payload["results"]
    assert result["__typename"] == "ContactArchived"
    assert result["contact"]["id"] == gid(contact)
    assert result["contact"]["status"] == "ARCHIVED"
    after = await refetch(contact)
    assert after is not None
    assert after.status == ContactStatus.ARCHIVED
    assert after.archived_at is not None
    assert started <= after.archived_at <= datetime.now(UTC)
    assert datetime.fromisoformat(result["contact"]["archivedAt"]) == after.archived_at
    assert after.updated_at > before.updated_at


@pytest.mark.parametrize("stage", [StageCategory.PAST, StageCategory.LOST])
async def test_a_contact_in_a_past_or_lost_stage_is_archived_and_keeps_its_stage(
    gql: GraphQL, world: World, stage: StageCategory
) -> None:
    contact = await world.contact(stage=stage)

    payload = await archive(gql, world, [gid(contact)])

    assert kinds(payload) == [("ContactArchived", None, gid(contact))]
    after = await refetch(contact)
    assert after is not None
    assert after.status == ContactStatus.ARCHIVED
    assert after.stage_id == world.stages[stage].id


@pytest.mark.parametrize(
    "stage", [StageCategory.LEAD, StageCategory.POTENTIAL, StageCategory.ACTIVE]
)
async def test_a_contact_in_a_lead_potential_or_active_stage_is_refused_and_left_unchanged(
    gql: GraphQL, world: World, stage: StageCategory
) -> None:
    contact = await world.contact(stage=stage)
    before = await state(contact)

    payload = await archive(gql, world, [gid(contact)])

    assert (payload["succeeded"], payload["failed"], payload["dryRun"]) == (0, 1, False)
    [result] = payload["results"]
    assert result["__typename"] == "ArchiveBlockedByStage"
    assert result["code"] == "ARCHIVE_BLOCKED_BY_STAGE"
    assert result["contactId"] == gid(contact)
    assert result["contact"] == {"id": gid(contact), "status": "ACTIVE"}
    assert result["stage"]["id"] == world.stage_id(stage)
    assert result["stage"]["category"] == stage.name
    assert result["message"]
    assert await state(contact) == before


async def test_a_lead_stage_renamed_warm_still_blocks_archiving(gql: GraphQL, world: World) -> None:
    lead = world.stages[StageCategory.LEAD]
    lead.name = "Warm"
    await lead.save()
    contact = await world.contact(stage=StageCategory.LEAD)
    before = await state(contact)

    payload = await archive(gql, world, [gid(contact)])

    [result] = payload["results"]
    assert result["__typename"] == "ArchiveBlockedByStage"
    assert result["code"] == "ARCHIVE_BLOCKED_BY_STAGE"
    assert result["stage"] == {
        "id": world.stage_id(StageCategory.LEAD),
        "name": "Warm",
        "category": "LEAD",
    }
    assert await state(contact) == before


async def test_an_assigned_contact_is_refused_naming_its_assignee_and_left_unchanged(
    gql: GraphQL, world: World
) -> None:
    contact = await world.contact(stage=StageCategory.PAST, assignee=world.member)
    before = await state(contact)

    payload = await archive(gql, world, [gid(contact)])

    assert (payload["succeeded"], payload["failed"]) == (0, 1)
    [result] = payload["results"]
    assert result["__typename"] == "ArchiveBlockedByAssignee"
    assert result["code"] == "ARCHIVE_BLOCKED_BY_ASSIGNEE"
    assert result["contactId"] == gid(contact)
    assert result["assignee"] == {"id": world.member.id}
    assert await state(contact) == before


async def test_a_contact_blocked_by_both_stage_and_assignee_is_refused_for_its_stage(
    gql: GraphQL, world: World
) -> None:
    contact = await world.contact(stage=StageCategory.ACTIVE, assignee=world.admin)
    before = await state(contact)

    payload = await archive(gql, world, [gid(contact)])

    assert kinds(payload) == [("ArchiveBlockedByStage", "ARCHIVE_BLOCKED_BY_STAGE", gid(contact))]
    assert await state(contact) == before


async def test_archiving_an_archived_contact_reports_it_archived_already_and_changes_nothing(
    gql: GraphQL, world: World
) -> None:
    contact = await world.contact(archived=True)
    before = await state(contact)

    payload = await archive(gql, world, [gid(contact)])

    assert (payload["succeeded"], payload["failed"]) == (0, 1)
    [result] = payload["results"]
    assert result["__typename"] == "ContactIsArchived"
    assert result["code"] == "CONTACT_ARCHIVED"
    assert result["contactId"] == gid(contact)
    assert result["contact"] == {"id": gid(contact), "status": "ARCHIVED"}
    assert await state(contact) == before


async def test_an_archived_contact_is_reported_archived_before_its_stage_or_assignee(
    gql: GraphQL, world: World
) -> None:
    contact = await world.contact(archived=True, stage=StageCategory.LEAD, assignee=world.member)
    before = await state(contact)

    payload = await archive(gql, world, [gid(contact)])

    assert kinds(payload) == [("ContactIsArchived", "CONTACT_ARCHIVED", gid(contact))]
    assert await state(contact) == before


# ---------------------------------------------------------------- selections of ids


async def test_a_mixed_selection_gives_one_result_per_distinct_contact_in_input_order(
    gql: GraphQL, world: World, other_world: World
) -> None:
    free = await world.contact("Free", "One")
    lead = await world.contact("Lead", "Two", stage=StageCategory.LEAD)
    assigned = await world.contact("Assigned", "Three", assignee=world.member)
    archived = await world.contact("Archived", "Four", archived=True)
    lost = await world.contact("Lost", "Five", stage=StageCategory.LOST)
    foreign = await other_world.contact("Foreign", "Six")
    refused = [lead, assigned, archived, foreign]
    before = {c.id: await state(c) for c in refused}
    sent = [
        gid(lead),
        gid(free),
        "not-an-id",
        gid(lead),
        gid(archived),
        gid(foreign),
        gid(assigned),
        gid(free),
        "not-an-id",
        gid(lost),
    ]

    payload = await archive(gql, world, sent)

    assert kinds(payload) == [
        ("ArchiveBlockedByStage", "ARCHIVE_BLOCKED_BY_STAGE", gid(lead)),
        ("ContactArchived", None, gid(free)),
        ("ContactNotFound", "CONTACT_NOT_FOUND", "not-an-id"),
        ("ContactIsArchived", "CONTACT_ARCHIVED", gid(archived)),
        ("ContactNotFound", "CONTACT_NOT_FOUND", gid(foreign)),
        ("ArchiveBlockedByAssignee", "ARCHIVE_BLOCKED_BY_ASSIGNEE", gid(assigned)),
        ("ContactArchived", None, gid(lost)),
    ]
    assert (payload["succeeded"], payload["failed"], payload["dryRun"]) == (2, 5, False)
    for contact in (free, lost):
        row = await refetch(contact)
        assert row is not None
        assert row.status == ContactStatus.ARCHIVED
    for contact in refused:
        assert await state(contact) == before[contact.id]


def insert_junk(global_id: str) -> str:
    """Four characters that are not base64, so the length keeps its padding."""
    return global_id[:4] + "!*!*" + global_id[4:]


def arabic_indic(pk: int) -> str:
    return "".join(chr(0x660 + int(digit)) for digit in str(pk))


# Each builds, from the key of an existing contact, an ID the server never issued for it.
MALFORMED_IDS: list[Any] = [
    pytest.param(lambda pk: "not-an-id", id="garbage"),
    pytest.param(lambda pk: "", id="empty"),
    pytest.param(lambda pk: ids.encode("Contact", "abc"), id="non-numeric-key"),
    pytest.param(lambda pk: ids.encode("Contact", f"-{pk}"), id="negative-key"),
    pytest.param(lambda pk: ids.encode("Contact", pk + 1_000_000), id="no-such-contact"),
    pytest.param(lambda pk: ids.encode("Stage", pk), id="another-type"),
    pytest.param(lambda pk: ids.encode("Contact", pk) + "!!!!", id="junk-after-the-id"),
    pytest.param(lambda pk: insert_junk(ids.encode("Contact", pk)), id="junk-inside-the-id"),
    pytest.param(lambda pk: ids.encode("Contact", f"0{pk}"), id="leading-zero-key"),
    pytest.param(lambda pk: ids.encode("Contact", arabic_indic(pk)), id="non-ascii-digit-key"),
]


@pytest.mark.parametrize("make_id", MALFORMED_IDS)
async def test_a_malformed_or_unknown_id_is_not_found_with_the_id_exactly_as_sent(
    gql: GraphQL, world: World, make_id: Callable[[int], str]
) -> None:
    bystander = await world.contact()
    before = await state(bystander)
    raw_id = make_id(bystander.id)

    payload = await archive(gql, world, [raw_id])

    assert (payload["succeeded"], payload["failed"]) == (0, 1)
    [result] = payload["results"]
    assert result["__typename"] == "ContactNotFound"
    assert result["code"] == "CONTACT_NOT_FOUND"
    assert result["contactId"] == raw_id
    assert result["message"]
    assert await state(bystander) == before


async def test_another_workspaces_contact_is_not_found_and_not_archived(
    gql: GraphQL, world: World, other_world: World
) -> None:
    foreign = await other_world.contact("Grace", "Hopper")
    before = await state(foreign)

    payload = await archive(gql, world, [gid(foreign)])

    assert kinds(payload) == [("ContactNotFound", "CONTACT_NOT_FOUND", gid(foreign))]
    assert await state(foreign) == before


# ---------------------------------------------------------------- dry runs


async def test_a_dry_run_reports_what_a_real_run_then_does_and_changes_nothing(
    gql: GraphQL, world: World
) -> None:
    free = await world.contact("Free", "One")
    lead = await world.contact("Lead", "Two", stage=StageCategory.POTENTIAL)
    archived = await world.contact("Archived", "Three", archived=True)
    everyone = [free, lead, archived]
    sent = [gid(free), gid(lead), gid(archived), "missing"]
    before = {c.id: await state(c) for c in everyone}

    dry = await archive(gql, world, sent, dry_run=True)

    assert (dry["succeeded"], dry["failed"], dry["dryRun"]) == (1, 3, True)
    for contact in everyone:
        assert await state(contact) == before[contact.id]

    real = await archive(gql, world, sent)

    assert (real["succeeded"], real["failed"], real["dryRun"]) == (1, 3, False)
    assert (
        kinds(dry)
        == kinds(real)
        == [
            ("ContactArchived", None, gid(free)),
            ("ArchiveBlockedByStage", "ARCHIVE_BLOCKED_BY_STAGE", gid(lead)),
            ("ContactIsArchived", "CONTACT_ARCHIVED", gid(archived)),
            ("ContactNotFound", "CONTACT_NOT_FOUND", "missing"),
        ]
    )


# ---------------------------------------------------------------- what archiving keeps


async def test_an_archived_contact_keeps_its_stage_tags_and_history(
    gql: GraphQL, world: World
) -> None:
    contact = await world.contact(stage=StageCategory.LOST, tags=["vip", "golf"])
    for subject in ("Intro", "Follow-up"):
        await Interaction.create(
            workspace=world.workspace,
            contact=contact,
            kind="note",
            direction="inbound",
            occurred_at=datetime.now(UTC),
            subject=subject,
        )

    payload = await archive(gql, world, [gid(contact)])

    assert kinds(payload) == [("ContactArchived", None, gid(contact))]
    assert await Interaction.filter(contact_id=contact.id).count() == 2
    assert await ContactTag.filter(contact_id=contact.id).count() == 2
    data = await gql(CONTACT, {"id": gid(contact)}, as_=world.viewer)
    assert data["contact"]["status"] == "ARCHIVED"
    assert data["contact"]["interactions"] == {"totalCount": 2}
    assert data["contact"]["tags"] == [{"name": "golf"}, {"name": "vip"}]


# ---------------------------------------------------------------- Contact.archiveBlockers


async def test_archive_blockers_list_the_stage_and_the_assignee_at_once_stage_first(
    gql: GraphQL, world: World
) -> None:
    contact = await world.contact(stage=StageCategory.ACTIVE, assignee=world.member)

    data = await gql(CONTACT, {"id": gid(contact)}, as_=world.viewer)

    assert data["contact"]["archiveBlockers"] == [
        {
            "__typename": "ArchiveBlockedByStage",
            "contactId": gid(contact),
            "code": "ARCHIVE_BLOCKED_BY_STAGE",
            "stage": {"id": world.stage_id(StageCategory.ACTIVE)},
        },
        {
            "__typename": "ArchiveBlockedByAssignee",
            "contactId": gid(contact),
            "code": "ARCHIVE_BLOCKED_BY_ASSIGNEE",
            "assignee": {"id": world.member.id},
        },
    ]


@pytest.mark.parametrize(
    ("stage", "assigned", "archived"),
    [
        pytest.param(None, False, False, id="archivable-no-stage"),
        pytest.param(StageCategory.PAST, False, False, id="archivable-past"),
        pytest.param(StageCategory.LEAD, True, True, id="archived-with-stage-and-assignee"),
    ],
)
async def test_archive_blockers_are_empty_when_it_can_be_archived_or_is_archived(
    gql: GraphQL,
    world: World,
    stage: StageCategory | None,
    assigned: bool,
    archived: bool,
) -> None:
    contact = await world.contact(
        stage=stage, assignee=world.member if assigned else None, archived=archived
    )

    data = await gql(CONTACT, {"id": gid(contact)}, as_=world.viewer)

    assert data["contact"]["archiveBlockers"] == []


async def test_a_stage_blocker_names_the_workspaces_own_label_of_the_stage(
    world: World, gql: GraphQL
) -> None:
    stage = world.stages[StageCategory.LEAD]
    stage.name = "Warm"
    await stage.save()
    contact = await world.contact(stage=StageCategory.LEAD)
    query = """mutation($ids: [ID!]) { archiveContacts(input: {selection: {ids: $ids}}) {
      results { ... on ArchiveBlockedByStage { message } } } }"""
    data = await gql(query, {"ids": [gid(contact)]}, as_=world.member)
    message = data["archiveContacts"]["results"][0]["message"]
    assert "'Warm'" in message
    blockers = await gql(
        "query($id: ID!) { contact(id: $id) { archiveBlockers { ... on ArchiveBlockedByStage "
        "{ message } } } }",
        {"id": gid(contact)},
        as_=world.member,
    )
    assert blockers["contact"]["archiveBlockers"][0]["message"] == message
