"""Contact lists: the connection type, audiences, and the one function that pages them."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Annotated, Protocol, TypeVar

import strawberry
from strawberry.dataloader import DataLoader
from strawberry.types.nodes import SelectedField, Selection

from schema.context import Info
from schema.inputs import ContactFilter, ContactOrder, criteria_from, order_from
from schema.loaders import Label, Loaders, PageLabels
from schema.types import (
    AFTER,
    BEFORE,
    FIRST,
    LAST,
    MY_PEOPLE_MEANS,
    ORDER_BY,
    UNLOADED,
    Bucket,
    Contact,
    ContactEdge,
    Node,
    PageInfo,
    Preloaded,
    Stage,
    Tag,
    User,
)
from server import ids
from server import models as m
from server.directory import Audience as AudienceValue
from server.directory import AudienceKind, Criteria, contacts_matching, page


@strawberry.type(description="A page of contacts (Relay), in the order asked for.")
class ContactConnection:
    edges: list[ContactEdge] = strawberry.field(description="The page's contacts, in order.")
    page_info: PageInfo = strawberry.field(description="How to read the next or previous page.")
    narrowing: strawberry.Private[tuple[Criteria, ...]]

    @strawberry.field(description="All contacts that match, across pages.")
    async def total_count(self, info: Info) -> int:
        # Through the loader, so that the counts of a list of audiences' lists are one batch.
        return await info.context.loaders.contact_count.load(self.narrowing)


Joined = TypeVar("Joined", m.Stage, m.User)

# Relations the page query joins, by the Contact fields that read them.
_JOINED_BY_FIELD = {"stage": ("stage",), "assignee": ("assignee",), "archiveBlockers": ("stage",)}


def _fields(selections: Iterable[Selection]) -> Iterable[SelectedField]:
    """The fields of a selection set, looking through fragments."""
    for selection in selections:
        if isinstance(selection, SelectedField):
            yield selection
        else:
            yield from _fields(selection.selections)


def _named(selections: Iterable[Selection], name: str) -> list[SelectedField]:
    return [field for field in _fields(selections) if field.name == name]


def node_fields(info: Info) -> frozenset[str]:
    """The Contact fields this connection's query selects on its nodes."""
    return frozenset(
        field.name
        for connection in info.selected_fields
        for edges in _named(connection.selections, "edges")
        for node in _named(edges.selections, "node")
        for field in _fields(node.selections)
    )


def _selects(info: Info, name: str) -> bool:
    """Whether this connection's query selects `name` on the connection itself."""
    return any(field.name == name for c in info.selected_fields for field in _fields(c.selections))


def _joined_relations(fields: frozenset[str]) -> list[str]:
    joined = {relation for name in fields for relation in _JOINED_BY_FIELD.get(name, ())}
    return sorted(joined)


class _Keyed(Protocol):
    @property
    def id(self) -> int: ...


Row = TypeVar("Row", bound=_Keyed)
Shown = TypeVar("Shown")


def _once_per_row(convert: Callable[[Row], Shown]) -> Callable[[Row], Shown]:
    """`convert`, called once per row ID: a page shows the same stages, users and labels on
    many contacts, and one object each is also completed once (schema/lists.py)."""
    made: dict[int, Shown] = {}

    def converted(row: Row) -> Shown:
        try:
            return made[row.id]
        except KeyError:
            made[row.id] = shown = convert(row)
            return shown

    return converted


def _joined(
    related: Joined | None,
    loader: DataLoader[int, Joined | None],
    workspace: int,
    show: Callable[[Joined], Shown],
) -> Shown | None:
    # The loaders answer only for the viewer's workspace; so do the joined rows.
    if related is None or related.workspace_id != workspace:
        return None
    loader.prime(related.id, related)
    return show(related)


async def _preload(
    loaders: Loaders, rows: Sequence[m.Contact], fields: frozenset[str], joined: Sequence[str]
) -> list[Preloaded]:
    """The page's relations in one statement each, handed to every contact of the page."""
    wanted = PageLabels(tuple(row.id for row in rows), "tags" in fields, "buckets" in fields)
    page_tags: Sequence[list[Label]] | None = None
    page_buckets: Sequence[list[Label]] | None = None
    if rows and (wanted.tags or wanted.buckets):
        page_tags, page_buckets = await loaders.page_labels.load(wanted)
    stage, user = _once_per_row(Stage.from_model), _once_per_row(User.from_model)
    tag, bucket = _once_per_row(Tag.from_model), _once_per_row(Bucket.from_model)
    workspace = loaders.workspace_id
    return [
        Preloaded(
            stage=(
                _joined(row.stage, loaders.stage, workspace, stage)
                if "stage" in joined
                else UNLOADED
            ),
            assignee=(
                _joined(row.assignee, loaders.user, workspace, user)
                if "assignee" in joined
                else UNLOADED
            ),
            tags=UNLOADED if page_tags is None else [tag(t) for t in page_tags[index]],
            buckets=(
                UNLOADED if page_buckets is None else [bucket(b) for b in page_buckets[index]]
            ),
        )
        for index, row in enumerate(rows)
    ]


async def contact_connection(
    info: Info,
    narrowing: tuple[Criteria, ...],
    filter: ContactFilter | None,
    order_by: ContactOrder | None,
    first: int | None,
    after: str | None,
    last: int | None,
    before: str | None,
) -> ContactConnection:
    criteria = criteria_from(filter)
    if criteria is not None:
        narrowing = (*narrowing, criteria)
    if _selects(info, "totalCount"):
        # Asked for before this list's page is read, so that the counts of every list in a
        # response (each audience's, say) go in one batch; total_count finds it cached.
        info.context.loaders.contact_count.load(narrowing)
    workspace = info.context.viewer.workspace_id
    query = contacts_matching(workspace, *narrowing)
    fields = node_fields(info)
    joined = _joined_relations(fields)
    result = await page(
        query.select_related(*joined) if joined else query,
        order_from(order_by),
        first=first,
        after=after,
        last=last,
        before=before,
        same_query_as=(workspace, narrowing, tuple(joined)),
    )
    preloaded = await _preload(info.context.loaders, result.contacts, fields, joined)
    edges = [
        ContactEdge(cursor=cursor, node=Contact.from_model(row, preloaded=relations))
        for row, cursor, relations in zip(result.contacts, result.cursors, preloaded, strict=True)
    ]
    return ContactConnection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=result.has_next_page,
            has_previous_page=result.has_previous_page,
            start_cursor=result.cursors[0] if result.cursors else None,
            end_cursor=result.cursors[-1] if result.cursors else None,
        ),
        narrowing=narrowing,
    )


@strawberry.type(
    description=(
        "A list of contacts to browse and to select all in (ContactSelection.audienceId): one "
        "of the built-in My People, Archived People and All People, or a saved filter. "
        + MY_PEOPLE_MEANS
    )
)
class Audience(Node):
    name: str = strawberry.field(
        description="My People, Archived People, All People, or the saved audience's name."
    )
    kind: AudienceKind = strawberry.field(
        description=(
            "Which built-in audience it is, or SAVED. MY_PEOPLE (My People) is every active "
            "contact of the workspace, not only those assigned to the viewer."
        )
    )
    value: strawberry.Private[AudienceValue]

    @strawberry.field(
        description=(
            "How many contacts the audience holds now; for My People, every active contact of "
            "the workspace."
        )
    )
    async def contact_count(self, info: Info) -> int:
        return await info.context.loaders.contact_count.load((self.value.criteria,))

    @strawberry.field(description="The audience's contacts, narrowed by filter.")
    async def contacts(
        self,
        info: Info,
        filter: Annotated[
            ContactFilter | None,
            strawberry.argument(description="Narrows the audience; ANDed with its own criteria."),
        ] = None,
        order_by: Annotated[ContactOrder | None, strawberry.argument(description=ORDER_BY)] = None,
        first: Annotated[int | None, strawberry.argument(description=FIRST)] = None,
        after: Annotated[str | None, strawberry.argument(description=AFTER)] = None,
        last: Annotated[int | None, strawberry.argument(description=LAST)] = None,
        before: Annotated[str | None, strawberry.argument(description=BEFORE)] = None,
    ) -> ContactConnection:
        return await contact_connection(
            info, (self.value.criteria,), filter, order_by, first, after, last, before
        )

    @classmethod
    def from_value(cls, value: AudienceValue) -> Audience:
        return cls(
            id=strawberry.ID(ids.encode("Audience", value.key)),
            name=value.name,
            kind=value.kind,
            value=value,
        )
