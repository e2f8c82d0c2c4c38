"""Selections ("select all" in an audience, and ids) and their limits, through GraphQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from conftest import GraphQL, World, count_statements, gid, refetch

from server import ids
from server.app import create_app
from server.models import Contact, SavedAudience
from server.policy import ContactStatus, StageCategory
from server.settings import Environment, Settings


def results(success: str) -> str:
    """The payload's counts and, per result, its type, code and contact ID."""
    return f"""
    succeeded
    failed
    dryRun
    results {{
      __typename
      ... on RuleViolation {{ contactId code }}
      ... on {success}
    }}
    """


ARCHIVE = f"""
mutation Archive($input: ArchiveContactsInput!) {{
  archiveContacts(input: $input) {{ {results("ContactArchived { contact { id } }")} }}
}}
"""

UNARCHIVE = f"""
mutation Unarchive($input: UnarchiveContactsInput!) {{
  unarchiveContacts(input: $input) {{ {results("ContactUnarchived { contact { id } }")} }}
}}
"""

DELETE = f"""
mutation Delete($input: DeleteContactsInput!) {{
  deleteContacts(input: $input) {{ {results("ContactDeleted { contactId }")} }}
}}
"""

AUDIENCES = "{ audiences { id kind } }"

CONTACTS = """
query Contacts($filter: ContactFilter) {
  contacts(filter: $filter, first: 500) { totalCount edges { node { id } } }
}
"""

State = tuple[object, ...]


async def state(contact: Contact) -> State | None:
    """What a refused or rejected action must not change; None once deleted."""
    row = await refetch(contact)
    if row is None:
        return None
    return (row.status, row.archived_at, row.updated_at, row.stage_id, row.assignee_id)


async def states(contacts: list[Contact]) -> list[State | None]:
    return [await state(c) for c in contacts]


async def audience_id(gql: GraphQL, world: World, kind: str) -> str:
    data = await gql(AUDIENCES, as_=world.viewer)
    [found] = [a["id"] for a in data["audiences"] if a["kind"] == kind]
    assert isinstance(found, str)
    return found


def kinds(payload: dict[str, Any]) -> list[tuple[str, str | None, str]]:
    """(__typename, code, the contact's ID) of each result."""
    return [
        (
            r["__typename"],
            r.get("code"),
            r["contactId"] if "contactId" in r else r["contact"]["id"],
        )
        for r in payload["results"]
    ]


async def archive(gql: GraphQL, world: World, selection: dict[str, Any]) -> dict[str, Any]:
    data = await gql(ARCHIVE, {"input": {"selection": selection}}, as_=world.member)
    payload: dict[str, Any] = data["archiveContacts"]
    return payload


# ---------------------------------------------------------------- built-in audiences


async def test_archiving_my_people_applies_to_every_active_contact_in_name_order(
    gql: GraphQL, world: World
) -> None:
    zoe = await world.contact("Zoe", "Zimmer")
    ada = await world.contact("Ada", "Adams")
    carl = await world.contact("Carl", "Clark", stage=StageCategory.LEAD)
    bob = await world.contact("Bob", "Brown", archived=True)
    mia = await world.contact("mia", "Moss", assignee=world.admin)
    bob_before = await state(bob)
    my_people = await audience_id(gql, world, "MY_PEOPLE")

    payload = await archive(gql, world, {"audienceId": my_people})

    assert kinds(payload) == [
        ("ContactArchived", None, gid(ada)),
        ("ArchiveBlockedByStage", "ARCHIVE_BLOCKED_BY_STAGE", gid(carl)),
        ("ArchiveBlockedByAssignee", "ARCHIVE_BLOCKED_BY_ASSIGNEE", gid(mia)),
        ("ContactArchived", None, gid(zoe)),
    ]
    assert (payload["succeeded"], payload["failed"], payload["dryRun"]) == (2, 2, False)
    assert await state(bob) == bob_before


async def test_unarchiving_archived_people_applies_to_every_archived_contact_in_name_order(
    gql: GraphQL, world: World
) -> None:
    yann = await world.contact("Yann", "Young", archived=True)
    active = await world.contact("Abel", "Active")
    bea = await world.contact("Bea", "Berg", archived=True)
    active_before = await state(active)
    archived_people = await audience_id(gql, world, "ARCHIVED_PEOPLE")

    data = await gql(
        UNARCHIVE, {"input": {"selection": {"audienceId": archived_people}}}, as_=world.member
    )

    payload = data["unarchiveContacts"]
    assert kinds(payload) == [
        ("ContactUnarchived", None, gid(bea)),
        ("ContactUnarchived", None, gid(yann)),
    ]
    for contact in (bea, yann):
        row = await refetch(contact)
        assert row is not None
        assert row.status == ContactStatus.ACTIVE
    assert await state(active) == active_before


async def test_deleting_all_people_deletes_the_archived_and_refuses_the_active_in_name_order(
    gql: GraphQL, world: World
) -> None:
    cleo = await world.contact("Cleo", "Cole", archived=True)
    abe = await world.contact("Abe", "Active")
    bo = await world.contact("Bo", "Burns", archived=True)
    abe_before = await state(abe)
    all_people = await audience_id(gql, world, "ALL_PEOPLE")

    data = await gql(DELETE, {"input": {"selection": {"audienceId": all_people}}}, as_=world.admin)

    payload = data["deleteContacts"]
    assert kinds(payload) == [
        ("ContactNotArchived", "CONTACT_NOT_ARCHIVED", gid(abe)),
        ("ContactDeleted", None, gid(bo)),
        ("ContactDeleted", None, gid(cleo)),
    ]
    assert (payload["succeeded"], payload["failed"]) == (2, 1)
    assert await refetch(bo) is None
    assert await refetch(cleo) is None
    assert await state(abe) == abe_before


async def test_an_audience_narrowed_by_a_filter_applies_only_to_the_matching_contacts(
    gql: GraphQL, world: World
) -> None:
    zed = await world.contact("Zed", "Zorn", company="Acme Corp")
    amy = await world.contact("Amy", "Ames", company="Acme Corp")
    outsider = await world.contact("Al", "Other", company="Initech")
    archived = await world.contact("Ann", "Arch", company="Acme Corp", archived=True)
    before = await states([outsider, archived])
    my_people = await audience_id(gql, world, "MY_PEOPLE")

    payload = await archive(gql, world, {"audienceId": my_people, "filter": {"search": "acme"}})

    assert kinds(payload) == [
        ("ContactArchived", None, gid(amy)),
        ("ContactArchived", None, gid(zed)),
    ]
    assert (payload["succeeded"], payload["failed"]) == (2, 0)
    assert await states([outsider, archived]) == before


async def test_except_ids_are_left_out_of_an_audience_selection(
    gql: GraphQL, world: World, other_world: World
) -> None:
    ann = await world.contact("Ann", "A")
    ben = await world.contact("Ben", "B")
    cat = await world.contact("Cat", "C")
    ben_before = await state(ben)
    foreign = await other_world.contact("Dan", "D")
    my_people = await audience_id(gql, world, "MY_PEOPLE")

    payload = await archive(
        gql,
        world,
        {"audienceId": my_people, "exceptIds": [gid(ben), "not-an-id", gid(foreign)]},
    )

    assert kinds(payload) == [
        ("ContactArchived", None, gid(ann)),
        ("ContactArchived", None, gid(cat)),
    ]
    assert await state(ben) == ben_before


async def test_a_filter_alone_selects_the_same_contacts_as_the_contacts_query_with_it(
    gql: GraphQL, world: World
) -> None:
    zia = await world.contact("Zia", "Acme", company="Acme Corp")
    abby = await world.contact("Abby", "Acme", company="Acme Corp", archived=True)
    kim = await world.contact("Kim", "Acme", company="Acme Corp", stage=StageCategory.POTENTIAL)
    outsider = await world.contact("Al", "Other", company="Initech")
    outsider_before = await state(outsider)
    listed = await gql(CONTACTS, {"filter": {"search": "acme"}}, as_=world.viewer)

    payload = await archive(gql, world, {"filter": {"search": "acme"}})

    assert [r for _, _, r in kinds(payload)] == [
        edge["node"]["id"] for edge in listed["contacts"]["edges"]
    ]
    assert kinds(payload) == [
        ("ContactIsArchived", "CONTACT_ARCHIVED", gid(abby)),
        ("ArchiveBlockedByStage", "ARCHIVE_BLOCKED_BY_STAGE", gid(kim)),
        ("ContactArchived", None, gid(zia)),
    ]
    assert await state(outsider) == outsider_before


@pytest.mark.parametrize(
    ("archivable", "expected"),
    [
        pytest.param(
            True,
            [("ContactArchived", None, "free"), ("ContactArchived", None, "past")],
            id="archivable",
        ),
        pytest.param(
            False,
            [
                ("ArchiveBlockedByAssignee", "ARCHIVE_BLOCKED_BY_ASSIGNEE", "assigned"),
                ("ArchiveBlockedByStage", "ARCHIVE_BLOCKED_BY_STAGE", "lead"),
            ],
            id="not-archivable",
        ),
    ],
)
async def test_the_archivable_filter_selects_exactly_the_contacts_that_archiving_accepts(
    gql: GraphQL,
    world: World,
    archivable: bool,
    expected: list[tuple[str, str | None, str]],
) -> None:
    contacts = {
        "free": await world.contact("Bea", "Free"),
        "past": await world.contact("Dan", "Past", stage=StageCategory.PAST),
        "lead": await world.contact("Cid", "Lead", stage=StageCategory.LEAD),
        "assigned": await world.contact("Abe", "Assigned", assignee=world.member),
        "archived": await world.contact("Eve", "Archived", archived=True),
    }
    my_people = await audience_id(gql, world, "MY_PEOPLE")

    payload = await archive(
        gql, world, {"audienceId": my_people, "filter": {"archivable": archivable}}
    )

    assert kinds(payload) == [(t, c, gid(contacts[key])) for t, c, key in expected]


async def test_a_saved_audience_selects_the_contacts_its_filter_matches(
    gql: GraphQL, world: World
) -> None:
    vip = await world.contact("Vera", "Vip", tags=["vip"])
    other = await world.contact("Otto", "Other", tags=["golf"])
    other_before = await state(other)
    saved = await gql(
        """
        mutation Save($input: SaveAudienceInput!) { saveAudience(input: $input) { id kind } }
        """,
        {"input": {"name": "VIPs", "filter": {"search": "vip"}}},
        as_=world.member,
    )
    assert saved["saveAudience"]["kind"] == "SAVED"

    payload = await archive(gql, world, {"audienceId": saved["saveAudience"]["id"]})

    assert kinds(payload) == [("ContactArchived", None, gid(vip))]
    assert await state(other) == other_before


# ---------------------------------------------------------------- input that is wrong as a whole


@pytest.mark.parametrize(
    "extra",
    [
        pytest.param("audienceId", id="ids-with-audience"),
        pytest.param("filter", id="ids-with-filter"),
    ],
)
async def test_ids_together_with_an_audience_or_a_filter_are_bad_input_and_change_nothing(
    gql: GraphQL, world: World, extra: str
) -> None:
    contact = await world.contact()
    before = await state(contact)
    my_people = await audience_id(gql, world, "MY_PEOPLE")
    selection: dict[str, Any] = {"ids": [gid(contact)]}
    selection[extra] = my_people if extra == "audienceId" else {"search": "ada"}

    code, message, _ = await gql.error(
        ARCHIVE, {"input": {"selection": selection}}, as_=world.member
    )

    assert code == "BAD_USER_INPUT"
    assert message
    assert await state(contact) == before


async def test_more_than_a_thousand_ids_are_bad_input_and_change_nothing(
    gql: GraphQL, world: World
) -> None:
    contact = await world.contact()
    before = await state(contact)
    sent = [gid(contact)] + [f"missing-{n}" for n in range(1_000)]

    code, _, _ = await gql.error(ARCHIVE, {"input": {"selection": {"ids": sent}}}, as_=world.member)

    assert code == "BAD_USER_INPUT"
    assert await state(contact) == before


async def test_a_thousand_ids_are_accepted(gql: GraphQL, world: World) -> None:
    contact = await world.contact()
    sent = [gid(contact)] + [f"missing-{n}" for n in range(999)]

    payload = await archive(gql, world, {"ids": sent})

    assert (payload["succeeded"], payload["failed"]) == (1, 999)
    assert kinds(payload)[0] == ("ContactArchived", None, gid(contact))


async def unknown_audience_ids(other_world: World) -> list[str]:
    foreign = await SavedAudience.create(
        workspace=other_world.workspace, name="Theirs", criteria={}
    )
    return [
        "not-an-id",
        ids.encode("Audience", "987654"),
        ids.encode("Audience", "everyone"),
        ids.encode("Audience", foreign.id),
        ids.encode("Contact", 1),
    ]


async def test_an_unknown_audience_is_bad_input_and_changes_nothing(
    gql: GraphQL, world: World, other_world: World
) -> None:
    contact = await world.contact()
    before = await state(contact)

    for unknown in await unknown_audience_ids(other_world):
        code, _, _ = await gql.error(
            ARCHIVE, {"input": {"selection": {"audienceId": unknown}}}, as_=world.member
        )
        assert code == "BAD_USER_INPUT", unknown

    assert await state(contact) == before


# ---------------------------------------------------------------- MAX_SELECTION


@pytest.fixture
async def gql_max_3(settings: Settings) -> AsyncIterator[GraphQL]:
    """A server whose MAX_SELECTION is 3."""
    small = Settings(
        database_url=settings.database_url, environment=Environment.TEST, max_selection=3
    )
    app = create_app(small, manage_database=False)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test"
    ) as http:
        yield GraphQL(http)


async def test_an_audience_selection_above_max_selection_is_bad_input_and_changes_nothing(
    gql_max_3: GraphQL, world: World
) -> None:
    contacts = [await world.contact(name, "Four") for name in ("Ann", "Ben", "Cat", "Dan")]
    before = await states(contacts)
    my_people = await audience_id(gql_max_3, world, "MY_PEOPLE")

    code, message, _ = await gql_max_3.error(
        ARCHIVE, {"input": {"selection": {"audienceId": my_people}}}, as_=world.member
    )

    assert code == "BAD_USER_INPUT"
    assert "3" in message
    assert await states(contacts) == before


async def test_a_filter_alone_above_max_selection_is_bad_input_and_deletes_nothing(
    gql_max_3: GraphQL, world: World
) -> None:
    contacts = [await world.contact(n, "Gone", archived=True) for n in ("Ann", "Ben", "Cat", "Dan")]
    before = await states(contacts)

    code, _, _ = await gql_max_3.error(
        DELETE,
        {"input": {"selection": {"filter": {"status": "ARCHIVED"}}}},
        as_=world.admin,
    )

    assert code == "BAD_USER_INPUT"
    assert await states(contacts) == before


async def test_an_audience_selection_of_exactly_max_selection_is_carried_out(
    gql_max_3: GraphQL, world: World
) -> None:
    ann, ben, cat, dan = [await world.contact(n, "Four") for n in ("Ann", "Ben", "Cat", "Dan")]
    my_people = await audience_id(gql_max_3, world, "MY_PEOPLE")

    data = await gql_max_3(
        ARCHIVE,
        {"input": {"selection": {"audienceId": my_people, "exceptIds": [gid(ben)]}}},
        as_=world.member,
    )

    assert kinds(data["archiveContacts"]) == [
        ("ContactArchived", None, gid(ann)),
        ("ContactArchived", None, gid(cat)),
        ("ContactArchived", None, gid(dan)),
    ]


# ---------------------------------------------------------------- cost


async def test_archiving_200_contacts_by_audience_takes_as_many_statements_as_10(
    gql: GraphQL, world: World
) -> None:
    my_people = await audience_id(gql, world, "MY_PEOPLE")
    await gql("{ viewer { id } }", as_=world.member)  # records the token's first use
    selection = {"input": {"selection": {"audienceId": my_people}}}
    query = ARCHIVE.replace("contact { id }", "contact { id status archivedAt }")
    counts = []
    for size in (10, 200):
        for n in range(size):
            await world.contact(f"Person {n:03}", f"of {size}")
        with count_statements() as log:
            data = await gql(query, selection, as_=world.member)
        assert data["archiveContacts"]["succeeded"] == size
        counts.append(log.count)

    assert counts[0] == counts[1], counts
