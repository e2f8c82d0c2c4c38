"""Contact lists: filters, keyset pages both ways, stable orders, and bounded SQL."""

from __future__ import annotations

import base64
import json
from collections import OrderedDict
from typing import Any

import pytest
from conftest import GraphQL, StatementLog, World, bucket_of, count_statements, gid

from server import directory, ids, reading
from server.directory import AudienceKind
from server.models import Contact
from server.policy import StageCategory

PAGE = """
query($first: Int, $after: String, $last: Int, $before: String, $order: ContactOrder,
      $filter: ContactFilter) {
  contacts(first: $first, after: $after, last: $last, before: $before, orderBy: $order,
           filter: $filter) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { displayName } }
  }
}
"""

RICH_PAGE = """
query($first: Int) { contacts(first: $first) { edges { node {
  id displayName status stage { name category blocksArchive } assignee { name workspace { name } }
  tags { name } buckets { name contactCount } archiveBlockers { __typename }
} } } }
"""


CONTACT_FIELDS = """
fragment ContactFields on Contact {
  id displayName stage { name category } assignee { name } tags { name } buckets { name }
}
"""

LIST_PAGE = (
    """
query($first: Int) { contacts(first: $first) { edges { node { ...ContactFields } } } }
"""
    + CONTACT_FIELDS
)

AUDIENCE_PAGE = (
    """
query($id: ID!, $first: Int) { audience(id: $id) { contacts(first: $first) {
  edges { node { ... on Contact { ...ContactFields } } }
} } }
"""
    + CONTACT_FIELDS
)

ONE_CONTACT = (
    """
query($id: ID!) {
  contact(id: $id) { ...ContactFields }
  node(id: $id) { ... on Contact { ...ContactFields } }
}
"""
    + CONTACT_FIELDS
)


def names(data: dict[str, Any]) -> list[str]:
    return [edge["node"]["displayName"] for edge in data["contacts"]["edges"]]


async def make_people(world: World, count: int) -> None:
    categories = list(StageCategory)
    for index in range(count):
        contact = await world.contact(
            f"Person{index:03d}",
            "Rich",
            stage=categories[index % 5],
            assignee=world.member if index % 2 else None,
            tags=["vip", f"group-{index % 3}"],
        )
        await bucket_of(world, f"bucket-{index}", contact)


async def page_statements(
    gql: GraphQL, world: World, query: str, first: int, audience: str | None = None
) -> StatementLog:
    """The statements of one page of `first` contacts (fails unless it has that many)."""
    variables: dict[str, Any] = {"first": first}
    if audience is not None:
        variables["id"] = audience
    with count_statements() as log:
        data = await gql(query, variables, as_=world.member)
    connection = data["audience"]["contacts"] if audience is not None else data["contacts"]
    assert len(connection["edges"]) == first
    return log


async def test_a_page_of_contacts_costs_the_same_statements_whatever_its_length(
    world: World, gql: GraphQL
) -> None:
    await make_people(world, 100)
    await gql("{ viewer { name } }", as_=world.member)  # records the token's last use
    small = await page_statements(gql, world, RICH_PAGE, 10)
    large = await page_statements(gql, world, RICH_PAGE, 100)
    assert large.count == small.count
    # Authentication, the page (stage and assignee joined), workspaces, tags and buckets,
    # bucket sizes.
    assert large.count <= 5, large.statements


async def test_a_list_page_costs_three_statements_whatever_its_length(
    world: World, gql: GraphQL
) -> None:
    await make_people(world, 100)
    await gql("{ viewer { name } }", as_=world.member)  # records the token's last use
    small = await page_statements(gql, world, LIST_PAGE, 10)
    large = await page_statements(gql, world, LIST_PAGE, 100)
    assert large.count == small.count, large.statements
    # The token, the page with its stage and assignee joined, the tags and buckets.
    assert large.count == 3, large.statements


async def test_an_audience_page_costs_three_statements_whatever_its_length(
    world: World, gql: GraphQL
) -> None:
    await make_people(world, 100)
    audience = ids.encode("Audience", AudienceKind.ALL_PEOPLE.value)
    await gql("{ viewer { name } }", as_=world.member)
    small = await page_statements(gql, world, AUDIENCE_PAGE, 10, audience)
    large = await page_statements(gql, world, AUDIENCE_PAGE, 100, audience)
    assert large.count == small.count, large.statements
    assert large.count == 3, large.statements


NESTED_PAGES = """{ audiences { name contacts(first: 3, orderBy: {field: NAME, direction: ASC}) {
  edges { node { displayName tags { name } buckets { name } } } } } }"""


async def test_each_audiences_page_reads_its_tags_and_buckets_in_one_statement(
    world: World, gql: GraphQL
) -> None:
    ada = await world.contact("Ada", "A", tags=["vip", "golf"])
    await world.contact("Bob", "B", archived=True, tags=["old"])
    await world.contact("Cal", "C")
    await bucket_of(world, "Friends", ada)
    with count_statements() as log:
        data = await gql(NESTED_PAGES, as_=world.member)
    labels = {
        audience["name"]: [
            (e["node"]["displayName"], [t["name"] for t in e["node"]["tags"]],
             [b["name"] for b in e["node"]["buckets"]])
            for e in audience["contacts"]["edges"]
        ]
        for audience in data["audiences"]
    }  # fmt: skip
    ada_row = ("Ada A", ["golf", "vip"], ["Friends"])
    assert labels == {
        "My People": [ada_row, ("Cal C", [], [])],
        "Archived People": [("Bob B", ["old"], [])],
        "All People": [ada_row, ("Bob B", ["old"], []), ("Cal C", [], [])],
    }
    # Each page is its own statement (docs/performance.md), then its tags and buckets
    # together, with those of the other pages whose rows came back in the same batch.
    label_reads = [s for s in log.statements if '"contact_tag" AS link' in s]
    assert all('"contact_bucket" AS link' in s for s in label_reads), label_reads
    assert 1 <= len(label_reads) <= len(labels), log.statements


async def test_a_contact_read_alone_answers_as_in_a_list_in_bounded_statements(
    world: World, gql: GraphQL
) -> None:
    await make_people(world, 12)
    listed = await gql(LIST_PAGE, {"first": 12}, as_=world.member)
    for edge in listed["contacts"]["edges"]:
        node = edge["node"]
        pk = ids.decode(node["id"], "Contact")
        assert pk is not None
        contact = await Contact.get(id=pk)
        with count_statements() as log:
            data = await gql(ONE_CONTACT, {"id": gid(contact)}, as_=world.member)
        assert data["contact"] == node
        assert data["node"] == node
        # The token, each root field's contact, then its stage, user, tags and buckets.
        assert log.count <= 7, log.statements


async def test_pages_walk_forward_and_back_without_gaps_or_repeats(
    world: World, gql: GraphQL
) -> None:
    for index in range(7):
        await world.contact(f"P{index}", "Same")
    seen: list[str] = []
    after = None
    while True:
        data = await gql(PAGE, {"first": 3, "after": after}, as_=world.member)
        seen += names(data)
        info = data["contacts"]["pageInfo"]
        assert data["contacts"]["totalCount"] == 7
        if not info["hasNextPage"]:
            break
        after = info["endCursor"]
    assert seen == [f"P{index} Same" for index in range(7)]

    back: list[str] = []
    before = None
    while True:
        data = await gql(PAGE, {"last": 3, "before": before}, as_=world.member)
        back = names(data) + back
        info = data["contacts"]["pageInfo"]
        if not info["hasPreviousPage"]:
            break
        before = info["startCursor"]
    assert back == seen


async def test_ties_are_broken_by_creation_so_orders_are_stable(world: World, gql: GraphQL) -> None:
    for _ in range(4):
        await world.contact("Twin", "Name")
    first = await gql(PAGE, {"first": 2}, as_=world.member)
    second = await gql(
        PAGE,
        {"first": 2, "after": first["contacts"]["pageInfo"]["endCursor"]},
        as_=world.member,
    )
    cursors = [e["cursor"] for e in first["contacts"]["edges"] + second["contacts"]["edges"]]
    assert len(set(cursors)) == 4


async def test_every_order_field_sorts_both_ways(world: World, gql: GraphQL) -> None:
    archived_first = await world.contact("Bea", "B", archived=True)
    await world.contact("Abe", "A")
    await world.contact("Cal", "C", archived=True)
    assert archived_first.archived_at is not None
    expectations = {
        ("NAME", "ASC"): ["Abe A", "Bea B", "Cal C"],
        ("NAME", "DESC"): ["Cal C", "Bea B", "Abe A"],
        ("CREATED_AT", "ASC"): ["Bea B", "Abe A", "Cal C"],
        ("CREATED_AT", "DESC"): ["Cal C", "Abe A", "Bea B"],
        ("UPDATED_AT", "ASC"): ["Bea B", "Abe A", "Cal C"],
        # Never-archived contacts come after archived ones, ascending.
        ("ARCHIVED_AT", "ASC"): ["Bea B", "Cal C", "Abe A"],
        ("ARCHIVED_AT", "DESC"): ["Abe A", "Cal C", "Bea B"],
    }
    for (field, direction), expected in expectations.items():
        order = {"field": field, "direction": direction}
        data = await gql(PAGE, {"order": order}, as_=world.member)
        assert names(data) == expected, (field, direction)
        # The same order, one row at a time through cursors.
        walked: list[str] = []
        after = None
        for _ in range(3):
            page = await gql(PAGE, {"order": order, "first": 1, "after": after}, as_=world.member)
            walked += names(page)
            after = page["contacts"]["pageInfo"]["endCursor"]
        assert walked == expected, (field, direction)


async def test_page_sizes_above_the_limit_are_refused(world: World, gql: GraphQL) -> None:
    code, message, _ = await gql.error(PAGE, {"first": 501}, as_=world.member)
    assert code == "BAD_USER_INPUT"
    assert "500" in message


async def test_a_cursor_from_another_order_is_refused(world: World, gql: GraphQL) -> None:
    await world.contact("Abe", "A")
    await world.contact("Bea", "B")
    data = await gql(PAGE, {"first": 1}, as_=world.member)
    cursor = data["contacts"]["pageInfo"]["endCursor"]
    order = {"field": "CREATED_AT", "direction": "ASC"}
    code, _, _ = await gql.error(
        PAGE, {"first": 1, "after": cursor, "order": order}, as_=world.member
    )
    assert code == "BAD_USER_INPUT"
    code, _, _ = await gql.error(PAGE, {"first": 1, "after": "garbage"}, as_=world.member)
    assert code == "BAD_USER_INPUT"


async def test_a_cursor_written_before_orjson_still_pages_the_same(
    world: World, gql: GraphQL
) -> None:
    for first, last in (("Ábel", "Ö"), ("Émile", "Zola"), ("Ödön", "Ü")):
        await world.contact(first, last)
    by_name = {"field": "NAME", "direction": "ASC"}
    whole = await gql(PAGE, {"first": 5, "order": by_name}, as_=world.member)
    cursor = whole["contacts"]["edges"][0]["cursor"]
    # Cursors were json.dumps output then, with every non-ASCII character escaped.
    payload = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    old = json.dumps(payload, separators=(",", ":"))
    assert "\\u00" in old
    old_cursor = base64.urlsafe_b64encode(old.encode()).decode().rstrip("=")
    assert old_cursor != cursor
    for after in (cursor, old_cursor):
        page = await gql(PAGE, {"first": 5, "after": after, "order": by_name}, as_=world.member)
        assert names(page) == names(whole)[1:]
    assert len(names(whole)) == 3


async def test_a_decomposed_accent_finds_the_composed_one(world: World, gql: GraphQL) -> None:
    await world.contact("Émile", "Zola")
    decomposed = "E\u0301mile"
    data = await gql(PAGE, {"filter": {"search": decomposed}}, as_=world.member)
    assert names(data) == ["Émile Zola"]


async def test_an_empty_category_list_matches_nothing(world: World, gql: GraphQL) -> None:
    await world.contact("Abe", "A", stage=StageCategory.LEAD)
    data = await gql(PAGE, {"filter": {"stageCategories": []}}, as_=world.member)
    assert names(data) == []


async def test_an_id_beyond_the_key_range_is_simply_not_found(world: World, gql: GraphQL) -> None:
    from server import ids

    huge = ids.encode("Contact", 2**31)
    data = await gql("query($id: ID!) { contact(id: $id) { id } }", {"id": huge}, as_=world.member)
    assert data["contact"] is None
    query = """mutation($ids: [ID!]) { archiveContacts(input: {selection: {ids: $ids}}) {
      results { __typename } } }"""
    data = await gql(query, {"ids": [huge]}, as_=world.member)
    assert data["archiveContacts"]["results"] == [{"__typename": "ContactNotFound"}]


FIRST_PAGE = """query($filter: ContactFilter) { contacts(first: 10, filter: $filter) {
  edges { cursor node { displayName stage { name } } } } }"""


def shown(data: dict[str, Any]) -> list[str]:
    return [edge["node"]["displayName"] for edge in data["contacts"]["edges"]]


def count_built_statements(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """From now on, with no first page kept, the statements `page` builds for a page."""
    monkeypatch.setattr(directory, "_first_pages", OrderedDict())
    built: list[object] = []
    original = reading.statement_of

    def counted(query: Any) -> Any:
        built.append(query)
        return original(query)

    monkeypatch.setattr(directory, "statement_of", counted)
    return built


async def test_a_first_page_asked_again_reuses_its_statement_and_shows_what_changed(
    world: World, gql: GraphQL, monkeypatch: pytest.MonkeyPatch
) -> None:
    ada = await world.contact("Ada", None, stage=StageCategory.LEAD)
    built = count_built_statements(monkeypatch)
    before = await gql(FIRST_PAGE, as_=world.member)
    await Contact.filter(id=ada.id).update(first_name="Adele")
    await world.contact("Bob", None)
    after = await gql(FIRST_PAGE, as_=world.member)
    first_cursor = after["contacts"]["edges"][0]["cursor"]
    second_page = await gql(PAGE, {"first": 1, "after": first_cursor}, as_=world.member)

    assert (shown(before), shown(after)) == (["Ada"], ["Adele", "Bob"])
    assert [edge["node"]["displayName"] for edge in second_page["contacts"]["edges"]] == ["Bob"]
    assert len(built) == 1  # the first page's statement, once


async def test_first_pages_of_other_workspaces_and_filters_are_their_own(
    world: World, other_world: World, gql: GraphQL, monkeypatch: pytest.MonkeyPatch
) -> None:
    await world.contact("Ada", None, stage=StageCategory.LEAD)
    await world.contact("Bob", None)
    await other_world.contact("Carol", None)
    built = count_built_statements(monkeypatch)
    monkeypatch.setattr(directory, "KEPT_FIRST_PAGES", 2)
    leads = {"filter": {"stageCategories": ["LEAD"]}}
    for _ in range(2):
        assert shown(await gql(FIRST_PAGE, as_=world.member)) == ["Ada", "Bob"]
        assert shown(await gql(FIRST_PAGE, as_=other_world.member)) == ["Carol"]
        assert shown(await gql(FIRST_PAGE, leads, as_=world.member)) == ["Ada"]
    # Three distinct first pages, two kept: each was built again when asked for again.
    assert len(built) == 6
    assert len(directory._first_pages) == 2
