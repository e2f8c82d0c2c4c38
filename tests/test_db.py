"""`server.db.insert_rows` and `update_rows`: the bulk writes behind syncs, imports and handles."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from conftest import World, count_statements
from tortoise.exceptions import OperationalError

from server import db
from server.models import Contact, ContactHandle
from server.policy import ContactStatus

COLUMNS = (
    "workspace_id",
    "first_name",
    "emails",
    "phones",
    "status",
    "sort_name",
    "search_text",
    "source",
    "created_at",
    "updated_at",
)


def contact_row(world: World, name: str, emails: list[str], when: datetime) -> list[object]:
    fields = Contact._meta.fields_map
    return [
        world.workspace.id,
        name,
        fields["emails"].to_db_value(emails, Contact),
        fields["phones"].to_db_value([], Contact),
        fields["status"].to_db_value(ContactStatus.ARCHIVED, Contact),
        name.lower(),
        name.lower(),
        "csv",
        fields["created_at"].to_db_value(when, Contact),
        fields["updated_at"].to_db_value(when, Contact),
    ]


async def test_inserted_rows_read_back_as_the_model_values_they_were_made_from(
    world: World,
) -> None:
    when = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
    rows = [
        contact_row(world, "Ada", ["ada@example.com", "a@example.org"], when),
        contact_row(world, "Grace", [], when),
    ]
    await db.insert_rows(db.connection(), Contact, COLUMNS, rows)

    stored = await Contact.filter(workspace_id=world.workspace.id).order_by("first_name")
    assert [(c.first_name, c.emails, c.status, c.created_at, c.updated_at) for c in stored] == [
        ("Ada", ["ada@example.com", "a@example.org"], ContactStatus.ARCHIVED, when, when),
        ("Grace", [], ContactStatus.ARCHIVED, when, when),
    ]


async def test_rows_beyond_one_statement_all_land_in_a_statement_per_chunk(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db, "UNNEST_ROWS", 2)
    monkeypatch.setattr(db, "CHUNK", 2)
    contact = await world.contact("Ada")
    rows = [[world.workspace.id, contact.id, "email", f"a{n}@example.com"] for n in range(5)]

    with count_statements() as log:
        await db.insert_rows(
            db.connection(), ContactHandle, ("workspace_id", "contact_id", "kind", "value"), rows
        )

    assert log.count == 3
    values = await ContactHandle.filter(contact_id=contact.id).order_by("value")
    assert [h.value for h in values] == [f"a{n}@example.com" for n in range(5)]


async def test_nothing_to_insert_sends_nothing(world: World) -> None:
    with count_statements() as log:
        await db.insert_rows(db.connection(), Contact, COLUMNS, [])
    assert log.count == 0


@pytest.mark.postgres_only
async def test_a_value_longer_than_its_column_is_refused_not_cut_short(world: World) -> None:
    when = datetime(2026, 3, 4, tzinfo=UTC)
    too_long = "A" * 201  # first_name is VARCHAR(200)

    with pytest.raises(OperationalError, match="too long"):
        await db.insert_rows(
            db.connection(), Contact, COLUMNS, [contact_row(world, too_long, [], when)]
        )

    assert await Contact.filter(workspace_id=world.workspace.id).count() == 0


async def test_updated_rows_change_only_the_contacts_keyed_and_keep_what_is_null_if_told(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db, "UNNEST_ROWS", 2)
    monkeypatch.setattr(db, "CHUNK", 2)
    ada, grace, alan, untouched = [
        await world.contact(name) for name in ("Ada", "Grace", "Alan", "Edsger")
    ]
    stored = {c.id: c.updated_at for c in (ada, grace, alan, untouched)}
    when = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
    stamp = Contact._meta.fields_map["updated_at"].to_db_value(when, Contact)
    rows = [
        ["Ada L.", None, stamp, ada.id],
        ["Grace H.", "Navy", None, grace.id],  # keeps its stored updated_at
        ["Alan T.", None, stamp, alan.id],
    ]

    with count_statements() as log:
        await db.update_rows(
            db.connection(), Contact, ("first_name", "company", "updated_at"), rows,
            unless_null=("updated_at",),
        )  # fmt: skip

    assert log.count == 2
    after = {c.id: c for c in await Contact.filter(workspace_id=world.workspace.id)}
    assert [(after[c.id].first_name, after[c.id].company, after[c.id].updated_at)
            for c in (ada, grace, alan, untouched)] == [
        ("Ada L.", None, when),
        ("Grace H.", "Navy", stored[grace.id]),
        ("Alan T.", None, when),
        ("Edsger", untouched.company, stored[untouched.id]),
    ]  # fmt: skip


DECODED = ("id", "status", "emails", "archived_at", "created_at", "first_name", "stage_id")


async def test_decoded_rows_hold_what_tortoise_makes_of_the_same_columns(world: World) -> None:
    archived = await world.contact("Ada", emails=["ada@example.com"], archived=True)
    active = await world.contact("Bob")
    decode = db.row_decoder(Contact, DECODED)
    names = ", ".join(f'"{column}"' for column in DECODED)
    _, rows = await db.connection().execute_query(
        f'SELECT {names} FROM "contact" ORDER BY "id"'  # noqa: S608
    )
    decoded = [decode(list(row)) for row in rows]
    read = [await Contact.get(id=contact.id) for contact in (archived, active)]
    expected = [tuple(getattr(model, column) for column in DECODED) for model in read]
    assert decoded == expected
    assert [type(row[1]) for row in decoded] == [ContactStatus, ContactStatus]
    assert decoded[0][1] is ContactStatus.ARCHIVED


def test_a_stored_value_outside_the_enum_is_refused_as_tortoise_refuses_it() -> None:
    decode = db.row_decoder(Contact, ("status",))
    assert decode(["active"]) == (ContactStatus.ACTIVE,)
    with pytest.raises(ValueError, match="sleeping"):
        Contact._meta.fields_map["status"].to_python_value("sleeping")
    with pytest.raises(ValueError, match="sleeping"):
        decode(["sleeping"])


@pytest.mark.parametrize(
    "stored",
    [
        datetime(2026, 3, 4, 5, 6, 7, 8, tzinfo=UTC),  # asyncpg's timestamptz
        datetime(2026, 3, 4, 5, 6, 7, tzinfo=timezone(timedelta(hours=2))),
        datetime(2026, 3, 4, 5, 6, 7),  # naive
        "2026-03-04 05:06:07.000008+00:00",  # SQLite's text
        None,
    ],
)
async def test_a_datetime_converts_as_tortoise_converts_it(database: str, stored: object) -> None:
    field = Contact._meta.fields_map["archived_at"]
    ours, theirs = db.python_value(field)(stored), field.to_python_value(stored)
    assert ours == theirs
    assert getattr(ours, "tzinfo", None) is getattr(theirs, "tzinfo", None)
