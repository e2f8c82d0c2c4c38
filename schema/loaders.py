"""One DataLoader per relation, scoped to one request and one workspace."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, NamedTuple

from strawberry.dataloader import DataLoader
from tortoise.functions import Count

from server import db
from server.directory import Criteria, count_each
from server.models import (
    ContactBucket,
    Interaction,
    Stage,
    User,
    Workspace,
)

# Contacts per windowed statement: well under both databases' parameter limits.
_INTERACTION_BATCH = 1_000
# What a page shows; the body (up to 100,000 characters) stays in the database.
_INTERACTION_COLUMNS = (
    "id",
    "workspace_id",
    "contact_id",
    "kind",
    "direction",
    "occurred_at",
    "subject",
    "channel",
    "delivery_status",
    "created_at",
)


class Label(NamedTuple):
    """A tag or bucket as a contact's lists show it."""

    id: int
    name: str
    sort_key: str


class PageLabels(NamedTuple):
    """A page's contacts, and whether it shows their tags, their buckets or both."""

    contact_ids: tuple[int, ...]
    tags: bool
    buckets: bool


# Each contact's labels, in the order of PageLabels.contact_ids; None when not asked for.
LabelsOfPage = tuple[list[list[Label]] | None, list[list[Label]] | None]


class _LabelTable(NamedTuple):
    link_table: str
    table: str
    sort_column: str


_TAGS = _LabelTable("contact_tag", "tag", "name_key")
_BUCKETS = _LabelTable("contact_bucket", "bucket", "name")


def _tag_order(label: Label) -> str:
    # Sorted here, not by the database: the same order on both (collations differ).
    return label.sort_key


def _bucket_order(label: Label) -> tuple[str, int]:
    return label.name, label.id


def _in_order(
    grouped: Mapping[int, list[Label]], contact_ids: Sequence[int], order: Callable[[Label], Any]
) -> list[list[Label]]:
    """Each contact's labels, sorted, in the order of `contact_ids`."""
    return [sorted(grouped.get(key, ()), key=order) for key in contact_ids]


class InteractionWindow(NamedTuple):
    """One contact's page of history: at most `limit` rows, newest first, after a position."""

    contact_id: int
    limit: int
    # (occurred_at, id) of the last row already seen; None for the first page.
    after: tuple[datetime, int] | None


def _windowed_sql(
    workspace_id: int, contact_ids: Sequence[int], limit: int, after: tuple[datetime, int] | None
) -> tuple[str, list[Any]]:
    """The first `limit` interactions of each contact, newest first, in one statement."""
    p = db.Parameters(db.connection(for_read=True))
    conditions = [
        f'"workspace_id" = {p(workspace_id)}',
        f'"contact_id" IN ({", ".join(p(pk) for pk in contact_ids)})',
    ]
    if after is not None:
        # The same representation as stored values (UTC), so that SQLite compares like for like.
        field = Interaction._meta.fields_map["occurred_at"]
        moment = field.to_db_value(after[0].astimezone(UTC), Interaction)
        earlier, same, lower_id = p(moment), p(moment), p(after[1])
        conditions.append(
            f'("occurred_at" < {earlier} OR ("occurred_at" = {same} AND "id" < {lower_id}))'
        )
    columns = ", ".join(f'"{column}"' for column in _INTERACTION_COLUMNS)
    # Only placeholders and fixed identifiers are interpolated; every value is a parameter.
    sql = (
        f"SELECT {columns} FROM (SELECT {columns}, ROW_NUMBER() OVER ("  # noqa: S608
        'PARTITION BY "contact_id" ORDER BY "occurred_at" DESC, "id" DESC) AS "nth" '
        f'FROM "interaction" WHERE {" AND ".join(conditions)}) AS "ranked" '
        f'WHERE "nth" <= {p(limit)} ORDER BY "contact_id", "nth"'
    )
    return sql, p.values


class Loaders:
    def __init__(self, workspace_id: int) -> None:
        self.workspace_id = workspace_id
        self.workspace = DataLoader[int, Workspace | None](load_fn=self._workspaces)
        self.stage = DataLoader[int, Stage | None](load_fn=self._stages)
        self.user = DataLoader[int, User | None](load_fn=self._users)
        self.tags_of = DataLoader[int, list[Label]](load_fn=self._tags_of)
        self.buckets_of = DataLoader[int, list[Label]](load_fn=self._buckets_of)
        self.page_labels = DataLoader[PageLabels, LabelsOfPage](load_fn=self._page_labels)
        self.bucket_size = DataLoader[int, int](load_fn=self._bucket_sizes)
        self.interactions = DataLoader[InteractionWindow, list[Interaction]](
            load_fn=self._interactions
        )
        self.interaction_count = DataLoader[int, int](load_fn=self._interaction_counts)
        # Keyed by a narrowing: criteria ANDed (an audience's, then a list's filter).
        self.contact_count = DataLoader[tuple[Criteria, ...], int](load_fn=self._contact_counts)

    async def _contact_counts(self, narrowings: Sequence[tuple[Criteria, ...]]) -> list[int]:
        return await count_each(self.workspace_id, narrowings)

    async def _workspaces(self, keys: Sequence[int]) -> list[Workspace | None]:
        rows = await Workspace.filter(id__in=list(keys), id=self.workspace_id)
        by_id = {row.id: row for row in rows}
        return [by_id.get(key) for key in keys]

    async def _stages(self, keys: Sequence[int]) -> list[Stage | None]:
        rows = await Stage.filter(workspace_id=self.workspace_id, id__in=list(keys))
        by_id = {row.id: row for row in rows}
        return [by_id.get(key) for key in keys]

    async def _users(self, keys: Sequence[int]) -> list[User | None]:
        rows = await User.filter(workspace_id=self.workspace_id, id__in=list(keys))
        by_id = {row.id: row for row in rows}
        return [by_id.get(key) for key in keys]

    async def _tags_of(self, contact_ids: Sequence[int]) -> list[list[Label]]:
        (tags,) = await self._labels_of([(_TAGS, contact_ids)])
        return _in_order(tags, contact_ids, _tag_order)

    async def _buckets_of(self, contact_ids: Sequence[int]) -> list[list[Label]]:
        (buckets,) = await self._labels_of([(_BUCKETS, contact_ids)])
        return _in_order(buckets, contact_ids, _bucket_order)

    async def _page_labels(self, pages: Sequence[PageLabels]) -> list[LabelsOfPage]:
        """The tags and buckets of every page in the batch, in one statement.

        A page loads them as one key: per-contact keys cost a future each, and two
        statements a round trip more than one."""
        tag_ids = {key for page in pages if page.tags for key in page.contact_ids}
        bucket_ids = {key for page in pages if page.buckets for key in page.contact_ids}
        tags, buckets = await self._labels_of([(_TAGS, tag_ids), (_BUCKETS, bucket_ids)])
        return [
            (
                _in_order(tags, page.contact_ids, _tag_order) if page.tags else None,
                _in_order(buckets, page.contact_ids, _bucket_order) if page.buckets else None,
            )
            for page in pages
        ]

    async def _labels_of(
        self, wanted: Sequence[tuple[_LabelTable, Collection[int]]]
    ) -> list[defaultdict[int, list[Label]]]:
        """For each (table, contacts), each contact's labels from that table; one statement
        of plain rows for all (building a link and a label model per row was 10 % of a
        100-contact page)."""
        connection = db.connection(for_read=True)
        p = db.Parameters(connection)
        selects = []
        for part, (table, contact_ids) in enumerate(wanted):
            if not contact_ids:
                continue
            among = p.among('link."contact_id"', contact_ids, "::int[]")
            # Without statistics SQLite would start from every label of the workspace and
            # probe the links of each; the `+` makes it start from the page's contacts.
            plus = "" if p.numbered else "+"
            in_workspace = f'{plus}label."workspace_id" = {p(self.workspace_id)}'
            # Only fixed identifiers, numbers and placeholders are interpolated.
            selects.append(
                f'SELECT {part}, link."contact_id", label."id", label."name", '  # noqa: S608
                f'label."{table.sort_column}" FROM "{table.link_table}" AS link '
                f'JOIN "{table.table}" AS label ON label."id" = link."{table.table}_id" '
                f"WHERE {among} AND {in_workspace}"
            )
        grouped: list[defaultdict[int, list[Label]]] = [defaultdict(list) for _ in wanted]
        if selects:
            _, rows = await connection.execute_query(" UNION ALL ".join(selects), p.values)
            for part, contact_id, label_id, name, sort_key in rows:
                grouped[part][contact_id].append(Label(label_id, name, sort_key))
        return grouped

    async def _bucket_sizes(self, bucket_ids: Sequence[int]) -> list[int]:
        rows = (
            await ContactBucket.filter(bucket_id__in=list(bucket_ids))
            .annotate(size=Count("id"))
            .group_by("bucket_id")
            .values_list("bucket_id", "size")
        )
        sizes = {int(bucket_id): int(size) for bucket_id, size in rows}
        return [sizes.get(key, 0) for key in bucket_ids]

    async def _interactions(self, keys: Sequence[InteractionWindow]) -> list[list[Interaction]]:
        """One windowed statement per distinct (limit, after), whatever the number of contacts."""
        groups: dict[tuple[int, tuple[datetime, int] | None], list[int]] = defaultdict(list)
        for key in keys:
            groups[key.limit, key.after].append(key.contact_id)
        found: dict[InteractionWindow, list[Interaction]] = defaultdict(list)
        connection = db.connection(for_read=True)
        for (limit, after), contact_ids in groups.items():
            distinct = sorted(set(contact_ids))
            for start in range(0, len(distinct), _INTERACTION_BATCH):
                sql, params = _windowed_sql(
                    self.workspace_id, distinct[start : start + _INTERACTION_BATCH], limit, after
                )
                for row in await connection.execute_query_dict(sql, params):
                    interaction = Interaction._init_from_db(**row)
                    found[InteractionWindow(interaction.contact_id, limit, after)].append(
                        interaction
                    )
        return [found.get(key, []) for key in keys]

    async def _interaction_counts(self, contact_ids: Sequence[int]) -> list[int]:
        rows = (
            await Interaction.filter(
                workspace_id=self.workspace_id, contact_id__in=list(contact_ids)
            )
            .annotate(size=Count("id"))
            .group_by("contact_id")
            .values_list("contact_id", "size")
        )
        sizes = {int(contact_id): int(size) for contact_id, size in rows}
        return [sizes.get(key, 0) for key in contact_ids]
