"""ContactFilter: every field alone and combined, search, archivable against the policy, orders."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from conftest import GraphQL, World, bucket_of, gid

from server import ids
from server.lifecycle import facts_of, stage_categories
from server.models import Contact, Tag
from server.policy import StageCategory, is_archivable

FILTERED = """
query($filter: ContactFilter, $first: Int) {
  contacts(filter: $filter, first: $first) {
    totalCount
    edges { node { id displayName } }
  }
}
"""

ORDERED = """
query($order: ContactOrder, $first: Int, $after: String, $last: Int, $before: String) {
  contacts(orderBy: $order, first: $first, after: $after, last: $last, before: $before) {
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { node { id } }
  }
}
"""


async def matching(gql: GraphQL, world: World, contact_filter: dict[str, Any]) -> set[str]:
    """Display names of every contact the filter matches (checked against totalCount)."""
    data = await gql(FILTERED, {"filter": contact_filter, "first": 500}, as_=world.member)
    names = {edge["node"]["displayName"] for edge in data["contacts"]["edges"]}
    assert data["contacts"]["totalCount"] == len(data["contacts"]["edges"])
    return names


# ---------------------------------------------------------------- every field


@dataclass
class Population:
    world: World
    vip: str
    golf: str
    newsletter: str
    board: str

    def stage(self, category: StageCategory) -> str:
        return self.world.stage_id(category)


async def populate(world: World) -> Population:
    ada = await world.contact(
        "Ada",
        "Active",
        emails=["ada@example.com"],
        company="Analytical Engines",
        stage=StageCategory.LEAD,
        assignee=world.member,
        tags=["vip"],
    )
    await world.contact(
        "Bob", "Past", phones=["+14155550100"], stage=StageCategory.PAST, tags=["golf"]
    )
    await world.contact("Cal", "Nostage", company="Cal Corp")
    dee = await world.contact(
        "Dee", "Archived", stage=StageCategory.LOST, archived=True, tags=["vip"]
    )
    eve = await world.contact("Eve", "Assigned", assignee=world.admin)
    newsletter = await bucket_of(world, "Newsletter", ada, dee)
    board = await bucket_of(world, "Board", eve)
    tags = {tag.name: ids.encode("Tag", tag.id) for tag in await Tag.all()}
    return Population(world, tags["vip"], tags["golf"], newsletter, board)


ALL = {"Ada Active", "Bob Past", "Cal Nostage", "Dee Archived", "Eve Assigned"}

CASES: list[tuple[str, Callable[[Population], dict[str, Any]], set[str]]] = [
    ("no filter", lambda p: {}, ALL),
    ("status active", lambda p: {"status": "ACTIVE"}, ALL - {"Dee Archived"}),
    ("status archived", lambda p: {"status": "ARCHIVED"}, {"Dee Archived"}),
    ("search", lambda p: {"search": "ANALYT"}, {"Ada Active"}),
    (
        "stage ids",
        lambda p: {"stageIds": [p.stage(StageCategory.LEAD), p.stage(StageCategory.PAST)]},
        {"Ada Active", "Bob Past"},
    ),
    ("no stage ids", lambda p: {"stageIds": []}, set()),
    ("stage category", lambda p: {"stageCategories": ["LOST"]}, {"Dee Archived"}),
    (
        "stage categories",
        lambda p: {"stageCategories": ["LEAD", "PAST", "POTENTIAL"]},
        {"Ada Active", "Bob Past"},
    ),
    ("no stage", lambda p: {"noStage": True}, {"Cal Nostage", "Eve Assigned"}),
    ("some stage", lambda p: {"noStage": False}, {"Ada Active", "Bob Past", "Dee Archived"}),
    ("tag", lambda p: {"tagIds": [p.vip]}, {"Ada Active", "Dee Archived"}),
    ("tags", lambda p: {"tagIds": [p.vip, p.golf]}, {"Ada Active", "Bob Past", "Dee Archived"}),
    ("bucket", lambda p: {"bucketIds": [p.newsletter]}, {"Ada Active", "Dee Archived"}),
    (
        "buckets",
        lambda p: {"bucketIds": [p.newsletter, p.board]},
        {"Ada Active", "Dee Archived", "Eve Assigned"},
    ),
    ("assignee", lambda p: {"assigneeId": p.world.member.id}, {"Ada Active"}),
    ("unassigned", lambda p: {"unassigned": True}, {"Bob Past", "Cal Nostage", "Dee Archived"}),
    ("assigned", lambda p: {"unassigned": False}, {"Ada Active", "Eve Assigned"}),
    ("archivable", lambda p: {"archivable": True}, {"Bob Past", "Cal Nostage"}),
    ("not archivable", lambda p: {"archivable": False}, {"Ada Active", "Eve Assigned"}),
    (
        "active, tagged vip, searched",
        lambda p: {"status": "ACTIVE", "tagIds": [p.vip, p.golf], "search": "a"},
        {"Ada Active", "Bob Past"},
    ),
    (
        "unassigned without a stage",
        lambda p: {"unassigned": True, "noStage": True},
        {"Cal Nostage"},
    ),
    (
        "archivable in a bucket",
        lambda p: {"archivable": False, "bucketIds": [p.newsletter, p.board]},
        {"Ada Active", "Eve Assigned"},
    ),
    (
        "no stage yet a stage id",
        lambda p: {"noStage": True, "stageIds": [p.stage(StageCategory.LEAD)]},
        set(),
    ),
    (
        "archived in a past or lost stage, tagged",
        lambda p: {"status": "ARCHIVED", "stageCategories": ["PAST", "LOST"], "tagIds": [p.vip]},
        {"Dee Archived"},
    ),
]


@pytest.mark.parametrize(("case", "make_filter", "expected"), CASES, ids=[c[0] for c in CASES])
async def test_every_filter_field_works_alone_and_combined(
    gql: GraphQL,
    world: World,
    case: str,
    make_filter: Callable[[Population], dict[str, Any]],
    expected: set[str],
) -> None:
    population = await populate(world)

    assert await matching(gql, world, make_filter(population)) == expected


async def test_another_workspaces_ids_in_a_filter_match_nothing_of_either_workspace(
    gql: GraphQL, world: World, other_world: World
) -> None:
    await populate(world)
    theirs = await populate(other_world)

    for contact_filter in (
        {"tagIds": [theirs.vip]},
        {"bucketIds": [theirs.newsletter]},
        {"stageIds": [theirs.stage(StageCategory.LEAD)]},
        {"assigneeId": other_world.member.id},
    ):
        assert await matching(gql, world, contact_filter) == set(), contact_filter


@pytest.mark.parametrize(
    "contact_filter",
    [
        {"tagIds": ["nonsense"]},
        # A well-formed ID of another type is not a stage ID either.
        {"stageIds": [ids.encode("Contact", 1)]},
        {"bucketIds": [""]},
        {"assigneeId": "x"},
    ],
)
async def test_a_malformed_id_in_a_filter_is_bad_input(
    gql: GraphQL, world: World, contact_filter: dict[str, Any]
) -> None:
    code, _, _ = await gql.error(FILTERED, {"filter": contact_filter}, as_=world.member)

    assert code == "BAD_USER_INPUT"


# ---------------------------------------------------------------- archivable and the policy


async def test_the_archivable_filter_agrees_exactly_with_the_policy_on_a_mixed_population(
    gql: GraphQL, world: World
) -> None:
    stages: list[StageCategory | None] = [None, *StageCategory]
    for stage in stages:
        for assignee in (None, world.member):
            for archived in (False, True):
                label = stage.name if stage else "NONE"
                await world.contact(
                    f"{label}-{'assigned' if assignee else 'free'}",
                    "archived" if archived else "active",
                    stage=stage,
                    assignee=assignee,
                    archived=archived,
                )
    categories = await stage_categories(world.workspace.id)
    contacts = await Contact.filter(workspace=world.workspace)
    assert len(contacts) == 24
    facts = {gid(c): facts_of(c, categories) for c in contacts}
    archivable = {cid for cid, f in facts.items() if is_archivable(f)}
    blocked = {cid for cid, f in facts.items() if f.status == "active" and not is_archivable(f)}

    def found(data: dict[str, Any]) -> set[str]:
        return {edge["node"]["id"] for edge in data["contacts"]["edges"]}

    yes = await gql(FILTERED, {"filter": {"archivable": True}, "first": 500}, as_=world.member)
    no = await gql(FILTERED, {"filter": {"archivable": False}, "first": 500}, as_=world.member)

    # No stage or PAST/LOST, unassigned, active: 3 of the 24.
    assert len(archivable) == 3
    assert len(blocked) == 9
    assert found(yes) == archivable
    assert found(no) == blocked


# ---------------------------------------------------------------- search


async def test_search_is_case_insensitive_over_name_email_phone_and_company(
    gql: GraphQL, world: World, other_world: World
) -> None:
    await world.contact(
        "Ada",
        "Lovelace",
        emails=["ada.l@example.com"],
        phones=["+14155550100"],
        company="Analytical Engines",
    )
    await world.contact("Grace", "Hopper", emails=["grace@navy.example.org"])
    await other_world.contact("Ada", "Lovelace", company="Analytical Engines")

    for term in (
        "ada",
        "LOVELACE",
        "ada lovelace",
        "  Ada Love  ",
        "ADA.L@EXAMPLE",
        "analytical ENGINES",
        "+1415",
        "(415) 555-0100",
        "415 555 0100",
        "5550100",
    ):
        assert await matching(gql, world, {"search": term}) == {"Ada Lovelace"}, term
    assert await matching(gql, world, {"search": "EXAMPLE"}) == {"Ada Lovelace", "Grace Hopper"}
    assert await matching(gql, world, {"search": "babbage"}) == set()


async def test_search_folds_the_case_of_non_ascii_letters(gql: GraphQL, world: World) -> None:
    await world.contact("ÉMILE", "Zola", company="Librairie Ærøskøbing")
    await world.contact("Søren", "Ørsted")
    await world.contact("Emile", "Plain")

    assert await matching(gql, world, {"search": "émile"}) == {"ÉMILE Zola"}
    assert await matching(gql, world, {"search": "ærøSKØBING"}) == {"ÉMILE Zola"}
    assert await matching(gql, world, {"search": "ÆRØ"}) == {"ÉMILE Zola"}
    assert await matching(gql, world, {"search": "SØREN ØRSTED"}) == {"Søren Ørsted"}
    assert await matching(gql, world, {"search": "emile"}) == {"Emile Plain"}


async def test_search_treats_wildcards_literally_and_ignores_a_blank_term(
    gql: GraphQL, world: World
) -> None:
    await world.contact("Ada", "Lovelace", company="100% Engines")
    await world.contact("Bob", "Under", company="snake_case Ltd")

    assert await matching(gql, world, {"search": "100%"}) == {"Ada Lovelace"}
    assert await matching(gql, world, {"search": "%"}) == {"Ada Lovelace"}
    assert await matching(gql, world, {"search": "e_c"}) == {"Bob Under"}
    assert await matching(gql, world, {"search": "_"}) == {"Bob Under"}
    assert await matching(gql, world, {"search": "   "}) == {"Ada Lovelace", "Bob Under"}
    # PostgreSQL cannot even take NUL as a parameter; no stored text has one.
    assert await matching(gql, world, {"search": "ada\x00"}) == {"Ada Lovelace"}


# ---------------------------------------------------------------- orders, stable with ties

MOMENT = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
LATER = datetime(2024, 6, 1, tzinfo=UTC)


async def make_ties(world: World) -> dict[str, Contact]:
    """Pairs that tie on every order field, and one contact never archived."""
    made = {
        "a1": await world.contact("Same", "Name", archived=True),
        "a2": await world.contact("Same", "Name", archived=True),
        "b1": await world.contact("Zed", "Later", archived=True),
        "b2": await world.contact("Zed", "Later", archived=True),
        "never": await world.contact("Same", "Name"),
    }
    for key in ("a1", "a2"):
        await Contact.filter(id=made[key].id).update(
            created_at=MOMENT, updated_at=MOMENT, archived_at=MOMENT
        )
    for key in ("b1", "b2"):
        await Contact.filter(id=made[key].id).update(
            created_at=LATER, updated_at=LATER, archived_at=LATER
        )
    await Contact.filter(id=made["never"].id).update(created_at=MOMENT, updated_at=MOMENT)
    return made


EXPECTED_ASC = {
    # Equal names, then equal times, come in creation (ID) order.
    "NAME": ["a1", "a2", "never", "b1", "b2"],
    "CREATED_AT": ["a1", "a2", "never", "b1", "b2"],
    "UPDATED_AT": ["a1", "a2", "never", "b1", "b2"],
    # Never archived: after the archived ones, ascending.
    "ARCHIVED_AT": ["a1", "a2", "b1", "b2", "never"],
}


@pytest.mark.parametrize("direction", ["ASC", "DESC"])
@pytest.mark.parametrize("field", sorted(EXPECTED_ASC))
async def test_every_order_is_total_and_pages_through_ties_both_ways(
    gql: GraphQL, world: World, field: str, direction: str
) -> None:
    made = await make_ties(world)
    by_id = {gid(contact): key for key, contact in made.items()}
    expected = EXPECTED_ASC[field] if direction == "ASC" else EXPECTED_ASC[field][::-1]
    order = {"field": field, "direction": direction}

    whole = await gql(ORDERED, {"order": order, "first": 10}, as_=world.member)
    assert [by_id[e["node"]["id"]] for e in whole["contacts"]["edges"]] == expected

    forward: list[str] = []
    after = None
    for _ in range(len(expected)):
        data = await gql(ORDERED, {"order": order, "first": 2, "after": after}, as_=world.member)
        forward += [by_id[e["node"]["id"]] for e in data["contacts"]["edges"]]
        if not data["contacts"]["pageInfo"]["hasNextPage"]:
            break
        after = data["contacts"]["pageInfo"]["endCursor"]
    assert forward == expected

    backward: list[str] = []
    before = None
    for _ in range(len(expected)):
        data = await gql(ORDERED, {"order": order, "last": 2, "before": before}, as_=world.member)
        backward = [by_id[e["node"]["id"]] for e in data["contacts"]["edges"]] + backward
        if not data["contacts"]["pageInfo"]["hasPreviousPage"]:
            break
        before = data["contacts"]["pageInfo"]["startCursor"]
    assert backward == expected


# ---------------------------------------------------------------- archived before, updated since


async def aged(contact: Contact, *, archived_days: int | None = None, updated_days: int) -> None:
    """Moves a contact's archive and update times `*_days` into the past."""
    now = datetime.now(UTC)
    await Contact.filter(id=contact.id).update(
        archived_at=now - timedelta(days=archived_days) if archived_days is not None else None,
        updated_at=now - timedelta(days=updated_days),
    )


async def test_archived_before_matches_only_contacts_archived_before_that_moment(
    gql: GraphQL, world: World
) -> None:
    old = await world.contact("Old", "Archive", archived=True)
    await aged(old, archived_days=400, updated_days=400)
    recent = await world.contact("Recent", "Archive", archived=True)
    await aged(recent, archived_days=10, updated_days=10)
    await world.contact("Still", "Active")
    year_ago = (datetime.now(UTC) - timedelta(days=365)).isoformat()
    assert await matching(gql, world, {"archivedBefore": year_ago}) == {"Old Archive"}
    literal = await gql(
        f'{{ contacts(filter: {{archivedBefore: "{year_ago}"}}) {{ totalCount }} }}',
        as_=world.member,
    )
    assert literal == {"contacts": {"totalCount": 1}}


async def test_updated_since_matches_contacts_changed_at_or_after_that_moment_a_bare_time_in_utc(
    gql: GraphQL, world: World
) -> None:
    stale = await world.contact("Stale", "One")
    await aged(stale, updated_days=30)
    fresh = await world.contact("Fresh", "One", archived=True)
    await aged(fresh, archived_days=1, updated_days=1)
    week_ago = datetime.now(UTC) - timedelta(days=7)
    assert await matching(gql, world, {"updatedSince": week_ago.isoformat()}) == {"Fresh One"}
    bare = week_ago.replace(tzinfo=None).isoformat()
    assert await matching(gql, world, {"updatedSince": bare}) == {"Fresh One"}


async def test_a_script_deletes_only_what_was_archived_over_a_year_ago_and_nothing_else(
    gql: GraphQL, world: World
) -> None:
    old = await world.contact("Old", "Archive", archived=True)
    await aged(old, archived_days=400, updated_days=400)
    recent = await world.contact("Recent", "Archive", archived=True)
    await aged(recent, archived_days=10, updated_days=10)
    year_ago = (datetime.now(UTC) - timedelta(days=365)).isoformat()
    data = await gql(
        """mutation ($before: DateTime!) {
          deleteContacts(input: {selection: {filter: {archivedBefore: $before}}}) {
            succeeded failed results { __typename ... on ContactDeleted { contactId } }
          } }""",
        {"before": year_ago},
        as_=world.admin,
    )
    assert data["deleteContacts"] == {
        "succeeded": 1,
        "failed": 0,
        "results": [{"__typename": "ContactDeleted", "contactId": gid(old)}],
    }
    assert {c.id for c in await Contact.filter(workspace_id=world.workspace.id)} == {recent.id}


async def test_a_saved_audience_keeps_its_time_filters(gql: GraphQL, world: World) -> None:
    old = await world.contact("Old", "Archive", archived=True)
    await aged(old, archived_days=400, updated_days=400)
    await world.contact("New", "Archive", archived=True)
    year_ago = (datetime.now(UTC) - timedelta(days=365)).isoformat()
    saved = await gql(
        """mutation ($filter: ContactFilter!) {
          saveAudience(input: {name: "Long archived", filter: $filter}) { id contactCount } }""",
        {"filter": {"archivedBefore": year_ago}},
        as_=world.member,
    )
    audience = saved["saveAudience"]
    assert audience["contactCount"] == 1
    listed = await gql(
        "query ($id: ID!) { audience(id: $id) { contacts(first: 10) { edges { node { id } } } } }",
        {"id": audience["id"]},
        as_=world.member,
    )
    assert listed["audience"]["contacts"]["edges"] == [{"node": {"id": gid(old)}}]
