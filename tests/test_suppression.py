"""Suppression: one-way digests only, per workspace; who brings a contact back; admin API.

What deleteContacts(preventResync: true) keeps, which sources it stops (automatic ones,
whatever their kind) and which lift it (a person's act), and what admins may see and do
without ever learning the addresses.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import pytest
from conftest import GraphQL, World
from sourcing import CREATE, counts, delete, expect, import_csv, sync

from server import suppression
from server import sync as sync_module
from server.models import Contact, Suppression

SUMMARY = """
query {
  suppressions { count firstCreatedAt lastCreatedAt kinds { kind count } }
}
"""
IS_SUPPRESSED = """
query Is($email: String, $phone: String) { isSuppressed(email: $email, phone: $phone) }
"""
LIFT = """
mutation Lift($email: String, $phone: String) {
  liftSuppression(email: $email, phone: $phone) { lifted }
}
"""


async def suppressed_contact(gql: GraphQL, world: World) -> None:
    """A contact synced from a phone, then deleted with preventResync."""
    await sync(
        gql,
        world.member,
        [
            {
                "externalId": "A1",
                "firstName": "Ada",
                "emails": ["ada@example.com"],
                "phones": ["+12025550100"],
            }
        ],
        source="PHONE",
        account="iPhone",
    )
    contact = await Contact.get(workspace_id=world.workspace.id)
    await delete(gql, world, contact, prevent_resync=True)


async def test_only_keyed_one_way_digests_are_stored(
    gql: GraphQL, world: World, other_world: World
) -> None:
    await suppressed_contact(gql, world)
    rows = await Suppression.filter(workspace_id=world.workspace.id).values("kind", "digest")
    assert sorted(r["kind"] for r in rows) == ["email", "origin", "phone"]
    stored = {r["digest"] for r in rows}
    # HMAC-SHA-256 keyed with the workspace's secret: nothing of the address shows...
    for row in rows:
        assert len(row["digest"]) == 64
        assert set(row["digest"]) <= set("0123456789abcdef")
    columns = await Suppression.filter(workspace_id=world.workspace.id).values()
    assert "example.com" not in str(columns)
    assert "2025550100" not in str(columns)
    secret = world.workspace.secret
    assert suppression.digest(secret, "email", "ada@example.com") in stored
    assert suppression.digest(secret, "phone", "+12025550100") in stored
    key = suppression.origin_key("phone", "iPhone", "A1")
    assert suppression.digest(secret, "origin", key) in stored
    # ...and another workspace's key gives other digests, so they cannot be compared.
    assert (
        suppression.digest(other_world.workspace.secret, "email", "ada@example.com") not in stored
    )


def test_a_digest_is_the_hmac_sha256_of_kind_and_value() -> None:
    expected = hmac.new(b"secret", b"email:ada@example.com", hashlib.sha256).hexdigest()
    assert suppression.digest("secret", "email", "ada@example.com") == expected


async def test_a_workspace_without_suppression_hashes_nothing(
    gql: GraphQL, world: World, other_world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    await suppressed_contact(gql, other_world)  # another workspace's suppression counts not

    def refuse(*_: Any) -> None:
        raise AssertionError("hashed addresses although nothing is suppressed")

    monkeypatch.setattr(sync_module, "contact_digests", refuse)
    report = await sync(gql, world.member, [{"externalId": "A1", "emails": ["ada@example.com"]}])
    assert counts(report) == expect(created=1)


async def test_automatic_sources_skip_it_whatever_their_kind(gql: GraphQL, world: World) -> None:
    await suppressed_contact(gql, world)
    for source, account, row in (
        ("PHONE", "iPhone", {"externalId": "A1", "firstName": "Ada"}),
        ("PHONE", "Other phone", {"externalId": "x", "phones": ["(202) 555-0100"]}),
        ("EMAIL", "ada@work", {"externalId": "m1", "emails": ["ADA@example.com"]}),
    ):
        report = await sync(gql, world.member, [row], source=source, account=account)
        assert counts(report) == expect(suppressed=1), (source, row)
    from sourcing import LOG

    logged = await gql(
        LOG,
        {
            "input": {
                "email": "ada@example.com",
                "kind": "EMAIL",
                "direction": "INBOUND",
                "occurredAt": "2026-01-01T00:00:00Z",
            }
        },
        as_=world.member,
    )
    assert logged["logInteraction"]["__typename"] == "InteractionSuppressed"
    assert await Contact.filter(workspace_id=world.workspace.id).count() == 0


async def test_create_contact_brings_it_back_and_lifts_its_suppression(
    gql: GraphQL, world: World
) -> None:
    await suppressed_contact(gql, world)
    data = await gql(
        CREATE,
        {"input": {"firstName": "Ada", "emails": ["ada@example.com"], "phones": ["+12025550100"]}},
        as_=world.member,
    )
    assert data["createContact"]["__typename"] == "ContactCreated"
    kinds = await Suppression.filter(workspace_id=world.workspace.id).values_list("kind", flat=True)
    # The source ID stays suppressed (a hand-made contact has none); the addresses do not.
    assert [str(kind) for kind in kinds] == ["origin"]
    report = await sync(
        gql,
        world.member,
        [{"externalId": "A1", "emails": ["ada@example.com"]}],
        source="PHONE",
        account="iPhone",
    )
    # It matches the contact that exists now (which adopts the phone's source ID quietly).
    assert counts(report) == expect(unchanged=1)
    assert await Contact.filter(workspace_id=world.workspace.id).count() == 1


async def test_a_csv_upload_brings_it_back_and_lifts_its_suppression(
    gql: GraphQL, world: World
) -> None:
    await suppressed_contact(gql, world)
    report = await import_csv(
        gql.http, world.member, b"first_name,email,phone\nAda,ada@example.com,+12025550100\n"
    )
    assert counts(report) == expect(created=1)
    data = await gql(IS_SUPPRESSED, {"email": "ada@example.com"}, as_=world.admin)
    assert data["isSuppressed"] is False


# ---------------------------------------------------------------- admin API


async def test_admins_see_counts_and_dates_never_addresses(gql: GraphQL, world: World) -> None:
    empty = await gql(SUMMARY, as_=world.admin)
    assert empty["suppressions"]["count"] == 0
    assert empty["suppressions"]["lastCreatedAt"] is None
    await suppressed_contact(gql, world)
    data = (await gql(SUMMARY, as_=world.admin))["suppressions"]
    assert data["count"] == 3
    assert {k["kind"]: k["count"] for k in data["kinds"]} == {
        "EMAIL": 1,
        "PHONE": 1,
        "SOURCE_ID": 1,
    }
    assert data["firstCreatedAt"] is not None
    assert data["lastCreatedAt"] >= data["firstCreatedAt"]
    text = str(data)
    assert "ada" not in text
    assert "example" not in text


@pytest.mark.parametrize(
    ("variables", "expected"),
    [
        ({"email": "ADA@Example.com"}, True),
        ({"phone": "(202) 555-0100"}, True),
        ({"email": "grace@example.com"}, False),
        ({"phone": "+44 20 7123 4567"}, False),
    ],
)
async def test_admins_can_ask_whether_an_address_is_suppressed(
    gql: GraphQL, world: World, variables: dict[str, Any], expected: bool
) -> None:
    await suppressed_contact(gql, world)
    data = await gql(IS_SUPPRESSED, variables, as_=world.admin)
    assert data["isSuppressed"] is expected


@pytest.mark.parametrize(
    "variables",
    [{}, {"email": "a@example.com", "phone": "+12025550100"}, {"email": "not an email"}],
)
async def test_a_lookup_takes_one_valid_address(
    gql: GraphQL, world: World, variables: dict[str, Any]
) -> None:
    code, _, _ = await gql.error(IS_SUPPRESSED, variables, as_=world.admin)
    assert code == "BAD_USER_INPUT"


async def test_admins_can_lift_a_suppression_then_sync_creates_the_contact(
    gql: GraphQL, world: World
) -> None:
    await suppressed_contact(gql, world)
    lifted = await gql(LIFT, {"email": "ada@example.com"}, as_=world.admin)
    assert lifted["liftSuppression"]["lifted"] == 1
    again = await gql(LIFT, {"email": "ada@example.com"}, as_=world.admin)
    assert again["liftSuppression"]["lifted"] == 0
    # The email alone is free again; the phone and the source ID are still suppressed.
    report = await sync(
        gql,
        world.member,
        [{"externalId": "m1", "emails": ["ada@example.com"]}],
        source="EMAIL",
        account="x",
    )
    assert counts(report) == expect(created=1)
    report = await sync(
        gql,
        world.member,
        [{"externalId": "p1", "phones": ["+12025550100"]}],
        source="EMAIL",
        account="y",
    )
    assert counts(report) == expect(suppressed=1)


@pytest.mark.parametrize("role", ["member", "viewer"])
async def test_only_admins_may_see_or_lift_suppressions(
    gql: GraphQL, world: World, role: str
) -> None:
    await suppressed_contact(gql, world)
    person = getattr(world, role)
    for query, variables in (
        (SUMMARY, {}),
        (IS_SUPPRESSED, {"email": "ada@example.com"}),
        (LIFT, {"email": "ada@example.com"}),
    ):
        code, _, _ = await gql.error(query, variables, as_=person)
        assert code == "FORBIDDEN"
    assert await Suppression.filter(workspace_id=world.workspace.id).count() == 3


async def test_another_workspaces_suppressions_are_invisible(
    gql: GraphQL, world: World, other_world: World
) -> None:
    await suppressed_contact(gql, world)
    data = await gql(SUMMARY, as_=other_world.admin)
    assert data["suppressions"]["count"] == 0
    found = await gql(IS_SUPPRESSED, {"email": "ada@example.com"}, as_=other_world.admin)
    assert found["isSuppressed"] is False
    lifted = await gql(LIFT, {"email": "ada@example.com"}, as_=other_world.admin)
    assert lifted["liftSuppression"]["lifted"] == 0
    assert await Suppression.filter(workspace_id=world.workspace.id).count() == 3
