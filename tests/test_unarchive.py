"""unarchiveContacts through GraphQL: the unarchive row of CONTRACT.md's rules table."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import GraphQL, Person, World, gid, refetch

from server import ids
from server.models import Contact
from server.policy import ContactStatus, StageCategory

UNARCHIVE = """
mutation Unarchive($input: UnarchiveContactsInput!) {
  unarchiveContacts(input: $input) {
    succeeded
    failed
    dryRun
    results {
      __typename
      ... on RuleViolation { contactId code message }
      ... on ContactUnarchived { contact { id status archivedAt } }
      ... on ContactNotArchived { contact { id status } }
    }
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


async def unarchive(
    gql: GraphQL, world: World, contact_ids: list[str], *, dry_run: bool = False
) -> dict[str, Any]:
    data = await gql(
        UNARCHIVE,
        {"input": {"selection": {"ids": contact_ids}, "dryRun": dry_run}},
        as_=world.member,
    )
    payload: dict[str, Any] = data["unarchiveContacts"]
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


async def test_unarchiving_an_archived_contact_makes_it_active_and_clears_archived_at(
    gql: GraphQL, world: World
) -> None:
    contact = await world.contact(archived=True, stage=StageCategory.PAST)
    before = await refetch(contact)
    assert before is not None

    payload = await unarchive(gql, world, [gid(contact)])

    assert (payload["succeeded"], payload["failed"], payload["dryRun"]) == (1, 0, False)
    [result] = payload["results"]
    assert result["__typename"] == "ContactUnarchived"
    assert result["contact"] == {"id": gid(contact), "status": "ACTIVE", "archivedAt": None}
    after = await refetch(contact)
    assert after is not None
    assert after.status == ContactStatus.ACTIVE
    assert after.archived_at is None
    assert after.updated_at > before.updated_at
    assert after.stage_id == world.stages[StageCategory.PAST].id


@pytest.mark.parametrize(
    ("stage", "assigned"),
    [
        pytest.param(None, False, id="archivable"),
        pytest.param(StageCategory.LEAD, False, id="in-a-lead-stage"),
        pytest.param(None, True, id="assigned"),
    ],
)
async def test_unarchiving_an_active_contact_is_refused_as_not_archived_and_changes_nothing(
    gql: GraphQL, world: World, stage: StageCategory | None, assigned: bool
) -> None:
    assignee: Person | None = world.admin if assigned else None
    contact = await world.contact(stage=stage, assignee=assignee)
    before = await state(contact)

    payload = await unarchive(gql, world, [gid(contact)])

    assert (payload["succeeded"], payload["failed"], payload["dryRun"]) == (0, 1, False)
    [result] = payload["results"]
    assert result["__typename"] == "ContactNotArchived"
    assert result["code"] == "CONTACT_NOT_ARCHIVED"
    assert result["contactId"] == gid(contact)
    assert result["contact"] == {"id": gid(contact), "status": "ACTIVE"}
    assert result["message"]
    assert await state(contact) == before


@pytest.mark.parametrize("raw_id", ["not-an-id", "", ids.encode("Contact", 987654321)])
async def test_a_malformed_or_unknown_id_is_not_found_with_the_id_exactly_as_sent(
    gql: GraphQL, world: World, raw_id: str
) -> None:
    payload = await unarchive(gql, world, [raw_id])

    assert kinds(payload) == [("ContactNotFound", "CONTACT_NOT_FOUND", raw_id)]
    assert (payload["succeeded"], payload["failed"]) == (0, 1)


async def test_another_workspaces_archived_contact_is_not_found_and_stays_archived(
    gql: GraphQL, world: World, other_world: World
) -> None:
    foreign = await other_world.contact(archived=True)
    before = await state(foreign)

    payload = await unarchive(gql, world, [gid(foreign)])

    assert kinds(payload) == [("ContactNotFound", "CONTACT_NOT_FOUND", gid(foreign))]
    assert await state(foreign) == before


async def test_a_mixed_selection_gives_one_result_per_distinct_contact_in_input_order(
    gql: GraphQL, world: World, other_world: World
) -> None:
    first = await world.contact("First", "Archived", archived=True)
    active = await world.contact("Still", "Active")
    second = await world.contact("Second", "Archived", archived=True)
    foreign = await other_world.contact("Foreign", "Archived", archived=True)
    before = {c.id: await state(c) for c in (active, foreign)}
    sent = [gid(second), gid(active), gid(second), "nope", gid(foreign), gid(first), "nope"]

    payload = await unarchive(gql, world, sent)

    assert kinds(payload) == [
        ("ContactUnarchived", None, gid(second)),
        ("ContactNotArchived", "CONTACT_NOT_ARCHIVED", gid(active)),
        ("ContactNotFound", "CONTACT_NOT_FOUND", "nope"),
        ("ContactNotFound", "CONTACT_NOT_FOUND", gid(foreign)),
        ("ContactUnarchived", None, gid(first)),
    ]
    assert (payload["succeeded"], payload["failed"], payload["dryRun"]) == (2, 3, False)
    for contact in (first, second):
        row = await refetch(contact)
        assert row is not None
        assert (row.status, row.archived_at) == (ContactStatus.ACTIVE, None)
    for contact in (active, foreign):
        assert await state(contact) == before[contact.id]


async def test_a_dry_run_reports_what_a_real_run_then_does_and_changes_nothing(
    gql: GraphQL, world: World
) -> None:
    archived = await world.contact("Archived", "One", archived=True)
    active = await world.contact("Active", "Two")
    sent = [gid(archived), gid(active), "missing"]
    before = {c.id: await state(c) for c in (archived, active)}

    dry = await unarchive(gql, world, sent, dry_run=True)

    assert (dry["succeeded"], dry["failed"], dry["dryRun"]) == (1, 2, True)
    for contact in (archived, active):
        assert await state(contact) == before[contact.id]

    real = await unarchive(gql, world, sent)

    assert (real["succeeded"], real["failed"], real["dryRun"]) == (1, 2, False)
    assert (
        kinds(dry)
        == kinds(real)
        == [
            ("ContactUnarchived", None, gid(archived)),
            ("ContactNotArchived", "CONTACT_NOT_ARCHIVED", gid(active)),
            ("ContactNotFound", "CONTACT_NOT_FOUND", "missing"),
        ]
    )
