"""A queryset's models read as Tortoise reads them, with each joined row made once per key.

A page of 100 contacts with `select_related("stage", "assignee")` made 100 Stage and up
to 100 User models, though a workspace has a handful of stages, and copied every row into
two dicts first: about a third of the page's read. `models_of` sends the queryset's own SQL
and builds the models the way Tortoise's executor does, with one model per related key. It
relies on Tortoise 1.x internals (the built query, `_select_related_idx`, `_init_from_db`,
the `_<relation>` attribute); tests/test_reading.py compares its models with Tortoise's
own. Anything it does not handle (`.only()`, prefetching, nested relations, `.first()`) is
awaited as usual.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from tortoise.models import Model
from tortoise.queryset import QuerySet

M = TypeVar("M", bound=Model)


class _Relation:
    """One joined relation: where its columns sit in a row, and its models made so far."""

    def __init__(self, name: str, model: type[Model], start: int, columns: list[str]) -> None:
        self.attribute = f"_{name}"  # where Tortoise keeps a fetched relation
        self.model = model
        self.start = start
        self.columns = columns
        self.pk_index = start + columns.index(model._meta.db_pk_column)
        self.by_key: dict[Any, Model] = {}

    def model_in(self, values: Sequence[Any]) -> Model | None:
        key = values[self.pk_index]
        if key is None:
            return None  # no related row: a left join's nulls
        found = self.by_key.get(key)
        if found is None:
            own = values[self.start : self.start + len(self.columns)]
            found = self.model._init_from_db(**dict(zip(self.columns, own, strict=True)))
            self.by_key[key] = found
        return found


async def models_of(query: QuerySet[M]) -> list[M]:
    """What `await query` returns, read with one model per related row's key."""
    if (
        query._fields_for_select
        or query._prefetch_map
        or query._prefetch_queries
        or query._single
        or not query._select_related
    ):
        return await query
    query._choose_db_if_not_chosen()
    query._make_query()
    base, *joined = query._select_related_idx
    paths: list[tuple[str | None, ...]] = [tuple(entry[4]) for entry in joined]
    if any(len(path) != 2 or entry[1] == 0 for entry, path in zip(joined, paths, strict=True)):
        return await query  # nested or column-less relations: Tortoise's own way
    sql, parameters = query.query.get_parameterized_sql()
    assert query._db is not None
    _, rows = await query._db.execute_query(sql, parameters)
    if not rows:
        return []
    keys = list(rows[0].keys())
    own = base[1]
    relations: list[_Relation] = []
    start = own
    for entry, path in zip(joined, paths, strict=True):
        model, count = entry[0], entry[1]
        columns = [key.split(".", 1)[1] for key in keys[start : start + count]]
        relations.append(_Relation(str(path[1]), model, start, columns))
        start += count
    own_keys = keys[:own]
    annotations = list(query._annotations)
    made: list[M] = []
    for row in rows:
        values = tuple(row)
        instance = query.model._init_from_db(**dict(zip(own_keys, values[:own], strict=True)))
        for annotation in annotations:
            object.__setattr__(instance, annotation, row[annotation])
        for relation in relations:
            object.__setattr__(instance, relation.attribute, relation.model_in(values))
        made.append(instance)
    return made
