"""Admins can read who archived, unarchived and deleted what, and revoke API tokens."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from conftest import GraphQL, World, gid

from server.auth import LAST_USED_RESOLUTION
from server.models import ApiToken, AuditEntry

TRAIL = """
{ auditTrail { edges { node {
  action contactIds contactCount preventResync occurredAt actor { email }
} } } }
"""
ARCHIVE = """mutation($ids: [ID!], $dry: Boolean!) {
  archiveContacts(input: {selection: {ids: $ids}, dryRun: $dry}) { succeeded } }"""
UNARCHIVE = """mutation($ids: [ID!]) {
  unarchiveContacts(input: {selection: {ids: $ids}}) { succeeded } }"""
DELETE = """mutation($ids: [ID!]) {
  deleteContacts(input: {selection: {ids: $ids}, preventResync: true}) { succeeded } }"""


async def test_each_lifecycle_mutation_leaves_one_entry_naming_who_and_which(
    world: World, gql: GraphQL
) -> None:
    first = await world.contact("Ada", "One", emails=["ada@example.com"])
    second = await world.contact("Bob", "Two")
    ids = [gid(first), gid(second)]
    await gql(ARCHIVE, {"ids": ids, "dry": True}, as_=world.member)
    await gql(ARCHIVE, {"ids": ids, "dry": False}, as_=world.member)
    await gql(UNARCHIVE, {"ids": [gid(second)]}, as_=world.member)
    await gql(DELETE, {"ids": ids}, as_=world.admin)

    data = await gql(TRAIL, as_=world.admin)
    entries = [edge["node"] for edge in data["auditTrail"]["edges"]]
    assert [(e["action"], e["contactCount"], e["actor"]["email"]) for e in entries] == [
        ("DELETE", 1, "admin@acme.test"),
        ("UNARCHIVE", 1, "member@acme.test"),
        ("ARCHIVE", 2, "member@acme.test"),
    ]
    assert entries[0]["contactIds"] == [gid(first)]
    assert entries[0]["preventResync"] is True
    assert entries[2]["contactIds"] == ids


async def test_the_trail_of_a_deletion_keeps_no_personal_data(world: World, gql: GraphQL) -> None:
    contact = await world.contact(
        "Ada", "Secretname", emails=["ada@private.example"], archived=True
    )
    await gql(DELETE, {"ids": [gid(contact)]}, as_=world.admin)
    rows = await AuditEntry.all().values()
    assert len(rows) == 1
    assert "Secretname" not in repr(rows)
    assert "private.example" not in repr(rows)


async def test_a_refused_or_previewed_action_leaves_no_entry(world: World, gql: GraphQL) -> None:
    contact = await world.contact(assignee=world.member)
    await gql(ARCHIVE, {"ids": [gid(contact)], "dry": False}, as_=world.member)
    await gql(ARCHIVE, {"ids": [gid(contact)], "dry": True}, as_=world.member)
    assert await AuditEntry.all().count() == 0


async def test_only_admins_read_the_trail(world: World, gql: GraphQL) -> None:
    code, _, _ = await gql.error(TRAIL, as_=world.member)
    assert code == "FORBIDDEN"


async def test_another_workspace_sees_none_of_the_trail(
    world: World, other_world: World, gql: GraphQL
) -> None:
    contact = await world.contact()
    await gql(ARCHIVE, {"ids": [gid(contact)], "dry": False}, as_=world.member)
    data = await gql(TRAIL, as_=other_world.admin)
    assert data["auditTrail"]["edges"] == []


TOKENS = "{ apiTokens { id name lastUsedAt revokedAt user { email } } }"
REVOKE = "mutation($id: ID!) { revokeApiToken(id: $id) { id revokedAt } }"


async def test_a_revoked_token_is_refused_from_then_on(world: World, gql: GraphQL) -> None:
    data = await gql(TOKENS, as_=world.admin)
    member_token = next(t for t in data["apiTokens"] if t["user"]["email"] == "member@acme.test")
    await gql("{ viewer { name } }", as_=world.member)
    revoked = await gql(REVOKE, {"id": member_token["id"]}, as_=world.admin)
    assert revoked["revokeApiToken"]["revokedAt"] is not None
    response = await gql.raw("{ viewer { name } }", token=world.member.token)
    assert response.status_code == 401
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_tokens_record_when_they_were_last_used(world: World, gql: GraphQL) -> None:
    assert (await ApiToken.get(user_id=world.viewer.user.id)).last_used_at is None
    await gql("{ viewer { name } }", as_=world.viewer)
    assert (await ApiToken.get(user_id=world.viewer.user.id)).last_used_at is not None


async def test_a_token_used_again_within_the_resolution_is_not_written_again(
    world: World, gql: GraphQL
) -> None:
    recent = datetime.now(UTC) - LAST_USED_RESOLUTION / 2
    stale = datetime.now(UTC) - LAST_USED_RESOLUTION - timedelta(seconds=1)
    await ApiToken.filter(user_id=world.viewer.user.id).update(last_used_at=recent)
    await gql("{ viewer { name } }", as_=world.viewer)
    assert (await ApiToken.get(user_id=world.viewer.user.id)).last_used_at == recent

    await ApiToken.filter(user_id=world.viewer.user.id).update(last_used_at=stale)
    await gql("{ viewer { name } }", as_=world.viewer)
    used = (await ApiToken.get(user_id=world.viewer.user.id)).last_used_at
    assert used is not None
    assert used > recent


async def test_members_cannot_list_or_revoke_tokens(world: World, gql: GraphQL) -> None:
    code, _, _ = await gql.error(TOKENS, as_=world.member)
    assert code == "FORBIDDEN"
    data = await gql(TOKENS, as_=world.admin)
    code, _, _ = await gql.error(REVOKE, {"id": data["apiTokens"][0]["id"]}, as_=world.member)
    assert code == "FORBIDDEN"
    assert await ApiToken.filter(revoked_at__isnull=False).count() == 0


async def test_another_workspaces_token_cannot_be_revoked(
    world: World, other_world: World, gql: GraphQL
) -> None:
    data = await gql(TOKENS, as_=other_world.admin)
    code, _, _ = await gql.error(REVOKE, {"id": data["apiTokens"][0]["id"]}, as_=world.admin)
    assert code == "BAD_USER_INPUT"
    assert await ApiToken.filter(revoked_at__isnull=False).count() == 0
