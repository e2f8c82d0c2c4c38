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
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.models import Model
from tortoise.queryset import QuerySet

from server.db import row_decoder

M = TypeVar("M", bound=Model)


class _Maker(Generic[M]):
    """Models of one class from rows of the given columns, as `Model._init_from_db` makes
    them, without a keyword dict per row or a call per column that needs no conversion
    (`db.row_decoder`): for a page of 100 contacts, Tortoise's way cost more than the
    statement."""

    def __init__(self, model: type[M], columns: Sequence[str]) -> None:
        meta = model._meta
        attribute_of = {
            key: attribute
            for kind in (meta.db_native_fields, meta.db_default_fields, meta.db_complex_fields)
            for key, attribute, _ in kind
        }
        self.model = model
        self.columns = tuple(columns)
        # A partial row (`.only()`) is Tortoise's to make.
        self.complete = sorted(columns) == sorted(attribute_of)
        if self.complete:
            self.attributes = tuple(attribute_of[column] for column in columns)
            self.decode = row_decoder(model, columns)
        self.generated_pk = meta.db_pk_column not in meta.generated_db_fields

    def __call__(self, values: Sequence[Any]) -> M:
        if not self.complete:
            return self.model._init_from_db(**dict(zip(self.columns, values, strict=True)))
        instance = self.model.__new__(self.model)
        state = instance.__dict__
        state["_partial"] = False
        state["_saved_in_db"] = True
        state["_custom_generated_pk"] = self.generated_pk
        state["_await_when_save"] = {}
        state.update(zip(self.attributes, self.decode(values), strict=True))
        return instance


class _Relation:
    """One joined relation: where its columns sit in a row, and its models made so far."""

    def __init__(self, name: str, model: type[Model], start: int, columns: list[str]) -> None:
        self.attribute = f"_{name}"  # where Tortoise keeps a fetched relation
        self.make = _Maker(model, columns)
        self.start = start
        self.end = start + len(columns)
        self.pk_index = start + columns.index(model._meta.db_pk_column)
        self.by_key: dict[Any, Model] = {}

    def model_in(self, values: Sequence[Any]) -> Model | None:
        key = values[self.pk_index]
        if key is None:
            return None  # no related row: a left join's nulls
        found = self.by_key.get(key)
        if found is None:
            found = self.by_key[key] = self.make(values[self.start : self.end])
        return found


@dataclass(frozen=True, slots=True)
class Statement(Generic[M]):
    """A queryset's SQL and what its rows hold: the model's columns, then each joined
    relation's (its name, model and number of columns), then the annotations."""

    sql: str
    parameters: tuple[Any, ...]
    model: type[M]
    own_columns: int
    relations: tuple[tuple[str, type[Model], int], ...]
    annotations: tuple[str, ...]


def statement_of(query: QuerySet[M]) -> Statement[M] | None:
    """The statement `models_of` sends for `query`, or None when Tortoise reads it itself
    (`.only()`, prefetching, nested or column-less relations, `.first()`, no relation)."""
    if (
        query._fields_for_select
        or query._prefetch_map
        or query._prefetch_queries
        or query._single
        or not query._select_related
    ):
        return None
    query._choose_db_if_not_chosen()
    query._make_query()
    base, *joined = query._select_related_idx
    paths: list[tuple[str | None, ...]] = [tuple(entry[4]) for entry in joined]
    if any(len(path) != 2 or entry[1] == 0 for entry, path in zip(joined, paths, strict=True)):
        return None
    sql, parameters = query.query.get_parameterized_sql()
    return Statement(
        sql,
        tuple(parameters),
        query.model,
        base[1],
        tuple(
            (str(path[1]), entry[0], entry[1]) for entry, path in zip(joined, paths, strict=True)
        ),
        tuple(query._annotations),
    )


async def models_of(query: QuerySet[M]) -> list[M]:
    """What `await query` returns, read with one model per related row's key."""
    statement = statement_of(query)
    if statement is None:
        return await query
    return await models_read(statement, query._db)


async def models_read(statement: Statement[M], client: BaseDBAsyncClient | None = None) -> list[M]:
    """The models of a statement `statement_of` made (and the caller may have kept), read
    through `client`, else the connection the model reads from now."""
    client = client or statement.model._choose_db()
    _, rows = await client.execute_query(statement.sql, list(statement.parameters))
    if not rows:
        return []
    keys = list(rows[0].keys())
    own = statement.own_columns
    relations: list[_Relation] = []
    start = own
    for name, model, count in statement.relations:
        columns = [key.split(".", 1)[1] for key in keys[start : start + count]]
        relations.append(_Relation(name, model, start, columns))
        start += count
    make = _Maker(statement.model, keys[:own])
    annotations = statement.annotations
    made: list[M] = []
    for row in rows:
        values = tuple(row)
        instance = make(values[:own])
        for annotation in annotations:
            object.__setattr__(instance, annotation, row[annotation])
        for relation in relations:
            object.__setattr__(instance, relation.attribute, relation.model_in(values))
        made.append(instance)
    return made
