"""A mutation document runs all of its fields or, when one is not permitted, none of them."""

from __future__ import annotations

from conftest import GraphQL, World, gid

from server.models import Bucket, Contact
from server.policy import ContactStatus

BUCKET_THEN_DELETE = """
mutation ($ids: [ID!]) {
  a: createBucket(name: "Made first") { id }
  b: deleteContacts(input: {selection: {ids: $ids}}) { succeeded }
}
"""


async def test_a_member_sending_a_field_only_admins_may_run_gets_forbidden_and_nothing_runs(
    gql: GraphQL, world: World
) -> None:
    archived = await world.contact(archived=True)
    code, message, data = await gql.error(
        BUCKET_THEN_DELETE, {"ids": [gid(archived)]}, as_=world.member
    )
    assert (code, message, data) == (
        "FORBIDDEN",
        "Only admins may delete contacts permanently.",
        None,
    )
    assert await Bucket.filter(workspace_id=world.workspace.id).count() == 0
    assert (await Contact.get(id=archived.id)).status == ContactStatus.ARCHIVED
    response = await gql.raw(BUCKET_THEN_DELETE, {"ids": [gid(archived)]}, world.member.token)
    assert response.status_code == 200
    assert [error["path"] for error in response.json()["errors"]] == [["b"]]


async def test_a_forbidden_field_inside_a_fragment_is_found_too(gql: GraphQL, world: World) -> None:
    code, _, _ = await gql.error(
        """mutation { a: createBucket(name: "x") { id } ...Purge }
        fragment Purge on Mutation { ... on Mutation { deleteContacts(input: {selection: {ids: []}})
        { succeeded } } }""",
        as_=world.member,
    )
    assert code == "FORBIDDEN"
    assert await Bucket.filter(workspace_id=world.workspace.id).count() == 0


async def test_a_field_left_out_by_skip_or_include_does_not_count(
    gql: GraphQL, world: World
) -> None:
    data = await gql(
        """mutation ($purge: Boolean!) {
          a: createBucket(name: "Kept") { name }
          b: deleteContacts(input: {selection: {ids: []}}) @include(if: $purge) { succeeded }
          c: deleteContacts(input: {selection: {ids: []}}) @skip(if: true) { succeeded }
        }""",
        {"purge": False},
        as_=world.member,
    )
    assert data == {"a": {"name": "Kept"}}


async def test_an_admin_runs_every_field_of_the_same_document(gql: GraphQL, world: World) -> None:
    archived = await world.contact(archived=True)
    data = await gql(BUCKET_THEN_DELETE, {"ids": [gid(archived)]}, as_=world.admin)
    assert data["b"] == {"succeeded": 1}
    assert await Bucket.filter(workspace_id=world.workspace.id).count() == 1


async def test_a_viewer_is_refused_at_the_first_field_and_writes_nothing(
    gql: GraphQL, world: World
) -> None:
    code, message, _ = await gql.error(
        'mutation { createBucket(name: "x") { id } }', as_=world.viewer
    )
    assert code == "FORBIDDEN"
    assert message.startswith("Your role may only read")
    assert await Bucket.filter(workspace_id=world.workspace.id).count() == 0


async def test_a_document_whose_later_field_fails_undoes_the_fields_before_it(
    gql: GraphQL, world: World
) -> None:
    active = await world.contact()
    code, _, data = await gql.error(
        """mutation ($ids: [ID!]) {
          a: createBucket(name: "Made first") { id }
          b: archiveContacts(input: {selection: {ids: $ids}}) { succeeded }
          c: archiveContacts(input: {selection: {}}) { succeeded }
        }""",
        {"ids": [gid(active)]},
        as_=world.member,
    )
    assert (code, data) == ("BAD_USER_INPUT", None)
    assert await Bucket.filter(workspace_id=world.workspace.id).count() == 0
    assert (await Contact.get(id=active.id)).status == ContactStatus.ACTIVE


async def test_a_document_whose_fields_all_succeed_commits_them_all(
    gql: GraphQL, world: World
) -> None:
    active = await world.contact()
    data = await gql(
        """mutation ($ids: [ID!]) {
          a: createBucket(name: "Made first") { name }
          b: archiveContacts(input: {selection: {ids: $ids}}) { succeeded }
        }""",
        {"ids": [gid(active)]},
        as_=world.member,
    )
    assert data == {"a": {"name": "Made first"}, "b": {"succeeded": 1}}
    assert await Bucket.filter(workspace_id=world.workspace.id).count() == 1
    assert (await Contact.get(id=active.id)).status == ContactStatus.ARCHIVED
