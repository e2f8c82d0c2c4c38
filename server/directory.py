"""Finding contacts: filter criteria, audiences, ordering, keyset pages and selections."""

from __future__ import annotations

import functools
import json
import operator
from collections import OrderedDict
from collections.abc import Hashable, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

import orjson
from tortoise.expressions import Q, RawSQL, Subquery
from tortoise.functions import Count
from tortoise.queryset import QuerySet

from server.contact_text import fold
from server.db import is_postgres, values_of
from server.errors import BadUserInput
from server.ids import from_unpadded_base64, unpadded_base64
from server.models import Contact, ContactBucket, ContactTag, SavedAudience, Stage
from server.policy import (
    ARCHIVE_BLOCKING_CATEGORIES,
    REQUIREMENTS,
    Action,
    ContactStatus,
    Requirement,
    StageCategory,
)
from server.reading import Statement, models_of, models_read, statement_of
from server.tallies import tally

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
MAX_SAVED_AUDIENCE_ID = 2**31 - 1  # an IntField
# Longer than any name, email, phone or company a search looks for; a longer one is work
# for nothing (SQLite refuses LIKE patterns over 50,000 bytes outright).
MAX_SEARCH = 200
# Above any cursor encode_cursor writes (a sort name of 400 characters, base64): a longer
# one is refused before it is decoded.
MAX_CURSOR = 4_096


@dataclass(frozen=True, slots=True)
class Criteria:
    """A ContactFilter in domain terms. All fields are ANDed; lists match any value."""

    status: ContactStatus | None = None
    search: str | None = None
    stage_ids: tuple[int, ...] | None = None
    stage_categories: tuple[StageCategory, ...] | None = None
    no_stage: bool | None = None
    tag_ids: tuple[int, ...] | None = None
    bucket_ids: tuple[int, ...] | None = None
    assignee_id: int | None = None
    unassigned: bool | None = None
    archivable: bool | None = None
    archived_before: datetime | None = None
    updated_since: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            key: value.isoformat() if isinstance(value, datetime) else value
            for key, value in asdict(self).items()
            if value is not None
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Criteria:
        def ints(key: str) -> tuple[int, ...] | None:
            value = data.get(key)
            return tuple(int(v) for v in value) if value is not None else None

        def moment(key: str) -> datetime | None:
            value = data.get(key)
            return datetime.fromisoformat(value) if value is not None else None

        status = data.get("status")
        categories = data.get("stage_categories")
        return cls(
            status=ContactStatus(status) if status else None,
            search=data.get("search"),
            stage_ids=ints("stage_ids"),
            stage_categories=(
                tuple(StageCategory(c) for c in categories) if categories is not None else None
            ),
            no_stage=data.get("no_stage"),
            tag_ids=ints("tag_ids"),
            bucket_ids=ints("bucket_ids"),
            assignee_id=data.get("assignee_id"),
            unassigned=data.get("unassigned"),
            archivable=data.get("archivable"),
            archived_before=moment("archived_before"),
            updated_since=moment("updated_since"),
        )


def check_criteria(criteria: Criteria) -> Criteria:
    """`criteria` as a client sent them, refused when no list should run them."""
    if criteria.search is not None and len(criteria.search) > MAX_SEARCH:
        raise BadUserInput(f"A search has at most {MAX_SEARCH} characters.")
    return criteria


class AudienceKind(StrEnum):
    MY_PEOPLE = "my_people"
    ARCHIVED_PEOPLE = "archived_people"
    ALL_PEOPLE = "all_people"
    SAVED = "saved"


BUILT_IN_AUDIENCES: tuple[tuple[AudienceKind, str], ...] = (
    (AudienceKind.MY_PEOPLE, "My People"),
    (AudienceKind.ARCHIVED_PEOPLE, "Archived People"),
    (AudienceKind.ALL_PEOPLE, "All People"),
)


@dataclass(frozen=True, slots=True)
class Audience:
    key: str  # the built-in kind's value, or the saved audience's primary key
    name: str
    kind: AudienceKind
    criteria: Criteria = field(default_factory=Criteria)


def built_in_audience(kind: AudienceKind) -> Audience:
    status = {
        AudienceKind.MY_PEOPLE: ContactStatus.ACTIVE,
        AudienceKind.ARCHIVED_PEOPLE: ContactStatus.ARCHIVED,
    }.get(kind)
    name = dict(BUILT_IN_AUDIENCES)[kind]
    return Audience(key=kind.value, name=name, kind=kind, criteria=Criteria(status=status))


def saved_audience(row: SavedAudience) -> Audience:
    return Audience(
        key=str(row.id),
        name=row.name,
        kind=AudienceKind.SAVED,
        criteria=Criteria.from_json(row.criteria),
    )


async def find_audience(workspace_id: int, key: str) -> Audience | None:
    try:
        return built_in_audience(AudienceKind(key))
    except ValueError:
        pass
    # ASCII digits within the column's range: anything else names no saved audience (and
    # must not reach PostgreSQL, which refuses integers beyond 32 bits).
    if not (key.isascii() and key.isdigit()) or int(key) > MAX_SAVED_AUDIENCE_ID:
        return None
    row = await SavedAudience.get_or_none(id=int(key), workspace_id=workspace_id)
    return saved_audience(row) if row else None


async def list_audiences(workspace_id: int) -> list[Audience]:
    saved = await SavedAudience.filter(workspace_id=workspace_id).order_by("id")
    return [built_in_audience(kind) for kind, _ in BUILT_IN_AUDIENCES] + [
        saved_audience(row) for row in saved
    ]


# ---------------------------------------------------------------- criteria as SQL


def _blocking_stage_ids(workspace_id: int) -> Subquery:
    return Subquery(
        Stage.filter(
            workspace_id=workspace_id, category__in=list(ARCHIVE_BLOCKING_CATEGORIES)
        ).values("id")
    )


def requirement_q(workspace_id: int, requirement: Requirement) -> Q:
    """The policy's requirement as a condition the database checks in the same statement."""
    if requirement.needs_email or requirement.needs_phone:
        raise ValueError("reachability is checked on loaded contacts, not in SQL")
    condition = Q(status=requirement.status)
    if requirement.stage_must_not_block:
        condition &= Q(stage_id__isnull=True) | ~Q(stage_id__in=_blocking_stage_ids(workspace_id))
    if requirement.must_be_unassigned:
        condition &= Q(assignee_id__isnull=True)
    return condition


def _search_q(term: str) -> Q:
    # No stored text holds NUL (PostgreSQL cannot store it), and as a parameter it would fail.
    lowered = fold(term.replace("\x00", "").strip())
    condition = Q(search_text__contains=lowered)
    digits = "".join(ch for ch in lowered if ch.isdigit())
    if len(digits) >= 3 and all(ch.isdigit() or ch in " +-()." for ch in lowered):
        condition |= Q(search_text__contains=digits)
    return condition


def criteria_q(workspace_id: int, criteria: Criteria) -> Q:
    condition = Q(workspace_id=workspace_id)
    if criteria.status is not None:
        condition &= Q(status=criteria.status)
    if criteria.search and criteria.search.strip():
        condition &= _search_q(criteria.search)
    if criteria.stage_ids is not None:
        condition &= Q(stage_id__in=list(criteria.stage_ids))
    if criteria.stage_categories is not None:
        stages = Stage.filter(
            workspace_id=workspace_id, category__in=list(criteria.stage_categories)
        ).values("id")
        condition &= Q(stage_id__in=Subquery(stages))
    if criteria.no_stage is not None:
        condition &= Q(stage_id__isnull=criteria.no_stage)
    if criteria.tag_ids is not None:
        tagged = ContactTag.filter(tag_id__in=list(criteria.tag_ids)).values("contact_id")
        condition &= Q(id__in=Subquery(tagged))
    if criteria.bucket_ids is not None:
        in_bucket = ContactBucket.filter(bucket_id__in=list(criteria.bucket_ids)).values(
            "contact_id"
        )
        condition &= Q(id__in=Subquery(in_bucket))
    if criteria.assignee_id is not None:
        condition &= Q(assignee_id=criteria.assignee_id)
    if criteria.unassigned is not None:
        condition &= Q(assignee_id__isnull=criteria.unassigned)
    if criteria.archived_before is not None:
        condition &= Q(archived_at__lt=criteria.archived_before)
    if criteria.updated_since is not None:
        condition &= Q(updated_at__gte=criteria.updated_since)
    if criteria.archivable is not None:
        archivable = requirement_q(workspace_id, REQUIREMENTS[Action.ARCHIVE])
        if criteria.archivable:
            condition &= archivable
        else:
            condition &= Q(status=ContactStatus.ACTIVE) & ~archivable
    return condition


def contacts_matching(workspace_id: int, *criteria: Criteria) -> QuerySet[Contact]:
    query = Contact.all()
    for each in criteria:
        query = query.filter(criteria_q(workspace_id, each))
    if not criteria:
        query = query.filter(workspace_id=workspace_id)
    return query


def _by_status_only(criteria: Criteria) -> bool:
    return replace(criteria, status=None) == Criteria()


def _reads_tally(narrowing: Sequence[Criteria]) -> bool:
    """Whether the tally can answer: the criteria name at most one status, nothing else."""
    return all(map(_by_status_only, narrowing)) and len({each.status for each in narrowing}) <= 1


def _tallied(counts: dict[ContactStatus, int], narrowing: Sequence[Criteria]) -> int:
    status = next((each.status for each in narrowing), None)
    return sum(counts.values()) if status is None else counts[status]


def _matching_q(workspace_id: int, narrowing: Sequence[Criteria]) -> Q:
    conditions = [criteria_q(workspace_id, each) for each in narrowing]
    return (
        functools.reduce(operator.and_, conditions) if conditions else Q(workspace_id=workspace_id)
    )


async def count_each(workspace_id: int, narrowings: Sequence[Sequence[Criteria]]) -> list[int]:
    """How many contacts match each narrowing (its criteria ANDed), in one or two statements.

    Status-only ones (the built-in audiences, unfiltered lists) read the tally on
    PostgreSQL. A single other one is counted with its criteria in the WHERE clause, where
    they can use indexes; several are counted together, each by a conditional COUNT over one
    pass of the workspace's contacts.
    """
    counts: dict[int, int] = {}
    tallied = [i for i, each in enumerate(narrowings) if _reads_tally(each)]
    if tallied and is_postgres():
        by_status = await tally(workspace_id)
        counts.update((i, _tallied(by_status, narrowings[i])) for i in tallied)
    counted = [i for i in range(len(narrowings)) if i not in counts]
    if len(counted) == 1:
        only = counted[0]
        counts[only] = await contacts_matching(workspace_id, *narrowings[only]).count()
    elif counted:
        sizes = {
            f"n{i}": Count("id", _filter=_matching_q(workspace_id, narrowings[i])) for i in counted
        }
        query = Contact.filter(workspace_id=workspace_id).annotate(**sizes).values(*sizes)
        row = (await query)[0]
        counts.update((i, int(row[f"n{i}"] or 0)) for i in counted)
    return [counts[i] for i in range(len(narrowings))]


# ---------------------------------------------------------------- ordering and pages


class OrderField(StrEnum):
    NAME = "name"
    CREATED_AT = "created_at"
    UPDATED_AT = "updated_at"
    ARCHIVED_AT = "archived_at"


@dataclass(frozen=True, slots=True)
class Order:
    field: OrderField = OrderField.NAME
    descending: bool = False


DEFAULT_ORDER = Order()

# The sort key of each order, ending in the primary key so that ties are stable. Contacts that
# were never archived sort after archived ones (ascending), on both databases alike.
_SORT_KEYS: dict[OrderField, tuple[str, ...]] = {
    OrderField.NAME: ("sort_name", "id"),
    OrderField.CREATED_AT: ("created_at", "id"),
    OrderField.UPDATED_AT: ("updated_at", "id"),
    OrderField.ARCHIVED_AT: ("never_archived", "archived_at", "id"),
}
_DATETIME_KEYS = frozenset({"created_at", "updated_at", "archived_at"})


def _with_sort_key(query: QuerySet[Contact], order: Order) -> QuerySet[Contact]:
    if order.field is OrderField.ARCHIVED_AT:
        # Literal SQL: a parameter here would be typed as text by PostgreSQL. Qualified, as
        # lists join the stage and the assignee.
        query = query.annotate(
            never_archived=RawSQL('CASE WHEN "contact"."archived_at" IS NULL THEN 1 ELSE 0 END')
        )
    return query


def ordered(query: QuerySet[Contact], order: Order, *, reverse: bool = False) -> QuerySet[Contact]:
    query = _with_sort_key(query, order)
    descending = order.descending != reverse
    sign = "-" if descending else ""
    return query.order_by(*(sign + key for key in _SORT_KEYS[order.field]))


def _key_values(contact: Contact, order: Order) -> list[Any]:
    values: list[Any] = []
    for key in _SORT_KEYS[order.field]:
        if key == "never_archived":
            values.append(1 if contact.archived_at is None else 0)
        else:
            value = getattr(contact, key)
            values.append(value.isoformat() if isinstance(value, datetime) else value)
    return values


def encode_cursor(contact: Contact, order: Order) -> str:
    # orjson: a page encodes 100 cursors. Older cursors, written by json.dumps, still decode.
    return unpadded_base64(orjson.dumps([order.field.value, *_key_values(contact, order)]))


def _decode_cursor(cursor: str, order: Order) -> list[Any]:
    try:
        if len(cursor) > MAX_CURSOR:
            raise ValueError
        payload = json.loads(from_unpadded_base64(cursor))
        keys = _SORT_KEYS[order.field]
        if not isinstance(payload, list) or payload[0] != order.field.value:
            raise ValueError
        values = payload[1:]
        if len(values) != len(keys) or not isinstance(values[-1], int):
            raise ValueError
        return [
            datetime.fromisoformat(v) if k in _DATETIME_KEYS and v is not None else v
            for k, v in zip(keys, values, strict=True)
        ]
    except (ValueError, TypeError, IndexError, UnicodeError):
        raise BadUserInput(
            "The cursor is not valid for this list and order; start again without it."
        ) from None


def _beyond(order: Order, values: list[Any], *, forward: bool) -> Q:
    """Rows strictly after (forward) or before the row whose sort key is `values`."""
    keys = _SORT_KEYS[order.field]
    # Forward through an ascending order means greater keys; each flip inverts that.
    op = "gt" if order.descending != forward else "lt"
    alternatives: list[Q] = []
    equal = Q()
    for key, value in zip(keys, values, strict=True):
        beyond: dict[str, Any] = {f"{key}__{op}": value}
        same: dict[str, Any] = {key: value} if value is not None else {f"{key}__isnull": True}
        if value is not None:
            alternatives.append(equal & Q(**beyond))
        equal &= Q(**same)
    result = alternatives[0]
    for alternative in alternatives[1:]:
        result |= alternative
    return result


# First pages' statements kept (see `_first_page`): every audience of a few hundred
# workspaces; an entry is a statement's text and its few values.
KEPT_FIRST_PAGES = 512
_first_pages: OrderedDict[Hashable, Statement[Contact]] = OrderedDict()


async def _first_page(query: QuerySet[Contact], key: Hashable) -> list[Contact]:
    """A first page read with the statement made for the same key before: most requests for
    a list are for its first page, and building its statement through the query builder
    cost as much as running it. Nothing in a statement depends on time or on the rows."""
    key = (key, Contact._choose_db().capabilities.dialect)
    statement = _first_pages.get(key)
    if statement is None:
        statement = statement_of(query)
        if statement is None:
            return await query  # what models_of does with a query statement_of declines
        _first_pages[key] = statement
        while len(_first_pages) > KEPT_FIRST_PAGES:
            _first_pages.popitem(last=False)
    else:
        _first_pages.move_to_end(key)
    return await models_read(statement)


@dataclass(frozen=True, slots=True)
class Page:
    contacts: list[Contact]
    cursors: list[str]
    has_next_page: bool
    has_previous_page: bool


def _page_size(value: int | None, name: str) -> int:
    if value is None:
        return DEFAULT_PAGE_SIZE
    if value < 0 or value > MAX_PAGE_SIZE:
        raise BadUserInput(f"'{name}' must be between 0 and {MAX_PAGE_SIZE}.")
    return value


async def page(
    query: QuerySet[Contact],
    order: Order,
    *,
    first: int | None = None,
    after: str | None = None,
    last: int | None = None,
    before: str | None = None,
    same_query_as: Hashable | None = None,
) -> Page:
    """One page of `query`, by keyset (cursors stay valid while rows are added or removed).

    `same_query_as`: a key the caller gives only to queries built alike from the same
    values; a first page's statement is then kept under it (see `_first_page`)."""
    if first is not None and last is not None:
        raise BadUserInput("Give 'first' or 'last', not both.")
    backward = last is not None or (before is not None and first is None)
    size = _page_size(last if backward else first, "last" if backward else "first")
    query = _with_sort_key(query, order)
    if after is not None:
        query = query.filter(_beyond(order, _decode_cursor(after, order), forward=True))
    if before is not None:
        query = query.filter(_beyond(order, _decode_cursor(before, order), forward=False))
    query = ordered(query, order, reverse=backward).limit(size + 1)
    if same_query_as is not None and after is None and before is None:
        rows = await _first_page(query, (same_query_as, order, size, backward))
    else:
        rows = await models_of(query)
    has_more = len(rows) > size
    rows = rows[:size]
    if backward:
        rows.reverse()
    return Page(
        contacts=rows,
        cursors=[encode_cursor(row, order) for row in rows],
        has_next_page=has_more if not backward else before is not None,
        has_previous_page=has_more if backward else after is not None,
    )


# ---------------------------------------------------------------- selections


@dataclass(frozen=True, slots=True)
class Target:
    """One distinct contact of a selection: the ID as the client sent it, and its key."""

    contact_id: str
    pk: int | None


async def select_audience(
    workspace_id: int,
    audience: Audience,
    criteria: Criteria | None,
    except_pks: Sequence[int],
    limit: int,
    encode_id: Any,
) -> list[Target]:
    """Every contact of an audience (narrowed, minus exceptions), in its default order."""
    narrowing = (audience.criteria,) if criteria is None else (audience.criteria, criteria)
    query = contacts_matching(workspace_id, *narrowing)
    if except_pks:
        query = query.exclude(id__in=list(except_pks))
    pks = await values_of(ordered(query, DEFAULT_ORDER).limit(limit + 1), "id")
    if len(pks) > limit:
        raise BadUserInput(
            f"The selection has more than {limit} contacts; narrow it with a filter "
            "or act in several steps."
        )
    return [Target(contact_id=encode_id(pk), pk=int(pk)) for pk in pks]


def distinct_targets(raw_ids: Sequence[str], decoded: Sequence[int | None]) -> list[Target]:
    """One target per distinct contact, in the order of first occurrence."""
    seen_pks: set[int] = set()
    seen_raw: set[str] = set()
    targets: list[Target] = []
    for raw, pk in zip(raw_ids, decoded, strict=True):
        if pk is None:
            if raw in seen_raw:
                continue
            seen_raw.add(raw)
        else:
            if pk in seen_pks:
                continue
            seen_pks.add(pk)
        targets.append(Target(contact_id=raw, pk=pk))
    return targets
