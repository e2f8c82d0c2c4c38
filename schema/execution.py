"""Fields completed without per-field machinery that has nothing to do for them.

Most fields of a page read an attribute and pass it through a scalar's output coercion:
`firstName`, `emails`, `createdAt`, a tag's `name`. graphql-core still builds a resolve info
for each, walks its wrapping types and checks twice whether the value is awaitable: about
a third of the ~30 ms a 100-contact page takes. `PlainFieldsExecutor` does the same work
directly for such fields and hands anything unusual (a null where the type forbids one, a
value the scalar refuses, a resolver middleware) back to graphql-core, which then reports
it as it always has. The rules it follows are graphql-core's `complete_value` for a leaf
and for a list of non-null leaves. `call_resolvers_directly` does the same for Strawberry's
wrapping of resolvers that take nothing but `self` and `info`.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from contextlib import suppress
from operator import attrgetter
from typing import Any, NamedTuple, TypeGuard, cast

import strawberry
from graphql import (
    GraphQLEnumType,
    GraphQLField,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLResolveInfo,
    GraphQLScalarType,
    GraphQLString,
    Undefined,
)
from graphql.execution.collect_fields import FieldDetailsList
from graphql.pyutils import Path
from strawberry import Info
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.field import StrawberryField

# What graphql-core completes as a list (it takes any iterable but a string or a mapping,
# and reports those); a tuple, since `list | tuple` makes a new union on each call.
LISTED = (list, tuple)

# On the resolvers `call_resolvers_directly` put in place of Strawberry's wrapping: the
# `DirectCall` each makes.
CALLED_DIRECTLY = "_called_directly"


class PlainField(NamedTuple):
    """A field without arguments or resolver whose type is a leaf or a list of non-null leaves."""

    read: Callable[[Any], Any]
    coerce: Callable[[Any], Any]
    nullable: bool
    listed: bool
    # The source's attribute that `read` returns, when it reads nothing else.
    attribute: str | None = None


class DirectCall(NamedTuple):
    """What a resolver `call_resolvers_directly` put in place calls, and how."""

    function: Callable[..., Any]
    takes_self: bool
    # The parameter that takes the Strawberry Info, if any; `info_first` when it can be
    # passed by position, first after `self`.
    info_name: str | None
    info_first: bool
    info_class: type[Info[Any, Any]]
    field: StrawberryField


class Irregular(Exception):
    """The value needs graphql-core's own completion (which reports what is wrong with it)."""


@functools.lru_cache(maxsize=4096)
def plain_field(parent_type: GraphQLObjectType, name: str) -> PlainField | None:
    """How to complete `parent_type.name` directly, or None when graphql-core must; kept
    per type and name, as the schema does not change (lists plan each request anew)."""
    if name == "__typename":
        # What graphql-core's meta field resolves to on an object type (a union's member
        # included): the type's name. A bulk action's results select it on every item.
        type_name = parent_type.name
        return PlainField(
            lambda _source: type_name, GraphQLString.coerce_output_value, False, False
        )
    field = parent_type.fields.get(name)
    if field is None or not reads_attribute(field):
        return None
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
    return PlainField(
        read_attribute(field), type_.coerce_output_value, nullable, listed, _attribute(field)
    )


def reads_attribute(field: GraphQLField) -> bool:
    """A field without arguments whose resolver reads an attribute of its source."""
    # Strawberry marks the resolver it gives such fields.
    return not field.args and bool(getattr(field.resolve, "_is_default", False))


def _attribute(field: GraphQLField) -> str | None:
    """The attribute Strawberry's default resolver reads for `field`, if that is its resolver."""
    definition = (field.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
    if isinstance(definition, StrawberryField) and definition.default_resolver is getattr:
        return definition.python_name
    return None


def read_attribute(field: GraphQLField) -> Callable[[Any], Any]:
    """What the resolver of a field that `reads_attribute` does, as a function of the source."""
    resolve = field.resolve
    assert resolve is not None
    attribute = _attribute(field)
    if attribute is not None:
        # What Strawberry's default resolver does, without its three Python calls.
        return attrgetter(attribute)
    return lambda source: resolve(source, None)


def coerced(coerce: Callable[[Any], Any], value: Any) -> Any:
    """A leaf's output coercion, as graphql-core's `complete_leaf_value` takes it."""
    result = coerce(value)
    if result is None or result is Undefined:
        raise Irregular
    return result


def complete(field: PlainField, source: Any) -> Any:
    """The field's completed value on `source`; raises when graphql-core must complete it."""
    value = field.read(source)
    if value is None:
        if field.nullable:
            return None
        raise Irregular
    if not field.listed:
        return coerced(field.coerce, value)
    # graphql-core takes any iterable but a string or a mapping; those are its to report.
    if not isinstance(value, LISTED):
        raise Irregular
    coerce = field.coerce
    return [coerced(coerce, item) for item in value]


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


def _direct_call(field: StrawberryField, info_class: type[Info[Any, Any]]) -> Callable[..., Any]:
    resolver = field.base_resolver
    assert resolver is not None
    # Strawberry's own call (StrawberryResolver.__call__): the method, bound at class creation.
    function = cast(Callable[..., Any], resolver.wrapped_func)
    takes_self = resolver.self_parameter is not None
    info_name = resolver.info_parameter.name if resolver.info_parameter is not None else None
    parameters = list(inspect.signature(function).parameters.values())
    first = parameters[1 if takes_self else 0] if len(parameters) > takes_self else None
    info_first = (
        first is not None
        and first.name == info_name
        and first.kind in (first.POSITIONAL_ONLY, first.POSITIONAL_OR_KEYWORD)
    )

    def resolve(source: Any, info: GraphQLResolveInfo[Any]) -> Any:
        args = (source,) if takes_self else ()
        if info_name is None:
            return function(*args)
        return function(*args, **{info_name: info_class(_raw_info=info, _field=field)})

    direct = DirectCall(function, takes_self, info_name, info_first, info_class, field)
    setattr(resolve, CALLED_DIRECTLY, direct)
    return resolve


def _called_directly(field: object) -> TypeGuard[StrawberryField]:
    """A sync resolver without arguments or field extensions (permissions are extensions),
    asking for nothing but `self` and `info`: Strawberry's wrapping adds nothing to it."""
    if not isinstance(field, StrawberryField) or field.base_resolver is None:
        return False
    resolver = field.base_resolver
    return not (
        field.is_async
        or field.extensions
        or resolver.arguments
        or resolver.root_parameter is not None
        or resolver.parent_parameter is not None
    )


def call_resolvers_directly(schema: strawberry.Schema) -> None:
    """Let graphql-core call the resolvers that qualify (`_called_directly`) as they are.

    Strawberry wraps every resolver to convert arguments, build an Info and run field
    extensions and exception handlers: ~8 µs a call, and a page of 100 contacts calls
    `displayName`, `stage`, `assignee`, `tags` and `buckets` on each. For a resolver with
    none of those to do, the wrapping is replaced by a call with the same arguments.
    """
    if schema.exception_handlers:
        return  # Strawberry's wrapping is what applies them
    backref = GraphQLCoreConverter.DEFINITION_BACKREF
    # graphql-core's schema is where execution finds each field's resolver.
    for type_ in schema._schema.type_map.values():
        if isinstance(type_, GraphQLObjectType) and not type_.name.startswith("__"):
            for field_def in type_.fields.values():
                field = (field_def.extensions or {}).get(backref)
                if _called_directly(field):
                    field_def.resolve = _direct_call(field, schema.config.info_class)
