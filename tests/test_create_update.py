"""createContact and updateContact: validation field by field, normalization, patches."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import GraphQL, World, bucket_of, gid, refetch

from server import ids
from server.db import values_of
from server.editing import CONTROL_MESSAGE
from server.models import Contact, ContactHandle, ContactTag, Suppression, Tag
from server.policy import StageCategory
from server.suppression import digest

CREATE = """
mutation Create($input: ContactInput!) {
  createContact(input: $input) {
    __typename
    ... on ContactCreated { contact { ...Full } }
    ... on InvalidContactInput { errors { field message } }
  }
}
fragment Full on Contact {
  id firstName lastName displayName company title emails phones status
  stage { name category } assignee { id } tags { name }
}
"""

UPDATE = """
mutation Update($input: UpdateContactInput!) {
  updateContact(input: $input) {
    __typename
    ... on ContactUpdated { contact { ...Full } }
    ... on RuleViolation { contactId code message }
    ... on ContactIsArchived { contact { id status } }
    ... on InvalidContactInput { errors { field message } }
  }
}
fragment Full on Contact {
  id firstName lastName displayName company title emails phones status updatedAt
  stage { name category } assignee { id } tags { name } buckets { name }
}
"""

SEARCH = """
query($search: String) { contacts(filter: {search: $search}) { edges { node { id } } } }
"""


async def snapshot(contact: Contact) -> tuple[object, ...]:
    """Everything a refused or rejected edit must leave as it was, read back from the database."""
    row = await refetch(contact)
    assert row is not None
    tags = sorted(await values_of(ContactTag.filter(contact_id=contact.id), "tag__name"))
    return (
        row.first_name,
        row.last_name,
        row.company,
        row.title,
        row.emails,
        row.phones,
        row.status,
        row.stage_id,
        row.assignee_id,
        row.updated_at,
        row.search_text,
        tags,
        await ContactHandle.filter(contact_id=contact.id).count(),
    )


async def create(gql: GraphQL, world: World, **fields: Any) -> dict[str, Any]:
    data = await gql(CREATE, {"input": fields}, as_=world.member)
    result: dict[str, Any] = data["createContact"]
    return result


async def update(gql: GraphQL, world: World, contact_id: str, **patch: Any) -> dict[str, Any]:
    data = await gql(UPDATE, {"input": {"id": contact_id, "patch": patch}}, as_=world.member)
    result: dict[str, Any] = data["updateContact"]
    return result


# ---------------------------------------------------------------- creating


async def test_a_contact_is_created_with_normalized_emails_phones_stage_assignee_and_tags(
    gql: GraphQL, world: World
) -> None:
    await Tag.create(workspace=world.workspace, name="VIP", name_key="vip")

    result = await create(
        gql,
        world,
        firstName="  Ada ",
        lastName="Lovelace",
        company="Analytical  Engines",
        title="Countess",
        emails=["Ada@Example.COM", "ada@example.com", "ada.l@Example.org"],
        phones=["(415) 555-0100", "+44 20 7946 0958"],
        stageId=world.stage_id(StageCategory.POTENTIAL),
        assigneeId=world.member.id,
        tagNames=["vip", "Golf", "golf"],
    )

    assert result["__typename"] == "ContactCreated"
    contact = result["contact"]
    assert {k: v for k, v in contact.items() if k != "id"} == {
        "firstName": "Ada",
        "lastName": "Lovelace",
        "displayName": "Ada Lovelace",
        "company": "Analytical Engines",
        "title": "Countess",
        "emails": ["ada@example.com", "ada.l@example.org"],
        "phones": ["+14155550100", "+442079460958"],
        "status": "ACTIVE",
        "stage": {"name": "Potential", "category": "POTENTIAL"},
        "assignee": {"id": world.member.id},
        # The existing "VIP" is reused, not duplicated as "vip"; "Golf" is created once.
        "tags": [{"name": "Golf"}, {"name": "VIP"}],
    }
    assert await Tag.filter(workspace=world.workspace).count() == 2
    row = await Contact.get(id=ids.decode(contact["id"], "Contact"))
    handles = set(await ContactHandle.filter(contact_id=row.id).values_list("kind", "value"))
    assert handles == {
        ("email", "ada@example.com"),
        ("email", "ada.l@example.org"),
        ("phone", "+14155550100"),
        ("phone", "+442079460958"),
    }
    found = await gql(SEARCH, {"search": "ANALYTICAL"}, as_=world.member)
    assert found["contacts"]["edges"] == [{"node": {"id": contact["id"]}}]


async def test_the_display_name_falls_back_to_the_first_email_then_the_first_phone(
    gql: GraphQL, world: World
) -> None:
    by_email = await create(gql, world, emails=["Zed@Example.com"], phones=["+1 415 555 0101"])
    by_phone = await create(gql, world, company="Acme", phones=["415 555 0102"])

    assert by_email["contact"]["displayName"] == "zed@example.com"
    assert by_phone["contact"]["displayName"] == "+14155550102"


async def test_phones_without_a_country_code_are_read_in_the_workspaces_region(
    gql: GraphQL, world: World, other_world: World
) -> None:
    other_world.workspace.phone_region = "GB"
    await other_world.workspace.save(update_fields=["phone_region"])

    in_us = await create(gql, world, firstName="Sam", phones=["(415) 555-0100"])
    in_gb = await create(gql, other_world, firstName="Sam", phones=["020 7946 0958"])

    assert in_us["contact"]["phones"] == ["+14155550100"]
    assert in_gb["contact"]["phones"] == ["+442079460958"]


async def test_every_bad_field_is_listed_with_its_path_and_nothing_is_created(
    gql: GraphQL, world: World
) -> None:
    result = await create(
        gql,
        world,
        firstName="A" * 201,
        emails=["ada@example.com", "not-an-email", ""],
        phones=["12"],
        tagNames=["ok", "   "],
    )

    assert result["__typename"] == "InvalidContactInput"
    assert [error["field"] for error in result["errors"]] == [
        "firstName",
        "emails[1]",
        "emails[2]",
        "phones[0]",
        "tagNames[1]",
    ]
    assert all(error["message"] for error in result["errors"])
    assert "not-an-email" in result["errors"][1]["message"]
    assert await Contact.all().count() == 0
    assert await Tag.all().count() == 0


async def test_control_characters_are_refused_field_by_field_on_both_databases(
    gql: GraphQL, world: World
) -> None:
    result = await create(
        gql,
        world,
        firstName="Ada\x00",
        company="Acme\x07",
        emails=["ada@example.com", "ada\x00@example.com"],
        phones=["415 555\x00 0100"],
        tagNames=["v\x00ip"],
    )

    assert result["__typename"] == "InvalidContactInput"
    assert [(e["field"], e["message"]) for e in result["errors"]] == [
        (field, "Control characters (such as NUL) are not allowed.")
        for field in ("firstName", "company", "emails[1]", "phones[0]", "tagNames[0]")
    ]
    assert await Contact.all().count() == 0


async def test_a_contact_needs_a_name_an_email_or_a_phone(gql: GraphQL, world: World) -> None:
    result = await create(gql, world, company="Acme", title="CEO", emails=[], tagNames=["x"])

    assert result == {
        "__typename": "InvalidContactInput",
        "errors": [
            {
                "field": "firstName",
                "message": "Give at least a name, an email address or a phone number.",
            }
        ],
    }
    assert await Contact.all().count() == 0
    assert await Tag.all().count() == 0


async def test_blank_names_count_as_no_name(gql: GraphQL, world: World) -> None:
    result = await create(gql, world, firstName="   ", lastName="")

    assert result["__typename"] == "InvalidContactInput"
    assert [error["field"] for error in result["errors"]] == ["firstName"]
    assert await Contact.all().count() == 0


@pytest.mark.parametrize("field", ["stageId", "assigneeId"])
async def test_a_stage_or_assignee_of_another_workspace_is_bad_input_and_nothing_is_created(
    gql: GraphQL, world: World, other_world: World, field: str
) -> None:
    foreign = {
        "stageId": other_world.stage_id(StageCategory.LEAD),
        "assigneeId": other_world.member.id,
    }[field]

    code, _, _ = await gql.error(
        CREATE, {"input": {"firstName": "Ada", field: foreign}}, as_=world.member
    )

    assert code == "BAD_USER_INPUT"
    assert await Contact.all().count() == 0


async def test_a_malformed_stage_id_is_bad_input(gql: GraphQL, world: World) -> None:
    code, _, _ = await gql.error(
        CREATE, {"input": {"firstName": "Ada", "stageId": "nonsense"}}, as_=world.member
    )

    assert code == "BAD_USER_INPUT"
    assert await Contact.all().count() == 0


async def test_a_viewer_may_not_create_contacts(gql: GraphQL, world: World) -> None:
    code, _, _ = await gql.error(CREATE, {"input": {"firstName": "Ada"}}, as_=world.viewer)

    assert code == "FORBIDDEN"
    assert await Contact.all().count() == 0


async def test_creating_a_contact_by_hand_lifts_the_suppression_of_its_address(
    gql: GraphQL, world: World
) -> None:
    secret = world.workspace.secret
    await Suppression.create(
        workspace=world.workspace, digest=digest(secret, "email", "ada@example.com"), kind="email"
    )
    await Suppression.create(
        workspace=world.workspace, digest=digest(secret, "email", "bob@example.com"), kind="email"
    )

    result = await create(gql, world, emails=["ADA@example.com"])

    assert result["__typename"] == "ContactCreated"
    remaining = await values_of(Suppression.all(), "digest")
    assert list(remaining) == [digest(secret, "email", "bob@example.com")]


# ---------------------------------------------------------------- updating


async def test_an_update_changes_only_the_fields_given(gql: GraphQL, world: World) -> None:
    contact = await world.contact(
        "Ada", "Lovelace", emails=["ada@example.com"], company="Old Co", tags=["vip"]
    )
    contact.title = "Countess"
    await contact.save()

    result = await update(gql, world, gid(contact), company="New Co")

    assert result["__typename"] == "ContactUpdated"
    updated = result["contact"]
    assert (updated["firstName"], updated["lastName"], updated["title"]) == (
        "Ada",
        "Lovelace",
        "Countess",
    )
    assert (updated["company"], updated["emails"], updated["tags"]) == (
        "New Co",
        ["ada@example.com"],
        [{"name": "vip"}],
    )
    row = await refetch(contact)
    assert row is not None
    assert row.company == "New Co"
    assert row.updated_at > contact.updated_at
    assert "new co" in row.search_text
    assert "old co" not in row.search_text


async def test_null_clears_a_field_and_an_empty_list_or_null_clears_a_list(
    gql: GraphQL, world: World
) -> None:
    contact = await world.contact(
        "Ada",
        "Lovelace",
        emails=["ada@example.com"],
        phones=["+14155550100"],
        company="Acme",
        stage=StageCategory.LEAD,
        assignee=world.member,
        tags=["vip", "golf"],
    )

    result = await update(
        gql,
        world,
        gid(contact),
        lastName=None,
        company=None,
        emails=None,
        phones=[],
        stageId=None,
        assigneeId=None,
        tagNames=None,
    )

    assert result["__typename"] == "ContactUpdated"
    updated = result["contact"]
    assert {k: updated[k] for k in ("firstName", "lastName", "displayName", "company")} == {
        "firstName": "Ada",
        "lastName": None,
        "displayName": "Ada",
        "company": None,
    }
    assert (updated["emails"], updated["phones"], updated["tags"]) == ([], [], [])
    assert (updated["stage"], updated["assignee"]) == (None, None)
    assert await ContactHandle.filter(contact_id=contact.id).count() == 0
    assert await ContactTag.filter(contact_id=contact.id).count() == 0


async def test_new_emails_and_phones_replace_the_old_ones_normalized_and_reindexed(
    gql: GraphQL, world: World
) -> None:
    contact = await world.contact("Ada", None, emails=["old@example.com"])

    result = await update(
        gql, world, gid(contact), emails=["NEW@Example.com"], phones=["415-555-0100"]
    )

    assert result["__typename"] == "ContactUpdated"
    assert (result["contact"]["emails"], result["contact"]["phones"]) == (
        ["new@example.com"],
        ["+14155550100"],
    )
    handles = set(await ContactHandle.filter(contact_id=contact.id).values_list("kind", "value"))
    assert handles == {("email", "new@example.com"), ("phone", "+14155550100")}


async def test_tag_names_given_replace_the_contacts_tags(gql: GraphQL, world: World) -> None:
    contact = await world.contact(tags=["vip", "golf"])

    result = await update(gql, world, gid(contact), tagNames=["GOLF", "Board"])

    assert result["contact"]["tags"] == [{"name": "Board"}, {"name": "golf"}]


async def test_an_archived_contact_is_frozen_and_its_update_changes_nothing(
    gql: GraphQL, world: World
) -> None:
    contact = await world.contact("Ada", "Lovelace", archived=True, tags=["vip"])
    await bucket_of(world, "Newsletter", contact)
    before = await snapshot(contact)

    result = await update(gql, world, gid(contact), company="New Co", tagNames=["other"])

    assert result == {
        "__typename": "ContactIsArchived",
        "contactId": gid(contact),
        "code": "CONTACT_ARCHIVED",
        "message": "The contact is archived: unarchive it before changing or messaging it.",
        "contact": {"id": gid(contact), "status": "ARCHIVED"},
    }
    assert await snapshot(contact) == before
    assert await Tag.filter(name_key="other").count() == 0


@pytest.mark.parametrize("kind", ["other workspace", "malformed", "deleted"])
async def test_an_id_outside_the_workspace_is_not_found_and_nothing_changes(
    gql: GraphQL, world: World, other_world: World, kind: str
) -> None:
    theirs = await other_world.contact("Their", "Contact")
    before = await snapshot(theirs)
    contact_id = {
        "other workspace": gid(theirs),
        "malformed": "not-an-id",
        "deleted": ids.encode("Contact", 999_999),
    }[kind]

    result = await update(gql, world, contact_id, company="Hijacked")

    assert result == {
        "__typename": "ContactNotFound",
        "contactId": contact_id,
        "code": "CONTACT_NOT_FOUND",
        "message": "No contact with this ID exists in your workspace.",
    }
    assert await snapshot(theirs) == before


async def test_bad_fields_are_listed_and_the_contact_is_left_unchanged(
    gql: GraphQL, world: World
) -> None:
    contact = await world.contact("Ada", "Lovelace", emails=["ada@example.com"], tags=["vip"])
    before = await snapshot(contact)

    result = await update(
        gql,
        world,
        gid(contact),
        company="New Co",
        emails=["ada@example.com", "ada@", "x" * 300 + "@example.com"],
        title="T" * 201,
    )

    assert result["__typename"] == "InvalidContactInput"
    assert [error["field"] for error in result["errors"]] == ["title", "emails[1]", "emails[2]"]
    assert await snapshot(contact) == before


async def test_clearing_the_last_name_email_and_phone_is_refused(
    gql: GraphQL, world: World
) -> None:
    contact = await world.contact("Ada", None, emails=["ada@example.com"])
    before = await snapshot(contact)

    result = await update(gql, world, gid(contact), firstName=None, emails=[])

    assert result == {
        "__typename": "InvalidContactInput",
        "errors": [
            {
                "field": "firstName",
                "message": "Give at least a name, an email address or a phone number.",
            }
        ],
    }
    assert await snapshot(contact) == before


async def test_an_unknown_stage_in_a_patch_is_bad_input_and_changes_nothing(
    gql: GraphQL, world: World, other_world: World
) -> None:
    contact = await world.contact("Ada", "Lovelace")
    before = await snapshot(contact)

    code, _, _ = await gql.error(
        UPDATE,
        {
            "input": {
                "id": gid(contact),
                "patch": {"company": "X", "stageId": other_world.stage_id(StageCategory.LEAD)},
            }
        },
        as_=world.member,
    )

    assert code == "BAD_USER_INPUT"
    assert await snapshot(contact) == before


async def test_a_viewer_may_not_update_contacts(gql: GraphQL, world: World) -> None:
    contact = await world.contact("Ada", "Lovelace")
    before = await snapshot(contact)

    code, _, _ = await gql.error(
        UPDATE, {"input": {"id": gid(contact), "patch": {"company": "X"}}}, as_=world.viewer
    )

    assert code == "FORBIDDEN"
    assert await snapshot(contact) == before


@pytest.mark.parametrize("value", ["Ada\nLovelace", "Ada\tLovelace", "Ada\r"])
async def test_a_tab_or_line_break_typed_into_a_one_line_field_is_refused_not_tidied(
    gql: GraphQL, world: World, value: str
) -> None:
    data = await gql(
        """mutation ($input: ContactInput!) { createContact(input: $input) {
          __typename ... on InvalidContactInput { errors { field message } } } }""",
        {"input": {"firstName": value}},
        as_=world.member,
    )
    assert data["createContact"] == {
        "__typename": "InvalidContactInput",
        "errors": [{"field": "firstName", "message": CONTROL_MESSAGE}],
    }
    assert await Contact.filter(workspace_id=world.workspace.id).count() == 0
    code, _, _ = await gql.error(
        "mutation ($n: String!) { createBucket(name: $n) { id } }", {"n": value}, as_=world.member
    )
    assert code == "BAD_USER_INPUT"
