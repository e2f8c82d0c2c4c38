"""Plain fields completed without graphql-core's per-field machinery.

Most fields of a page read an attribute and pass it through a scalar's output coercion:
`firstName`, `emails`, `createdAt`, a tag's `name`. graphql-core still builds a resolve info
for each, walks its wrapping types and checks twice whether the value is awaitable: about
a third of the ~30 ms a 100-contact page takes. `PlainFieldsExecutor` does the same work
directly for such fields and hands anything unusual (a null where the type forbids one, a
value the scalar refuses, a resolver middleware) back to graphql-core, which then reports
it as it always has. The rules it follows are graphql-core's `complete_value` for a leaf
and for a list of non-null leaves.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import suppress
from typing import Any, NamedTuple

from graphql import (
    GraphQLEnumType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLString,
    Undefined,
)
from graphql.execution.collect_fields import FieldDetailsList
from graphql.pyutils import Path
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext


class PlainField(NamedTuple):
    """A field without arguments or resolver whose type is a leaf or a list of non-null leaves."""

    resolve: Callable[..., Any]
    coerce: Callable[[Any], Any]
    nullable: bool
    listed: bool


class _Irregular(Exception):
    """The value needs graphql-core's own completion (which reports what is wrong with it)."""


def plain_field(parent_type: GraphQLObjectType, name: str) -> PlainField | None:
    """How to complete `parent_type.name` directly, or None when graphql-core must."""
    if name == "__typename":
        # What graphql-core's meta field resolves to on an object type (a union's member
        # included): the type's name. A bulk action's results select it on every item.
        type_name = parent_type.name
        return PlainField(
            lambda _source, _info: type_name, GraphQLString.coerce_output_value, False, False
        )
    field = parent_type.fields.get(name)
    # Strawberry marks the resolver it gives fields that read an attribute.
    if field is None or field.args or not getattr(field.resolve, "_is_default", False):
        return None
    assert field.resolve is not None
    type_ = field.type
    nullable = not isinstance(type_, GraphQLNonNull)
    if isinstance(type_, GraphQLNonNull):
        type_ = type_.of_type
    listed = isinstance(type_, GraphQLList)
    if isinstance(type_, GraphQLList):
        if not isinstance(type_.of_type, GraphQLNonNull):
            return None
        type_ = type_.of_type.of_type
    if not isinstance(type_, GraphQLScalarType | GraphQLEnumType):
        return None
    return PlainField(field.resolve, type_.coerce_output_value, nullable, listed)


def _coerced(coerce: Callable[[Any], Any], value: Any) -> Any:
    coerced = coerce(value)
    if coerced is None or coerced is Undefined:
        raise _Irregular
    return coerced


def complete(field: PlainField, source: Any) -> Any:
    """The field's completed value on `source`; raises when graphql-core must complete it."""
    value = field.resolve(source, None)
    if value is None:
        if field.nullable:
            return None
        raise _Irregular
    if not field.listed:
        return _coerced(field.coerce, value)
    # graphql-core takes any iterable but a string or a mapping; those are its to report.
    if not isinstance(value, list | tuple):
        raise _Irregular
    coerce = field.coerce
    return [_coerced(coerce, item) for item in value]


class PlainFieldsExecutor(StrawberryGraphQLCoreExecutionContext):
    """Strawberry's execution context, with plain fields completed in place."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Per object type, by field name; built as the request meets them (a few µs each).
        self.plain_fields: dict[GraphQLObjectType, dict[str, PlainField | None]] = {}

    def execute_field(
        self,
        parent_type: GraphQLObjectType,
        source: Any,
        field_details_list: FieldDetailsList,
        path: Path,
        position_context: Any,
    ) -> Any:
        if not self.middleware_manager or not self.middleware_manager.middlewares:
            plans = self.plain_fields.get(parent_type)
            if plans is None:
                plans = self.plain_fields[parent_type] = {}
            name = field_details_list[0].node.name.value
            try:
                field = plans[name]
            except KeyError:
                field = plans[name] = plain_field(parent_type, name)
            if field is not None:
                # Otherwise graphql-core completes it again, and reports what is wrong.
                with suppress(Exception):
                    return complete(field, source)
        return super().execute_field(
            parent_type, source, field_details_list, path, position_context
        )
