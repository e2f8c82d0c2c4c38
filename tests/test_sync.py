"""syncContacts through GraphQL: the syncContacts row of CONTRACT.md's sources table.

Matching (source ID, else any email, else any phone), merging (non-empty fields, union of
addresses), archived / deleted / suppressed contacts, row errors, limits, and work in sets.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from conftest import GraphQL, World, count_statements, gid, refetch
from sourcing import counts, delete, expect, sync

from server import claims, db, handles
from server import sync as sync_module
from server.contact_text import search_text, sort_name
from server.models import Contact, ContactHandle, Suppression
from server.policy import ContactStatus, SourceKind


def person(external_id: str, **fields: Any) -> dict[str, Any]:
    return {"externalId": external_id, **fields}


async def only_contact(world: World) -> Contact:
    rows = await Contact.filter(workspace_id=world.workspace.id)
    assert len(rows) == 1, rows
    return rows[0]


async def handle_index(contact: Contact) -> set[tuple[str, str]]:
    rows = await ContactHandle.filter(contact_id=contact.id).values_list("kind", "value")
    return {(str(kind), str(value)) for kind, value in rows}


# ---------------------------------------------------------------- creating and matching


async def test_new_contacts_are_created_normalized_with_their_origin_and_index(
    gql: GraphQL, world: World
) -> None:
    report = await sync(
        gql,
        world.member,
        [
            person(
                "A1",
                firstName=" Ada ",
                lastName="Lovelace",
                company="Analytical Engines",
                title="Countess",
                emails=["Ada@Example.COM"],
                phones=["(202) 555-0100"],
            )
        ],
    )
    assert counts(report) == expect(created=1)
    assert report["rowErrors"] == []
    contact = await only_contact(world)
    assert (contact.first_name, contact.last_name, contact.company, contact.title) == (
        "Ada",
        "Lovelace",
        "Analytical Engines",
        "Countess",
    )
    assert contact.emails == ["ada@example.com"]
    assert contact.phones == ["+12025550100"]
    assert contact.status == ContactStatus.ACTIVE
    assert (contact.source, contact.source_account, contact.external_id) == (
        "phone",
        "Ada's iPhone",
        "A1",
    )
    assert contact.sort_name == sort_name("Ada Lovelace")
    assert contact.search_text == search_text(
        "Ada", "Lovelace", "Analytical Engines", ["ada@example.com"], ["+12025550100"]
    )
    assert await handle_index(contact) == {("email", "ada@example.com"), ("phone", "+12025550100")}


async def test_a_contact_is_matched_by_its_source_id_even_when_every_address_changed(
    gql: GraphQL, world: World
) -> None:
    await sync(gql, world.member, [person("A1", firstName="Ada", emails=["ada@old.example.com"])])
    report = await sync(
        gql,
        world.member,
        [person("A1", lastName="King", emails=["ada@new.example.com"], phones=["+442071234567"])],
    )
    assert counts(report) == expect(updated=1), str(report)
    contact = await only_contact(world)
    # Nothing is removed by a sync: the union of addresses, and the name it had.
    assert contact.emails == ["ada@old.example.com", "ada@new.example.com"]
    assert contact.phones == ["+442071234567"]
    assert (contact.first_name, contact.last_name) == ("Ada", "King")
    assert contact.sort_name == "ada king"
    assert await handle_index(contact) == {
        ("email", "ada@old.example.com"),
        ("email", "ada@new.example.com"),
        ("phone", "+442071234567"),
    }
    # The index finds it by its new address.
    assert await handles.contact_ids_with(world.workspace.id, "email", "ada@new.example.com") == [
        contact.id
    ]


async def test_the_same_source_id_from_another_account_or_source_is_another_contact(
    gql: GraphQL, world: World
) -> None:
    await sync(gql, world.member, [person("1", firstName="Ada")], account="phone A")
    report = await sync(gql, world.member, [person("1", firstName="Grace")], account="phone B")
    assert counts(report) == expect(created=1)
    report = await sync(gql, world.member, [person("1", firstName="Alan")], source="EMAIL")
    assert counts(report) == expect(created=1)
    assert await Contact.filter(workspace_id=world.workspace.id).count() == 3


async def test_a_contact_is_matched_by_any_normalized_email_then_by_any_phone(
    gql: GraphQL, world: World
) -> None:
    by_email = await world.contact("Ada", None, emails=["ada@example.com"])
    by_phone = await world.contact("Grace", None, phones=["+12025550100"])
    report = await sync(
        gql,
        world.member,
        [
            person(
                "x",
                firstName="Ada",
                lastName="Lovelace",
                emails=["nope@example.org", "ADA@example.com"],
            ),
            person("y", company="Navy", phones=["202-555-0100"]),
        ],
        source="EMAIL",
        account="ada@gmail.test",
    )
    assert counts(report) == expect(updated=2)
    ada, grace = await refetch(by_email), await refetch(by_phone)
    assert ada is not None
    assert grace is not None
    assert ada.last_name == "Lovelace"
    assert ada.emails == ["ada@example.com", "nope@example.org"]
    assert (grace.first_name, grace.company, grace.phones) == ("Grace", "Navy", ["+12025550100"])
    # They adopted the source IDs, so the next sync finds them by those.
    assert (ada.source, ada.source_account, ada.external_id) == ("email", "ada@gmail.test", "x")
    assert await Contact.filter(workspace_id=world.workspace.id).count() == 2


async def test_adopting_a_source_id_is_no_visible_change_and_keeps_every_other_column(
    gql: GraphQL, world: World
) -> None:
    ada = await world.contact("Ada", "Lovelace", emails=["ada@example.com"], company="Engines")
    report = await sync(gql, world.member, [person("A1", emails=["ada@example.com"])])
    assert counts(report) == expect(unchanged=1)
    after = await refetch(ada)
    assert after is not None
    assert after.external_id == "A1"
    # The row is written (it adopted the ID), but nothing a person sees moved.
    kept = ("first_name", "last_name", "company", "emails", "phones", "sort_name", "search_text")
    assert [getattr(after, c) for c in kept] == [getattr(ada, c) for c in kept]
    assert (after.updated_at, after.status, after.archived_at) == (
        ada.updated_at,
        ContactStatus.ACTIVE,
        None,
    )


async def test_a_source_id_match_wins_over_an_email_match(gql: GraphQL, world: World) -> None:
    await sync(gql, world.member, [person("A1", firstName="Ada")])
    other = await world.contact("Grace", None, emails=["shared@example.com"])
    report = await sync(
        gql, world.member, [person("A1", firstName="Ada", emails=["shared@example.com"])]
    )
    assert counts(report) == expect(updated=1)
    ada = await Contact.get(workspace_id=world.workspace.id, external_id="A1")
    assert ada.emails == ["shared@example.com"]
    untouched = await refetch(other)
    assert untouched is not None
    assert untouched.first_name == "Grace"


async def test_empty_incoming_fields_change_nothing(gql: GraphQL, world: World) -> None:
    await sync(
        gql, world.member, [person("A1", firstName="Ada", company="ACME", emails=["a@example.org"])]
    )
    report = await sync(
        gql,
        world.member,
        [person("A1", firstName="", lastName=None, company="   ", emails=[], phones=None)],
    )
    assert counts(report) == expect(unchanged=1)
    contact = await only_contact(world)
    assert (contact.first_name, contact.company, contact.emails) == (
        "Ada",
        "ACME",
        ["a@example.org"],
    )


async def test_rows_of_one_call_that_share_an_address_are_one_contact(
    gql: GraphQL, world: World
) -> None:
    report = await sync(
        gql,
        world.member,
        [
            person("1", firstName="Ada", emails=["ada@example.com"]),
            person("2", lastName="Lovelace", emails=["ADA@example.com"], phones=["+12025550100"]),
            person("3", company="ACME", phones=["+1 202 555 0100"]),
            person("1", title="Countess"),
        ],
    )
    assert counts(report) == expect(created=1, updated=3)
    contact = await only_contact(world)
    assert (contact.first_name, contact.last_name, contact.company, contact.title) == (
        "Ada",
        "Lovelace",
        "ACME",
        "Countess",
    )
    assert contact.phones == ["+12025550100"]
    assert await handle_index(contact) == {("email", "ada@example.com"), ("phone", "+12025550100")}


async def test_a_source_id_match_deleted_before_it_is_locked_falls_back_to_the_addresses(
    gql: GraphQL, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    await sync(gql, world.member, [person("X", firstName="Old")])
    grace = await world.contact("Grace", None, emails=["grace@example.com"])
    read_origins = sync_module._by_origin

    async def deleted_meanwhile(connection: Any, *args: Any) -> dict[str, int]:
        found = await read_origins(connection, *args)
        await Contact.filter(id__in=list(found.values())).using_db(connection).delete()
        return found

    monkeypatch.setattr(sync_module, "_by_origin", deleted_meanwhile)
    report = await sync(
        gql, world.member, [person("X", lastName="Hopper", emails=["grace@example.com"])]
    )
    assert counts(report) == expect(updated=1)
    assert await only_contact(world) == grace
    after = await refetch(grace)
    assert after is not None
    assert (after.last_name, after.external_id) == ("Hopper", "X")


async def test_another_workspaces_contacts_are_never_matched(
    gql: GraphQL, world: World, other_world: World
) -> None:
    theirs = await other_world.contact("Ada", None, emails=["ada@example.com"])
    report = await sync(gql, world.member, [person("1", emails=["ada@example.com"])])
    assert counts(report) == expect(created=1)
    untouched = await refetch(theirs)
    assert untouched is not None
    assert untouched.external_id is None
    assert await Contact.filter(workspace_id=other_world.workspace.id).count() == 1


# ---------------------------------------------------------------- the sources table


async def test_archive_then_sync_updates_the_contact_and_it_stays_archived(
    gql: GraphQL, world: World
) -> None:
    await sync(gql, world.member, [person("A1", firstName="Ada", emails=["ada@example.com"])])
    contact = await only_contact(world)
    from sourcing import archive

    await archive(gql, world, contact)
    archived = await refetch(contact)
    assert archived is not None
    assert archived.archived_at is not None

    report = await sync(
        gql, world.member, [person("A1", lastName="Lovelace", phones=["+12025550100"])]
    )
    assert counts(report) == expect(updated=1, kept_archived=1)
    after = await refetch(contact)
    assert after is not None
    assert after.status == ContactStatus.ARCHIVED
    assert after.archived_at == archived.archived_at
    assert (after.last_name, after.phones) == ("Lovelace", ["+12025550100"])

    # Matched by email instead, and unchanged: still counted as kept archived.
    report = await sync(
        gql, world.member, [person("other", emails=["ada@example.com"])], source="EMAIL"
    )
    assert counts(report) == expect(unchanged=1, kept_archived=1)
    final = await refetch(contact)
    assert final is not None
    assert final.status == ContactStatus.ARCHIVED


async def test_delete_then_sync_creates_the_contact_again(gql: GraphQL, world: World) -> None:
    row = person("A1", firstName="Ada", emails=["ada@example.com"], phones=["+12025550100"])
    await sync(gql, world.member, [row])
    first = await only_contact(world)
    await delete(gql, world, first)
    assert await refetch(first) is None

    report = await sync(gql, world.member, [row])
    assert counts(report) == expect(created=1)
    again = await only_contact(world)
    assert again.id != first.id
    assert again.status == ContactStatus.ACTIVE
    assert (again.emails, again.phones) == (["ada@example.com"], ["+12025550100"])
    assert await Suppression.filter(workspace_id=world.workspace.id).count() == 0


async def test_delete_with_prevent_resync_then_sync_from_phone_and_from_email_is_suppressed(
    gql: GraphQL, world: World
) -> None:
    row = person("A1", firstName="Ada", emails=["ada@example.com"], phones=["+12025550100"])
    await sync(gql, world.member, [row], source="PHONE", account="iPhone")
    await delete(gql, world, await only_contact(world), prevent_resync=True)

    # The same phone again: covered by its source ID, email and phone.
    report = await sync(gql, world.member, [row], source="PHONE", account="iPhone")
    assert counts(report) == expect(suppressed=1)
    # A mailbox with the same address: suppression holds whatever the source.
    report = await sync(
        gql,
        world.member,
        [person("m-77", firstName="Ada L.", emails=["ADA@example.com"])],
        source="EMAIL",
        account="ada@work.test",
    )
    assert counts(report) == expect(suppressed=1)
    # Only the phone number: also covered.
    report = await sync(
        gql, world.member, [person("zz", phones=["202 555 0100"])], source="EMAIL", account="x"
    )
    assert counts(report) == expect(suppressed=1)
    assert await Contact.filter(workspace_id=world.workspace.id).count() == 0


async def test_a_suppressed_source_id_alone_is_enough(gql: GraphQL, world: World) -> None:
    await sync(gql, world.member, [person("A1", firstName="Ada")])
    await delete(gql, world, await only_contact(world), prevent_resync=True)
    report = await sync(gql, world.member, [person("A1", firstName="Ada", lastName="Lovelace")])
    assert counts(report) == expect(suppressed=1)
    # Another contact of the same phone is not covered.
    report = await sync(gql, world.member, [person("B2", firstName="Grace")])
    assert counts(report) == expect(created=1)


async def test_suppression_only_keeps_sync_from_creating_a_match_is_still_updated(
    gql: GraphQL, world: World
) -> None:
    doomed = await world.contact("Old", None, emails=["ada@example.com"], archived=True)
    keeper = await world.contact("Ada", None, phones=["+12025550100"])
    await delete(gql, world, doomed, prevent_resync=True)
    report = await sync(
        gql,
        world.member,
        [person("1", lastName="Lovelace", emails=["ada@example.com"], phones=["+12025550100"])],
    )
    assert counts(report) == expect(updated=1)
    after = await refetch(keeper)
    assert after is not None
    assert after.last_name == "Lovelace"


async def test_delete_with_prevent_resync_then_csv_upload_then_sync(
    gql: GraphQL, world: World
) -> None:
    from sourcing import import_csv

    row = person("A1", firstName="Ada", emails=["ada@example.com"], phones=["+12025550100"])
    await sync(gql, world.member, [row])
    await delete(gql, world, await only_contact(world), prevent_resync=True)
    assert counts(await sync(gql, world.member, [row])) == expect(suppressed=1)

    # A person's explicit act brings the contact back and lifts its suppression.
    csv_report = await import_csv(
        gql.http, world.member, b"first_name,email\nAda,ada@example.com\n"
    )
    assert counts(csv_report) == expect(created=1)
    contact = await only_contact(world)

    # The sync now updates it (the phone's suppression no longer matters: it matches).
    report = await sync(gql, world.member, [row])
    assert counts(report) == expect(updated=1)
    after = await refetch(contact)
    assert after is not None
    assert (after.emails, after.phones) == (["ada@example.com"], ["+12025550100"])
    assert await Contact.filter(workspace_id=world.workspace.id).count() == 1


# ---------------------------------------------------------------- idempotence, errors, limits


async def test_a_repeated_identical_sync_reports_everything_unchanged_and_writes_nothing(
    gql: GraphQL, world: World
) -> None:
    await world.contact("Grace", None, emails=["grace@example.com"])
    rows = [
        person(str(n), firstName=f"Person {n}", emails=[f"p{n}@example.com"]) for n in range(20)
    ] + [person("g", emails=["grace@example.com"], phones=["+12025550100"])]
    first = await sync(gql, world.member, rows)
    assert counts(first) == expect(created=20, updated=1)
    before = {
        c.id: (c.updated_at, c.emails, c.phones)
        for c in await Contact.filter(workspace_id=world.workspace.id)
    }
    with count_statements() as log:
        again = await sync(gql, world.member, rows)
    assert counts(again) == expect(unchanged=21)
    writes = [
        s
        for s in log.statements
        if s.split(" ", 1)[0].upper() in {"INSERT", "UPDATE", "DELETE"}
        # SQLite's claim takes the write lock and changes no row (server/claims.py).
        and not s.startswith(claims.SQLITE_WRITE_LOCK)
    ]
    # Only the token's last-used time may be written (once a minute at most).
    assert all("api_token" in s for s in writes), writes
    # Every row matched by its source ID: no address had to be looked up.
    assert not [s for s in log.statements if '"contact_handle"' in s]
    after = {
        c.id: (c.updated_at, c.emails, c.phones)
        for c in await Contact.filter(workspace_id=world.workspace.id)
    }
    assert after == before


async def test_bad_rows_are_reported_by_position_and_the_others_land(
    gql: GraphQL, world: World
) -> None:
    report = await sync(
        gql,
        world.member,
        [
            person("1", firstName="Ada"),
            person("2", emails=["not-an-email"]),
            person("", firstName="No ID"),
            person("4", company="Only a company"),
            person("5", firstName="Grace", phones=["12"]),
            person("6", lastName="Hopper", emails=["grace@navy.example.com"]),
            person("7", firstName="x" * 201),
            person("8\x00", firstName="NUL in the ID"),
        ],
    )
    assert counts(report) == expect(created=2)
    errors = {e["row"]: e["errors"] for e in report["rowErrors"]}
    assert sorted(errors) == [2, 3, 4, 5, 7, 8]
    assert [e["field"] for e in errors[2]] == ["emails[0]"]
    assert [e["field"] for e in errors[3]] == ["externalId"]
    assert [e["field"] for e in errors[4]] == ["firstName"]
    assert [e["field"] for e in errors[5]] == ["phones[0]"]
    assert [e["field"] for e in errors[7]] == ["firstName"]
    assert [e["field"] for e in errors[8]] == ["externalId"]
    assert all(e["message"] for row in errors.values() for e in row)
    names = set(
        await Contact.filter(workspace_id=world.workspace.id).values_list("first_name", "last_name")
    )
    assert names == {("Ada", None), (None, "Hopper")}


async def test_rows_sent_again_in_another_order_are_reported_at_their_new_positions(
    gql: GraphQL, world: World
) -> None:
    rows = [
        person("1", firstName="Ada"),
        person("2", emails=["not-an-email"]),
        person("3", firstName="Grace", phones=["12"]),
    ]

    def errors(report: dict[str, Any]) -> list[tuple[int, list[str]]]:
        return [(e["row"], [f["field"] for f in e["errors"]]) for e in report["rowErrors"]]

    first = await sync(gql, world.member, rows)
    assert counts(first) == expect(created=1)
    assert errors(first) == [(2, ["emails[0]"]), (3, ["phones[0]"])]
    again = await sync(gql, world.member, rows[::-1])
    assert counts(again) == expect(unchanged=1)
    assert errors(again) == [(1, ["phones[0]"]), (2, ["emails[0]"])]


async def test_a_re_sync_reads_numbers_in_the_workspaces_phone_region_of_the_day(
    gql: GraphQL, world: World
) -> None:
    rows = [person("1", firstName="Ada", phones=["020 7946 0018"])]
    await sync(gql, world.member, rows)
    assert (await only_contact(world)).phones == ["020 7946 0018"]  # not a US number
    world.workspace.phone_region = "GB"
    await world.workspace.save(update_fields=["phone_region"])
    report = await sync(gql, world.member, rows)
    assert counts(report) == expect(updated=1)
    assert (await only_contact(world)).phones == ["020 7946 0018", "+442079460018"]


async def test_more_than_5000_contacts_is_bad_user_input_and_changes_nothing(
    gql: GraphQL, world: World
) -> None:
    contacts = [person(str(n), firstName="P") for n in range(5_001)]
    code, message, _ = await gql.error(
        "mutation($i: SyncContactsInput!) { syncContacts(input: $i) { created } }",
        {"i": {"source": "PHONE", "sourceAccount": "x", "contacts": contacts}},
        as_=world.member,
    )
    assert code == "BAD_USER_INPUT"
    assert "5,000" in message
    assert await Contact.filter(workspace_id=world.workspace.id).count() == 0
    # 5,000 is fine.
    report = await sync(gql, world.member, contacts[:5_000])
    assert counts(report) == expect(created=5_000)


@pytest.mark.parametrize(
    ("source", "account", "fragment"),
    [
        ("CSV", "x", "importContactsCsv"),
        ("PHONE", "   ", "sourceAccount"),
        ("EMAIL", "a" * 201, "sourceAccount"),
        ("EMAIL", "phone\x00", "sourceAccount"),
    ],
)
async def test_a_csv_source_or_a_bad_account_is_bad_user_input(
    gql: GraphQL, world: World, source: str, account: str, fragment: str
) -> None:
    code, message, _ = await gql.error(
        "mutation($i: SyncContactsInput!) { syncContacts(input: $i) { created } }",
        {
            "i": {
                "source": source,
                "sourceAccount": account,
                "contacts": [person("1", firstName="A")],
            }
        },
        as_=world.member,
    )
    assert (code, fragment in message) == ("BAD_USER_INPUT", True)
    assert await Contact.filter(workspace_id=world.workspace.id).count() == 0


async def test_a_viewer_may_not_sync(gql: GraphQL, world: World) -> None:
    code, _, _ = await gql.error(
        "mutation($i: SyncContactsInput!) { syncContacts(input: $i) { created } }",
        {"i": {"source": "PHONE", "sourceAccount": "x", "contacts": [person("1", firstName="A")]}},
        as_=world.viewer,
    )
    assert code == "FORBIDDEN"
    assert await Contact.filter(workspace_id=world.workspace.id).count() == 0


async def test_a_sync_is_one_transaction_a_failure_leaves_nothing(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    existing = await world.contact("Ada", None, emails=["ada@example.com"])

    async def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(handles, "reindex", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        await sync_module.sync_contacts(
            world.workspace.id,
            SourceKind.PHONE,
            "x",
            [
                {"external_id": "1", "first_name": "Grace"},
                {"external_id": "2", "emails": ["ada@example.com"], "last_name": "Lovelace"},
            ],
            max_contacts=10,
        )
    assert await Contact.filter(workspace_id=world.workspace.id).count() == 1
    after = await refetch(existing)
    assert after is not None
    assert after.last_name is None


async def test_statements_do_not_grow_with_the_number_of_contacts(
    gql: GraphQL, world: World
) -> None:
    async def statements_for(size: int, prefix: str) -> int:
        # Half of them exist already (by email), half are new; all change.
        for n in range(size // 2):
            await world.contact(f"{prefix}{n}", None, emails=[f"{prefix}{n}@example.com"])
        rows = [
            person(
                f"{prefix}{n}",
                lastName="L",
                emails=[f"{prefix}{n}@example.com"],
                phones=[f"+1202555{n:04d}"],
            )
            for n in range(size)
        ]
        with count_statements() as log:
            report = await sync(gql, world.member, rows, account=prefix)
        assert counts(report) == expect(created=size - size // 2, updated=size // 2)
        # The token's last-used time is written at most once a minute: not the sync's.
        return sum(1 for s in log.statements if '"api_token"' not in s)

    small = await statements_for(50, "s")
    large = await statements_for(500, "l")
    assert large == small, (small, large)
    assert small <= 20


async def test_sync_contacts_in_the_contact_list_are_found_by_search(
    gql: GraphQL, world: World
) -> None:
    await sync(gql, world.member, [person("1", firstName="Ada", phones=["+12025550100"])])
    data = await gql(
        'query { contacts(filter: {search: "555 0100"}) '
        "{ totalCount edges { node { id displayName } } } }",
        as_=world.viewer,
    )
    assert data["contacts"]["totalCount"] == 1
    contact = await only_contact(world)
    assert data["contacts"]["edges"][0]["node"] == {"id": gid(contact), "displayName": "Ada"}


def plan_cache_modes(monkeypatch: pytest.MonkeyPatch, function: str) -> list[str]:
    """The plan_cache_mode in force at each call of `server.sync.<function>(connection, ...)`."""
    seen: list[str] = []
    original = getattr(sync_module, function)

    async def spying(connection: Any, *args: Any) -> Any:
        _, rows = await connection.execute_query("SHOW plan_cache_mode")
        seen.append(rows[0]["plan_cache_mode"])
        return await original(connection, *args)

    monkeypatch.setattr(sync_module, function, spying)
    return seen


@pytest.mark.postgres_only
async def test_each_batch_plans_its_lookups_for_the_actual_values(
    gql: GraphQL, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = plan_cache_modes(monkeypatch, "_bring_in")
    await sync(gql, world.member, [{"externalId": "A1", "firstName": "Ada"}])
    assert seen == ["force_custom_plan"]
    # SET LOCAL: the pooled connection goes back to the server's default afterwards.
    _, rows = await db.connection().execute_query("SHOW plan_cache_mode")
    assert rows[0]["plan_cache_mode"] == "auto"


@pytest.mark.postgres_only
async def test_a_batch_writes_with_cached_plans_for_its_foreign_key_checks(
    gql: GraphQL, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Each inserted row's foreign-key checks run a cached plan; forced to replan every row,
    # they tripled the time to insert a first sync's handles.
    seen = plan_cache_modes(monkeypatch, "_insert")
    report = await sync(gql, world.member, [{"externalId": "A1", "firstName": "Ada"}])
    assert counts(report) == expect(created=1)
    assert seen == ["auto"]


def test_a_remembered_row_moved_to_another_position_keeps_every_field() -> None:
    values: dict[str, Any] = {
        f.name: (f"{f.name}-value",) if "tuple" in str(f.type) else f"{f.name}-value"
        for f in dataclasses.fields(sync_module.IncomingContact)
        if f.name != "position"
    }
    row = sync_module.IncomingContact(1, **values)
    # Every field but the position is set, and differs from its default.
    assert all(value for value in dataclasses.astuple(row))
    assert row.at(7) == dataclasses.replace(row, position=7)
    assert row.at(7).position == 7
