"""deleteContacts through GraphQL: the delete row of CONTRACT.md's rules table; preventResync."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from conftest import GraphQL, World, bucket_of, gid, refetch

from server import ids
from server.models import Contact, ContactBucket, ContactTag, Interaction, Suppression, Tag
from server.policy import ContactStatus, StageCategory

DELETE = """
mutation Delete($input: DeleteContactsInput!) {
  deleteContacts(input: $input) {
    succeeded
    failed
    dryRun
    results {
      __typename
      ... on RuleViolation { contactId code message }
      ... on ContactDeleted { contactId displayName }
      ... on ContactNotArchived { contact { id status } }
    }
  }
}
"""

State = tuple[object, ...]


async def state(contact: Contact) -> State:
    """What a refused deletion must not change, read back from the database."""
    row = await refetch(contact)
    assert row is not None, "the contact was deleted"
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
        await Interaction.filter(contact_id=contact.id).count(),
        await ContactTag.filter(contact_id=contact.id).count(),
        await ContactBucket.filter(contact_id=contact.id).count(),
    )


async def delete(
    gql: GraphQL,
    world: World,
    contact_ids: list[str],
    *,
    dry_run: bool = False,
    prevent_resync: bool = False,
) -> dict[str, Any]:
    data = await gql(
        DELETE,
        {
            "input": {
                "selection": {"ids": contact_ids},
                "dryRun": dry_run,
                "preventResync": prevent_resync,
            }
        },
        as_=world.admin,
    )
    payload: dict[str, Any] = data["deleteContacts"]
    return payload


def kinds(payload: dict[str, Any]) -> list[tuple[str, str | None, str]]:
    """(__typename, code, contactId) of each result."""
    return [(r["__typename"], r.get("code"), r["contactId"]) for r in payload["results"]]


async def log(world: World, contact: Contact, *subjects: str) -> None:
    for subject in subjects:
        await Interaction.create(
            workspace=world.workspace,
            contact=contact,
            kind="email",
            direction="inbound",
            occurred_at=datetime.now(UTC),
            subject=subject,
        )


async def suppression_rows() -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = await Suppression.all().values()
    return rows


# ---------------------------------------------------------------- deleting


async def test_deleting_an_archived_contact_removes_it_with_its_history_tags_and_buckets(
    gql: GraphQL, world: World
) -> None:
    doomed = await world.contact("Ada", "Lovelace", archived=True, tags=["vip", "golf"])
    kept = await world.contact("Grace", "Hopper", archived=True, tags=["vip"])
    await bucket_of(world, "Newsletter", doomed, kept)
    await log(world, doomed, "Intro", "Follow-up", "Invoice")
    await log(world, kept, "Hello")

    payload = await delete(gql, world, [gid(doomed)])

    assert (payload["succeeded"], payload["failed"], payload["dryRun"]) == (1, 0, False)
    assert payload["results"] == [
        {"__typename": "ContactDeleted", "contactId": gid(doomed), "displayName": "Ada Lovelace"}
    ]
    assert await refetch(doomed) is None
    assert await Interaction.filter(contact_id=doomed.id).count() == 0
    assert await ContactTag.filter(contact_id=doomed.id).count() == 0
    assert await ContactBucket.filter(contact_id=doomed.id).count() == 0
    # The rest of the workspace is untouched: the other contact, its history, the tags.
    assert await refetch(kept) is not None
    assert await Interaction.filter(contact_id=kept.id).count() == 1
    assert await ContactTag.filter(contact_id=kept.id).count() == 1
    assert await ContactBucket.filter(contact_id=kept.id).count() == 1
    tags = await Tag.filter(workspace=world.workspace).order_by("name")
    assert [tag.name for tag in tags] == ["golf", "vip"]


async def test_a_deleted_contact_without_a_name_is_reported_by_its_first_email(
    gql: GraphQL, world: World
) -> None:
    contact = await world.contact(
        None, None, emails=["ada@example.com", "ada@work.example"], archived=True
    )

    payload = await delete(gql, world, [gid(contact)])

    assert payload["results"] == [
        {
            "__typename": "ContactDeleted",
            "contactId": gid(contact),
            "displayName": "ada@example.com",
        }
    ]


@pytest.mark.parametrize(
    ("stage", "assigned"),
    [
        pytest.param(None, False, id="archivable"),
        pytest.param(StageCategory.LEAD, True, id="blocked"),
    ],
)
async def test_deleting_an_active_contact_is_refused_and_it_keeps_everything(
    gql: GraphQL, world: World, stage: StageCategory | None, assigned: bool
) -> None:
    contact = await world.contact(
        stage=stage,
        assignee=world.member if assigned else None,
        tags=["vip"],
        emails=["ada@example.com"],
    )
    await bucket_of(world, "Newsletter", contact)
    await log(world, contact, "Intro", "Follow-up")
    before = await state(contact)

    payload = await delete(gql, world, [gid(contact)], prevent_resync=True)

    assert (payload["succeeded"], payload["failed"], payload["dryRun"]) == (0, 1, False)
    [result] = payload["results"]
    assert result["__typename"] == "ContactNotArchived"
    assert result["code"] == "CONTACT_NOT_ARCHIVED"
    assert result["contactId"] == gid(contact)
    assert result["contact"] == {"id": gid(contact), "status": "ACTIVE"}
    assert "archive" in result["message"].lower()
    assert await state(contact) == before
    assert await suppression_rows() == []


@pytest.mark.parametrize(
    "raw_id", ["not-an-id", "", ids.encode("Contact", 987654321), ids.encode("Tag", 1)]
)
async def test_a_malformed_or_unknown_id_is_not_found_with_the_id_exactly_as_sent(
    gql: GraphQL, world: World, raw_id: str
) -> None:
    bystander = await world.contact(archived=True)

    payload = await delete(gql, world, [raw_id])

    assert kinds(payload) == [("ContactNotFound", "CONTACT_NOT_FOUND", raw_id)]
    assert (payload["succeeded"], payload["failed"]) == (0, 1)
    assert await refetch(bystander) is not None


async def test_another_workspaces_archived_contact_is_not_found_and_not_deleted(
    gql: GraphQL, world: World, other_world: World
) -> None:
    foreign = await other_world.contact(archived=True, emails=["grace@globex.test"])
    await log(other_world, foreign, "Hello")
    before = await state(foreign)

    payload = await delete(gql, world, [gid(foreign)], prevent_resync=True)

    assert kinds(payload) == [("ContactNotFound", "CONTACT_NOT_FOUND", gid(foreign))]
    assert await state(foreign) == before
    assert await suppression_rows() == []


async def test_a_mixed_selection_gives_one_result_per_distinct_contact_in_input_order(
    gql: GraphQL, world: World
) -> None:
    first = await world.contact("First", "Archived", archived=True)
    active = await world.contact("Still", "Active")
    second = await world.contact("Second", "Archived", archived=True)
    before = await state(active)
    sent = [gid(second), gid(active), "nope", gid(second), gid(first), gid(active)]

    payload = await delete(gql, world, sent)

    assert payload["results"] == [
        {
            "__typename": "ContactDeleted",
            "contactId": gid(second),
            "displayName": "Second Archived",
        },
        {
            "__typename": "ContactNotArchived",
            "contactId": gid(active),
            "code": "CONTACT_NOT_ARCHIVED",
            "message": payload["results"][1]["message"],
            "contact": {"id": gid(active), "status": "ACTIVE"},
        },
        {
            "__typename": "ContactNotFound",
            "contactId": "nope",
            "code": "CONTACT_NOT_FOUND",
            "message": payload["results"][2]["message"],
        },
        {
            "__typename": "ContactDeleted",
            "contactId": gid(first),
            "displayName": "First Archived",
        },
    ]
    assert (payload["succeeded"], payload["failed"], payload["dryRun"]) == (2, 2, False)
    assert await refetch(first) is None
    assert await refetch(second) is None
    assert await state(active) == before


async def test_a_dry_run_reports_what_a_real_run_then_does_and_deletes_nothing(
    gql: GraphQL, world: World
) -> None:
    archived = await world.contact("Ada", "Lovelace", archived=True, emails=["ada@example.com"])
    active = await world.contact("Grace", "Hopper")
    await log(world, archived, "Intro")
    sent = [gid(archived), gid(active), "missing"]
    before = {c.id: await state(c) for c in (archived, active)}

    dry = await delete(gql, world, sent, dry_run=True, prevent_resync=True)

    assert (dry["succeeded"], dry["failed"], dry["dryRun"]) == (1, 2, True)
    for contact in (archived, active):
        assert await state(contact) == before[contact.id]
    assert await suppression_rows() == []

    real = await delete(gql, world, sent)

    assert (real["succeeded"], real["failed"], real["dryRun"]) == (1, 2, False)
    assert (
        kinds(dry)
        == kinds(real)
        == [
            ("ContactDeleted", None, gid(archived)),
            ("ContactNotArchived", "CONTACT_NOT_ARCHIVED", gid(active)),
            ("ContactNotFound", "CONTACT_NOT_FOUND", "missing"),
        ]
    )
    assert dry["results"][0]["displayName"] == real["results"][0]["displayName"] == "Ada Lovelace"
    assert await refetch(archived) is None


# ---------------------------------------------------------------- preventResync


async def test_prevent_resync_keeps_one_way_digests_of_emails_phones_and_source_id_only(
    gql: GraphQL, world: World
) -> None:
    emails = ["ada.lovelace@example.com", "countess@analytical.example"]
    phones = ["+15555550123"]
    contact = await world.contact(emails=emails, phones=phones, archived=True)
    external_id = "pixel-contact-7f3a9c"
    await Contact.filter(id=contact.id).update(
        source="phone", source_account="Ada's Pixel 9", external_id=external_id
    )

    payload = await delete(gql, world, [gid(contact)], prevent_resync=True)

    assert kinds(payload) == [("ContactDeleted", None, gid(contact))]
    rows = await suppression_rows()
    assert sorted(row["kind"] for row in rows) == ["email", "email", "origin", "phone"]
    assert {row["workspace_id"] for row in rows} == {world.workspace.id}
    assert len({row["digest"] for row in rows}) == 4
    stored = repr(rows).lower()
    for plain in [*emails, *phones, phones[0].lstrip("+"), external_id, "ada's pixel 9"]:
        assert plain.lower() not in stored
    assert all(
        len(row["digest"]) == 64 and set(row["digest"]) <= set("0123456789abcdef") for row in rows
    )


async def test_without_prevent_resync_nothing_is_kept_of_a_deleted_contact(
    gql: GraphQL, world: World
) -> None:
    contact = await world.contact(
        emails=["ada@example.com"], phones=["+15555550123"], archived=True
    )

    payload = await delete(gql, world, [gid(contact)], prevent_resync=False)

    assert kinds(payload) == [("ContactDeleted", None, gid(contact))]
    assert await suppression_rows() == []


async def test_prevent_resync_twice_for_the_same_address_keeps_one_digest(
    gql: GraphQL, world: World
) -> None:
    first = await world.contact("Ada", "One", emails=["ada@example.com"], archived=True)
    second = await world.contact("Ada", "Two", emails=["ada@example.com"], archived=True)

    await delete(gql, world, [gid(first)], prevent_resync=True)
    payload = await delete(gql, world, [gid(second)], prevent_resync=True)

    assert kinds(payload) == [("ContactDeleted", None, gid(second))]
    assert [row["kind"] for row in await suppression_rows()] == ["email"]


async def test_prevent_resync_only_covers_the_contacts_that_were_deleted(
    gql: GraphQL, world: World
) -> None:
    deleted = await world.contact("Ada", "Gone", emails=["gone@example.com"], archived=True)
    refused = await world.contact("Grace", "Here", emails=["here@example.com"])

    payload = await delete(gql, world, [gid(deleted), gid(refused)], prevent_resync=True)

    assert kinds(payload) == [
        ("ContactDeleted", None, gid(deleted)),
        ("ContactNotArchived", "CONTACT_NOT_ARCHIVED", gid(refused)),
    ]
    rows = await suppression_rows()
    assert [row["kind"] for row in rows] == ["email"]
    row = await refetch(refused)
    assert row is not None
    assert row.status == ContactStatus.ACTIVE
