"""logInteraction through GraphQL: the logInteraction row of CONTRACT.md's sources table."""

from __future__ import annotations

from typing import Any

from conftest import GraphQL, Person, World, gid, refetch
from sourcing import LOG, delete

from server.models import Contact, Interaction, Suppression
from server.policy import ContactStatus

WHEN = "2026-03-01T10:30:00+00:00"


async def log(gql: GraphQL, person: Person, **given: Any) -> dict[str, Any]:
    payload = {"kind": "EMAIL", "direction": "INBOUND", "occurredAt": WHEN, **given}
    data = await gql(LOG, {"input": payload}, as_=person)
    result: dict[str, Any] = data["logInteraction"]
    return result


async def test_an_email_of_a_contact_gets_the_interaction(gql: GraphQL, world: World) -> None:
    ada = await world.contact(emails=["ada@example.com"])
    result = await log(gql, world.member, email="ADA@Example.com", subject="Engines")
    assert result["__typename"] == "InteractionLogged"
    assert result["contactCreated"] is False
    assert result["contact"]["id"] == gid(ada)
    assert result["contact"]["interactions"]["totalCount"] == 1
    assert result["interaction"]["kind"] == "EMAIL"
    assert result["interaction"]["direction"] == "INBOUND"
    assert result["interaction"]["subject"] == "Engines"
    row = await Interaction.get(contact_id=ada.id)
    assert row.occurred_at.isoformat() == WHEN


async def test_a_phone_of_a_contact_gets_the_interaction_whatever_its_format(
    gql: GraphQL, world: World
) -> None:
    grace = await world.contact("Grace", "Hopper", phones=["+12025550100"])
    result = await log(gql, world.member, phone="(202) 555-0100", kind="CALL")
    assert result["__typename"] == "InteractionLogged"
    assert (result["contactCreated"], result["contact"]["id"]) == (False, gid(grace))
    assert await Interaction.filter(contact_id=grace.id, kind="call").count() == 1


async def test_the_email_wins_over_the_phone(gql: GraphQL, world: World) -> None:
    by_email = await world.contact("Ada", None, emails=["ada@example.com"])
    await world.contact("Grace", None, phones=["+12025550100"])
    result = await log(gql, world.member, email="ada@example.com", phone="+12025550100")
    assert result["contact"]["id"] == gid(by_email)


async def test_an_unknown_address_creates_a_contact_with_source_email_or_phone(
    gql: GraphQL, world: World
) -> None:
    result = await log(gql, world.member, email="New.Person@Example.com")
    assert result["__typename"] == "InteractionLogged"
    assert result["contactCreated"] is True
    assert result["contact"]["emails"] == ["new.person@example.com"]
    assert result["contact"]["status"] == "ACTIVE"
    by_email = await Contact.get(workspace_id=world.workspace.id, source="email")
    assert by_email.sort_name == "new.person@example.com"

    result = await log(gql, world.member, phone="202 555 0199", kind="CALL")
    assert result["contactCreated"] is True
    assert result["contact"]["phones"] == ["+12025550199"]
    by_phone = await Contact.get(workspace_id=world.workspace.id, source="phone")
    assert by_phone.phones == ["+12025550199"]

    # Known now: the next interaction goes to the same contact.
    again = await log(gql, world.member, email="new.person@example.com")
    assert again["contactCreated"] is False
    assert again["contact"]["id"] == gid(by_email)
    assert again["contact"]["interactions"]["totalCount"] == 2


async def test_an_archived_contact_keeps_the_interaction_and_stays_archived(
    gql: GraphQL, world: World
) -> None:
    ada = await world.contact(emails=["ada@example.com"], archived=True)
    before = await refetch(ada)
    result = await log(gql, world.member, email="ada@example.com")
    assert result["__typename"] == "InteractionLogged"
    assert result["contactCreated"] is False
    assert result["contact"]["status"] == "ARCHIVED"
    after = await refetch(ada)
    assert after is not None
    assert before is not None
    assert after.status == ContactStatus.ARCHIVED
    assert after.archived_at == before.archived_at
    assert await Interaction.filter(contact_id=ada.id).count() == 1


async def test_delete_then_log_creates_the_contact_again(gql: GraphQL, world: World) -> None:
    ada = await world.contact(emails=["ada@example.com"])
    await delete(gql, world, ada)
    result = await log(gql, world.member, email="ada@example.com")
    assert result["contactCreated"] is True
    assert result["contact"]["id"] != gid(ada)
    assert await Contact.filter(workspace_id=world.workspace.id).count() == 1


async def test_delete_with_prevent_resync_then_log_stores_nothing(
    gql: GraphQL, world: World
) -> None:
    ada = await world.contact(emails=["ada@example.com"], phones=["+12025550100"])
    await delete(gql, world, ada, prevent_resync=True)
    for address in ({"email": "ADA@example.com"}, {"phone": "202-555-0100"}):
        result = await log(gql, world.member, **address)
        assert result["__typename"] == "InteractionSuppressed"
        assert "preventResync" in result["reason"]
    assert await Contact.filter(workspace_id=world.workspace.id).count() == 0
    assert await Interaction.filter(workspace_id=world.workspace.id).count() == 0

    # createContact, a person's act, brings it back; then interactions are stored again.
    from sourcing import CREATE

    created = await gql(CREATE, {"input": {"emails": ["ada@example.com"]}}, as_=world.member)
    assert created["createContact"]["__typename"] == "ContactCreated"
    result = await log(gql, world.member, email="ada@example.com")
    assert result["__typename"] == "InteractionLogged"
    assert result["contactCreated"] is False
    assert result["contact"]["id"] == created["createContact"]["contact"]["id"]


async def test_bad_or_missing_addresses_are_invalid_input_and_store_nothing(
    gql: GraphQL, world: World
) -> None:
    cases = [
        ({}, ["email"]),
        ({"email": "   "}, ["email"]),
        ({"email": "not an email"}, ["email"]),
        ({"phone": "12"}, ["phone"]),
        ({"email": "nope", "phone": "x"}, ["email", "phone"]),
        ({"email": "ada@example.com", "subject": "s" * 501}, ["subject"]),
    ]
    for given, fields in cases:
        result = await log(gql, world.member, **given)
        assert result["__typename"] == "InvalidContactInput", given
        assert [e["field"] for e in result["errors"]] == fields, given
    assert await Contact.filter(workspace_id=world.workspace.id).count() == 0
    assert await Interaction.filter(workspace_id=world.workspace.id).count() == 0


async def test_another_workspaces_contact_is_not_matched(
    gql: GraphQL, world: World, other_world: World
) -> None:
    theirs = await other_world.contact(emails=["ada@example.com"])
    result = await log(gql, world.member, email="ada@example.com")
    assert result["contactCreated"] is True
    assert await Interaction.filter(contact_id=theirs.id).count() == 0


async def test_another_workspaces_suppression_does_not_apply(
    gql: GraphQL, world: World, other_world: World
) -> None:
    theirs = await other_world.contact(emails=["ada@example.com"])
    await delete(gql, other_world, theirs, prevent_resync=True)
    assert await Suppression.filter(workspace_id=other_world.workspace.id).count() == 1
    result = await log(gql, world.member, email="ada@example.com")
    assert result["__typename"] == "InteractionLogged"


async def test_a_viewer_may_not_log_interactions(gql: GraphQL, world: World) -> None:
    code, _, _ = await gql.error(
        LOG,
        {
            "input": {
                "email": "ada@example.com",
                "kind": "NOTE",
                "direction": "OUTBOUND",
                "occurredAt": WHEN,
            }
        },
        as_=world.viewer,
    )
    assert code == "FORBIDDEN"
    assert await Contact.filter(workspace_id=world.workspace.id).count() == 0


async def test_control_characters_and_dates_without_a_utc_moment_are_invalid_input(
    gql: GraphQL, world: World
) -> None:
    cases = [
        ({"email": "ada\x00@example.com"}, ["email"]),
        ({"phone": "+1 202 555 0100\x00"}, ["phone"]),
        ({"email": "ada@example.com", "subject": "Hi\x00"}, ["subject"]),
        # Year 1 in a time zone ahead of UTC has no moment in UTC.
        ({"email": "ada@example.com", "occurredAt": "0001-01-01T00:00:00+14:00"}, ["occurredAt"]),
    ]
    for given, fields in cases:
        result = await log(gql, world.member, **given)
        assert result["__typename"] == "InvalidContactInput", given
        assert [e["field"] for e in result["errors"]] == fields, given
    assert await Interaction.filter(workspace_id=world.workspace.id).count() == 0


async def test_a_time_in_another_zone_is_stored_as_the_same_moment(
    gql: GraphQL, world: World
) -> None:
    result = await log(
        gql, world.member, email="ada@example.com", occurredAt="2026-03-01T12:30:00+02:00"
    )
    assert result["__typename"] == "InteractionLogged"
    row = await Interaction.get(workspace_id=world.workspace.id)
    assert row.occurred_at.isoformat() == WHEN
