"""sendMessage: queued in the outbox as outbound interactions, for reachable active contacts."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import GraphQL, World, gid, refetch

from server import ids
from server.db import values_of
from server.models import Contact, Interaction

SEND = """
mutation Send($input: SendMessageInput!) {
  sendMessage(input: $input) {
    succeeded
    failed
    results {
      __typename
      ... on RuleViolation { contactId code message }
      ... on MessageQueued {
        contact { id }
        interaction { id kind direction subject occurredAt }
      }
      ... on ContactIsArchived { contact { id status } }
      ... on ContactUnreachable { contact { id emails phones } }
    }
  }
}
"""

HISTORY = """
query($id: ID!) { contact(id: $id) { interactions { totalCount edges { node { id kind } } } } }
"""


async def send(
    gql: GraphQL,
    world: World,
    contact_ids: list[str],
    channel: str = "EMAIL",
    subject: str | None = "Hello",
    body: str = "Nice to meet you.",
) -> dict[str, Any]:
    data = await gql(
        SEND,
        {
            "input": {
                "selection": {"ids": contact_ids},
                "channel": channel,
                "subject": subject,
                "body": body,
            }
        },
        as_=world.member,
    )
    payload: dict[str, Any] = data["sendMessage"]
    return payload


def outcomes(payload: dict[str, Any]) -> list[tuple[str, str | None, str]]:
    return [
        (r["__typename"], r.get("code"), r.get("contactId") or r["contact"]["id"])
        for r in payload["results"]
    ]


async def snapshot(contact: Contact) -> tuple[object, ...]:
    row = await refetch(contact)
    assert row is not None
    history = await Interaction.filter(contact_id=contact.id).count()
    return (row.status, row.updated_at, row.emails, row.phones, history)


async def test_an_email_is_queued_in_the_outbox_as_an_outbound_interaction(
    gql: GraphQL, world: World
) -> None:
    contact = await world.contact(emails=["ada@example.com"])
    before = await snapshot(contact)

    payload = await send(gql, world, [gid(contact)], subject="Hello", body="Dear Ada")

    assert (payload["succeeded"], payload["failed"]) == (1, 0)
    [result] = payload["results"]
    assert result["__typename"] == "MessageQueued"
    assert result["contact"] == {"id": gid(contact)}
    interaction = result["interaction"]
    assert (interaction["kind"], interaction["direction"], interaction["subject"]) == (
        "EMAIL",
        "OUTBOUND",
        "Hello",
    )
    row = await Interaction.get(id=ids.decode(interaction["id"], "Interaction"))
    assert (row.contact_id, row.workspace_id) == (contact.id, world.workspace.id)
    assert (row.channel, row.delivery_status, row.body) == ("email", "queued", "Dear Ada")
    # What a delivery worker reads: the queued outbox, oldest first.
    outbox = await Interaction.filter(delivery_status="queued").order_by("id")
    assert [o.id for o in outbox] == [row.id]
    # Messaging is not editing: the contact itself is unchanged.
    assert (await snapshot(contact))[:4] == before[:4]
    history = await gql(HISTORY, {"id": gid(contact)}, as_=world.member)
    assert history["contact"]["interactions"]["edges"] == [
        {"node": {"id": interaction["id"], "kind": "EMAIL"}}
    ]


async def test_an_sms_is_queued_as_an_outbound_message_for_contacts_with_a_phone(
    gql: GraphQL, world: World
) -> None:
    first = await world.contact("Ada", "A", phones=["+14155550100"])
    second = await world.contact("Bob", "B", phones=["+14155550101"], emails=["bob@example.com"])

    payload = await send(gql, world, [gid(first), gid(second)], channel="SMS", subject=None)

    assert (payload["succeeded"], payload["failed"]) == (2, 0)
    assert outcomes(payload) == [
        ("MessageQueued", None, gid(first)),
        ("MessageQueued", None, gid(second)),
    ]
    assert {r["interaction"]["kind"] for r in payload["results"]} == {"MESSAGE"}
    rows = await Interaction.filter(channel="sms").order_by("contact_id")
    assert [(r.contact_id, r.direction, r.delivery_status, r.subject) for r in rows] == [
        (first.id, "outbound", "queued", None),
        (second.id, "outbound", "queued", None),
    ]


@pytest.mark.parametrize(
    ("channel", "missing", "message"),
    [
        ("EMAIL", "emails", "The contact has no email address to send an email to."),
        ("SMS", "phones", "The contact has no phone number to send an SMS to."),
    ],
)
async def test_a_contact_without_an_address_for_the_channel_is_unreachable(
    gql: GraphQL, world: World, channel: str, missing: str, message: str
) -> None:
    # Reachable on the other channel only.
    contact = await world.contact(
        emails=["ada@example.com"] if missing == "phones" else [],
        phones=["+14155550100"] if missing == "emails" else [],
    )
    before = await snapshot(contact)

    payload = await send(gql, world, [gid(contact)], channel=channel)

    assert (payload["succeeded"], payload["failed"]) == (0, 1)
    [result] = payload["results"]
    assert (result["__typename"], result["code"], result["contactId"], result["message"]) == (
        "ContactUnreachable",
        "CONTACT_UNREACHABLE",
        gid(contact),
        message,
    )
    assert result["contact"][missing] == []
    assert await snapshot(contact) == before


async def test_an_archived_contact_is_not_messaged_even_with_an_address(
    gql: GraphQL, world: World
) -> None:
    contact = await world.contact(emails=["ada@example.com"], archived=True)
    unreachable_too = await world.contact("Bob", "B", archived=True)
    before = [await snapshot(contact), await snapshot(unreachable_too)]

    payload = await send(gql, world, [gid(contact), gid(unreachable_too)])

    assert (payload["succeeded"], payload["failed"]) == (0, 2)
    # Archived is reported before unreachable.
    assert outcomes(payload) == [
        ("ContactIsArchived", "CONTACT_ARCHIVED", gid(contact)),
        ("ContactIsArchived", "CONTACT_ARCHIVED", gid(unreachable_too)),
    ]
    assert [await snapshot(contact), await snapshot(unreachable_too)] == before
    assert await Interaction.all().count() == 0


async def test_a_mixed_selection_queues_only_for_the_reachable_active_contacts(
    gql: GraphQL, world: World, other_world: World
) -> None:
    reachable = await world.contact("Ada", "A", emails=["ada@example.com"])
    unreachable = await world.contact("Bob", "B", phones=["+14155550100"])
    archived = await world.contact("Cal", "C", emails=["cal@example.com"], archived=True)
    theirs = await other_world.contact("Dee", "D", emails=["dee@example.com"])

    payload = await send(
        gql,
        world,
        [gid(theirs), gid(unreachable), gid(reachable), "nonsense", gid(archived), gid(reachable)],
    )

    assert (payload["succeeded"], payload["failed"]) == (1, 4)
    assert outcomes(payload) == [
        ("ContactNotFound", "CONTACT_NOT_FOUND", gid(theirs)),
        ("ContactUnreachable", "CONTACT_UNREACHABLE", gid(unreachable)),
        ("MessageQueued", None, gid(reachable)),
        ("ContactNotFound", "CONTACT_NOT_FOUND", "nonsense"),
        ("ContactIsArchived", "CONTACT_ARCHIVED", gid(archived)),
    ]
    assert list(await values_of(Interaction.all(), "contact_id")) == [reachable.id]


@pytest.mark.parametrize(
    ("subject", "body"),
    [
        ("Hi", ""),
        ("Hi", "   "),
        ("x" * 501, "Body"),
        ("Hi", "x" * 100_001),
        ("Hi", "a\x00b"),
        ("H\x00i", "Body"),
        ("Hi\nthere", "Body"),
    ],
)
async def test_an_empty_overlong_or_binary_message_is_bad_input_and_nothing_is_queued(
    gql: GraphQL, world: World, subject: str, body: str
) -> None:
    contact = await world.contact(emails=["ada@example.com"])

    code, _, _ = await gql.error(
        SEND,
        {
            "input": {
                "selection": {"ids": [gid(contact)]},
                "channel": "EMAIL",
                "subject": subject,
                "body": body,
            }
        },
        as_=world.member,
    )

    assert code == "BAD_USER_INPUT"
    assert await Interaction.all().count() == 0


async def test_a_body_keeps_its_line_breaks_and_tabs(gql: GraphQL, world: World) -> None:
    contact = await world.contact(emails=["ada@example.com"])
    body = "Dear Ada,\r\n\n\tthank you.\n"

    payload = await send(gql, world, [gid(contact)], body=body)

    assert payload["succeeded"] == 1
    assert list(await values_of(Interaction.all(), "body")) == [body]


async def test_a_viewer_may_not_send_messages(gql: GraphQL, world: World) -> None:
    contact = await world.contact(emails=["ada@example.com"])

    code, _, _ = await gql.error(
        SEND,
        {"input": {"selection": {"ids": [gid(contact)]}, "channel": "EMAIL", "body": "Hi"}},
        as_=world.viewer,
    )

    assert code == "FORBIDDEN"
    assert await Interaction.all().count() == 0


async def test_messaging_the_same_contact_twice_queues_two_messages(
    gql: GraphQL, world: World
) -> None:
    contact = await world.contact(emails=["ada@example.com"])

    first = await send(gql, world, [gid(contact)], body="One")
    second = await send(gql, world, [gid(contact)], body="Two")

    ids_sent = [p["results"][0]["interaction"]["id"] for p in (first, second)]
    assert len(set(ids_sent)) == 2
    bodies = await values_of(Interaction.filter(contact_id=contact.id).order_by("id"), "body")
    assert list(bodies) == ["One", "Two"]
