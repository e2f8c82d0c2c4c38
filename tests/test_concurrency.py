"""Two people clicking at once never break a rule (PostgreSQL, parallel connections).

Each round fires two mutations at the same contacts at the same time; afterwards the final
state obeys the rules and every per-item result agrees with it.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Sequence
from typing import Any

import pgcluster
import pytest
from conftest import GraphQL, World, gid

from server.models import Contact, ContactTag
from server.policy import ARCHIVE_BLOCKING_CATEGORIES, ContactStatus, StageCategory

pytestmark = pytest.mark.postgres_only

ROUNDS = 100
PER_ROUND = 5

RESULTS = """results { __typename ... on RuleViolation { contactId code } }"""
ARCHIVE = f"""mutation($ids: [ID!]) {{
  archiveContacts(input: {{selection: {{ids: $ids}}}}) {{ {RESULTS} }} }}"""
UNARCHIVE = f"""mutation($ids: [ID!]) {{
  unarchiveContacts(input: {{selection: {{ids: $ids}}}}) {{ {RESULTS} }} }}"""
DELETE = f"""mutation($ids: [ID!]) {{
  deleteContacts(input: {{selection: {{ids: $ids}}}}) {{ {RESULTS} }} }}"""
ASSIGN = f"""mutation($ids: [ID!], $who: ID) {{
  assignContacts(input: {{selection: {{ids: $ids}}, assigneeId: $who}}) {{ {RESULTS} }} }}"""
STAGE = f"""mutation($ids: [ID!], $stage: ID) {{
  setContactStage(input: {{selection: {{ids: $ids}}, stageId: $stage}}) {{ {RESULTS} }} }}"""
TAG = """mutation($ids: [ID!], $tags: [String!]!) {
  tagContacts(input: {selection: {ids: $ids}, tagNames: $tags}) { succeeded } }"""


def kinds(data: dict[str, Any], field: str) -> list[str]:
    return [result["__typename"] for result in data[field]["results"]]


JITTER = random.Random(20261123)  # noqa: S311 (scheduling jitter, not a secret)
HOLD_TIMEOUT_S = 20.0


async def _after(delay: float, call: Awaitable[dict[str, Any]]) -> dict[str, Any]:
    await asyncio.sleep(delay)
    return await call


async def _queued_on_locks(holder: Any) -> int:
    count: int = await holder.fetchval(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
        " AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
    )
    return count


async def _queue(holder: Any, call: Awaitable[dict[str, Any]], place: int) -> asyncio.Task[Any]:
    """Start `call` and return once it waits, as number `place`, on the held rows."""
    task = asyncio.ensure_future(call)
    deadline = asyncio.get_running_loop().time() + HOLD_TIMEOUT_S
    while await _queued_on_locks(holder) < place:
        if task.done():
            raise AssertionError(f"call {place} finished without waiting: {task.result()}")
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"call {place} never queued on the held rows")
        await asyncio.sleep(0.002)
    return task


async def _in_order(
    url: str, rows: Sequence[int], first: Awaitable[dict[str, Any]], second: Awaitable[Any]
) -> list[dict[str, Any]]:
    # PostgreSQL grants a row's lock to its waiters first come, first served.
    holder = await pgcluster.connect(url)
    try:
        async with holder.transaction():
            await holder.execute("SELECT id FROM contact WHERE id = ANY($1) FOR UPDATE", rows)
            tasks = [await _queue(holder, first, 1), await _queue(holder, second, 2)]
        return [await task for task in tasks]
    finally:
        await holder.close()


async def together(
    first: Awaitable[dict[str, Any]],
    second: Awaitable[dict[str, Any]],
    *,
    round_: int,
    url: str,
    rows: Sequence[int],
) -> list[dict[str, Any]]:
    """Both calls at once, in the round's one of four ways. Two are free races, each giving
    one call a head start of a few milliseconds (less than a request takes): they find the
    interleavings nobody thought of. In the other two a third connection holds `rows` locked
    until both calls wait on them, then lets go: both have read everything they read before
    locking, and the round decides which one gets the rows first, so both orders are raced
    however fast this machine is."""
    delay = JITTER.uniform(0.0, 0.004)
    match round_ % 4:
        case 0:
            return list(await asyncio.gather(first, _after(delay, second)))
        case 1:
            return list(await asyncio.gather(_after(delay, first), second))
        case 2:
            return await _in_order(url, rows, first, second)
        case _:
            return list(reversed(await _in_order(url, rows, second, first)))


async def test_archive_racing_assign_never_leaves_an_archived_contact_assigned(
    world: World, gql: GraphQL, database: str
) -> None:
    seen: set[str] = set()
    for round_ in range(ROUNDS):
        contacts = [await world.contact() for _ in range(PER_ROUND)]
        ids = [gid(c) for c in contacts]
        archived, assigned = await together(
            gql(ARCHIVE, {"ids": ids}, as_=world.member),
            gql(ASSIGN, {"ids": ids, "who": world.member.id}, as_=world.admin),
            round_=round_,
            url=database,
            rows=[c.id for c in contacts],
        )
        seen.update(kinds(archived, "archiveContacts"))
        for contact, archive, assign in zip(
            contacts,
            kinds(archived, "archiveContacts"),
            kinds(assigned, "assignContacts"),
            strict=True,
        ):
            final = await Contact.get(id=contact.id)
            if archive == "ContactArchived":
                assert assign == "ContactIsArchived"
                assert (final.status, final.assignee_id) == (ContactStatus.ARCHIVED, None)
            else:
                assert (archive, assign) == ("ArchiveBlockedByAssignee", "ContactUpdated")
                assert (final.status, final.assignee_id) == (
                    ContactStatus.ACTIVE,
                    world.member.user.id,
                )
    assert seen == {"ContactArchived", "ArchiveBlockedByAssignee"}, "both orders must be raced"
    assert not await Contact.filter(status=ContactStatus.ARCHIVED, assignee_id__isnull=False)


async def test_archive_racing_a_blocking_stage_never_leaves_an_archived_lead(
    world: World, gql: GraphQL, database: str
) -> None:
    lead = world.stage_id(StageCategory.LEAD)
    seen: set[str] = set()
    for round_ in range(ROUNDS):
        contacts = [await world.contact() for _ in range(PER_ROUND)]
        ids = [gid(c) for c in contacts]
        archived, staged = await together(
            gql(ARCHIVE, {"ids": ids}, as_=world.member),
            gql(STAGE, {"ids": ids, "stage": lead}, as_=world.admin),
            round_=round_,
            url=database,
            rows=[c.id for c in contacts],
        )
        seen.update(kinds(archived, "archiveContacts"))
        pairs = zip(
            kinds(archived, "archiveContacts"), kinds(staged, "setContactStage"), strict=True
        )
        for archive, stage in pairs:
            assert (archive, stage) in {
                ("ContactArchived", "ContactIsArchived"),
                ("ArchiveBlockedByStage", "ContactUpdated"),
            }
    assert seen == {"ContactArchived", "ArchiveBlockedByStage"}, "both orders must be raced"
    blocking = [world.stages[c].id for c in ARCHIVE_BLOCKING_CATEGORIES]
    assert not await Contact.filter(status=ContactStatus.ARCHIVED, stage_id__in=blocking)


async def test_delete_racing_unarchive_never_deletes_an_active_contact(
    world: World, gql: GraphQL, database: str
) -> None:
    seen: set[str] = set()
    for round_ in range(ROUNDS):
        contacts = [await world.contact(archived=True) for _ in range(PER_ROUND)]
        ids = [gid(c) for c in contacts]
        deleted, restored = await together(
            gql(DELETE, {"ids": ids}, as_=world.admin),
            gql(UNARCHIVE, {"ids": ids}, as_=world.member),
            round_=round_,
            url=database,
            rows=[c.id for c in contacts],
        )
        seen.update(kinds(deleted, "deleteContacts"))
        for contact, delete, unarchive in zip(
            contacts,
            kinds(deleted, "deleteContacts"),
            kinds(restored, "unarchiveContacts"),
            strict=True,
        ):
            final = await Contact.get_or_none(id=contact.id)
            if delete == "ContactDeleted":
                assert unarchive == "ContactNotFound"
                assert final is None
            else:
                assert (delete, unarchive) == ("ContactNotArchived", "ContactUnarchived")
                assert final is not None
                assert final.status is ContactStatus.ACTIVE
    assert seen == {"ContactDeleted", "ContactNotArchived"}, "both orders must be raced"


async def test_two_deletes_of_the_same_contacts_delete_each_once(
    world: World, gql: GraphQL, database: str
) -> None:
    for round_ in range(ROUNDS):
        contacts = [await world.contact(archived=True) for _ in range(PER_ROUND)]
        ids = [gid(c) for c in contacts]
        first, second = await together(
            gql(DELETE, {"ids": ids}, as_=world.admin),
            gql(DELETE, {"ids": list(reversed(ids))}, as_=world.admin),
            round_=round_,
            url=database,
            rows=[c.id for c in contacts],
        )
        outcomes = sorted(kinds(first, "deleteContacts") + kinds(second, "deleteContacts"))
        assert outcomes == ["ContactDeleted"] * PER_ROUND + ["ContactNotFound"] * PER_ROUND
        assert not await Contact.filter(id__in=[c.id for c in contacts]).exists()


async def test_concurrent_tagging_loses_no_tag(world: World, gql: GraphQL) -> None:
    contacts = [await world.contact() for _ in range(PER_ROUND)]
    ids = [gid(c) for c in contacts]
    await asyncio.gather(
        *(gql(TAG, {"ids": ids, "tags": [f"tag-{n}"]}, as_=world.member) for n in range(8))
    )
    for contact in contacts:
        assert await ContactTag.filter(contact_id=contact.id).count() == 8


SYNC = """mutation($input: SyncContactsInput!) { syncContacts(input: $input) {
  created updated unchanged keptArchived suppressed } }"""
DELETE_FOR_GOOD = f"""mutation($ids: [ID!]) {{
  deleteContacts(input: {{selection: {{ids: $ids}}, preventResync: true}}) {{ {RESULTS} }} }}"""


async def test_sync_racing_a_suppressing_delete_never_brings_the_contact_back(
    world: World, gql: GraphQL, database: str
) -> None:
    seen: set[str] = set()
    for round_ in range(ROUNDS):
        email = f"racer{round_}@example.com"

        def sync_input(first_name: str, email: str = email, n: int = round_) -> dict[str, Any]:
            row = {"externalId": f"x{n}", "firstName": first_name, "emails": [email]}
            return {"source": "PHONE", "sourceAccount": "Ada's phone", "contacts": [row]}

        await gql(SYNC, {"input": sync_input("First")}, as_=world.member)
        contact = next(c for c in await Contact.all() if email in c.emails)
        await Contact.filter(id=contact.id).update(status=ContactStatus.ARCHIVED)
        deleted, synced = await together(
            gql(DELETE_FOR_GOOD, {"ids": [gid(contact)]}, as_=world.admin),
            gql(SYNC, {"input": sync_input("Second")}, as_=world.member),
            round_=round_,
            url=database,
            rows=[contact.id],
        )
        assert kinds(deleted, "deleteContacts") == ["ContactDeleted"]
        report = synced["syncContacts"]
        assert report["created"] == 0, report
        if report["suppressed"] == 1:
            order = "delete first"
        else:
            assert (report["updated"], report["keptArchived"]) == (1, 1), report
            order = "sync first"
        if round_ % 4 >= 2:  # a held round, where the round decides the order
            assert order == ("delete first" if round_ % 4 == 2 else "sync first"), report
        seen.add(order)
        assert not [c for c in await Contact.all() if email in c.emails]
    assert seen == {"delete first", "sync first"}, "both orders must be raced"
