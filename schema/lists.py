"""Lists of objects completed by a plan made once per selection.

A bulk action answers with a result per contact (`__typename`, then `contact { id }` or
`contactId code message`), and a page with 100 contacts of 17 fields each. For every item
graphql-core resolves a union's member, checks the object's type, collects its subfields,
then builds a path and a resolve info for each field and completes each value: ~25 µs a
bulk result, more than the database's part of an archive on SQLite, and most of a page.

`ListsCompletedDirectly` plans a list's selection once per request and runtime type, and
builds each item from the plan. A plan covers fields that read an attribute (see
`execution.plain_field`) and resolvers that `call_resolvers_directly` calls as they are
(which the API keeps free of side effects); a resolver gets a resolve info that is built
only if it reads one. An object made only of leaves is completed once however many items
show it (a page's stage on each of its contacts). Anything else (arguments, `@defer` or
`@stream`, a value the plan cannot complete, an awaitable, an item whose type is not what
the first of its class resolved to) gives the whole list back to graphql-core, which
completes it again and reports what is wrong as it always has.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from graphql import (
    GraphQLAbstractType,
    GraphQLEnumType,
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLResolveInfo,
    GraphQLScalarType,
    GraphQLUnionType,
    Undefined,
)
from graphql.execution.collect_fields import FieldDetailsList
from graphql.pyutils import Path
from strawberry.types.base import get_object_definition
from strawberry.types.cast import get_strawberry_type_cast

from schema.execution import (
    CALLED_DIRECTLY,
    Irregular,
    PlainField,
    PlainFieldsExecutor,
    coerced,
    complete,
    plain_field,
    read_attribute,
    reads_attribute,
)

# Distinct objects of leaves remembered per selection (see _once_per_object): more than a
# page shows, few enough that a 50,000-item bulk action does not keep one for each.
SHARED_OBJECTS = 1_000

# Where a value sits in the response, built only when a resolver's info needs it.
Where = Callable[[], Path]
# A value's completion: (value, the list field's info, where it sits) -> the result.
Completion = Callable[[Any, GraphQLResolveInfo[Any], Where], Any]


class _LazyResolveInfo:
    """A resolve info that graphql-core builds on the first attribute a resolver reads."""

    __slots__ = ("_build", "_built")

    def __init__(self, build: Callable[[], GraphQLResolveInfo[Any]]) -> None:
        self._build = build
        self._built: GraphQLResolveInfo[Any] | None = None

    def __getattr__(self, name: str) -> Any:
        if self._built is None:
            self._built = self._build()
        return getattr(self._built, name)


def _discard(awaitable: Any) -> None:
    """graphql-core calls the resolver again and awaits that; this one must not warn."""
    close = getattr(awaitable, "close", None)
    if close is not None:
        close()


def _at(where: Where, key: str | int, type_name: str | None = None) -> Where:
    return lambda: where().add_key(key, type_name)


class ListsCompletedDirectly(PlainFieldsExecutor):
    """`PlainFieldsExecutor`, with lists of objects completed by a plan where one applies."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Per request: keyed by the selection's nodes, which live as long as the document.
        self.list_plans: dict[tuple[int, ...], Completion | None] = {}

    def complete_list_value(
        self,
        return_type: GraphQLList[GraphQLOutputType],
        field_details_list: FieldDetailsList,
        info: GraphQLResolveInfo[Any],
        path: Path,
        result: Any,
        position_context: Any,
    ) -> Any:
        if isinstance(result, list | tuple) and not (
            self.middleware_manager and self.middleware_manager.middlewares
        ):
            key = (id(return_type), *(id(details.node) for details in field_details_list))
            try:
                plan = self.list_plans[key]
            except KeyError:
                plan = self.list_plans[key] = self._list_plan(return_type, field_details_list)
            if plan is not None:
                try:
                    return plan(result, info, lambda: path)
                except Exception:  # noqa: S110 - graphql-core completes it and reports it
                    pass
        return super().complete_list_value(
            return_type, field_details_list, info, path, result, position_context
        )

    def _list_plan(
        self, list_type: GraphQLList[GraphQLOutputType], field_details_list: FieldDetailsList
    ) -> Completion | None:
        if any(details.node.directives for details in field_details_list):
            return None  # @stream, or a directive graphql-core knows what to do with
        item_type, _ = _unwrapped(list_type.of_type)
        if not isinstance(item_type, GraphQLObjectType | GraphQLUnionType | GraphQLInterfaceType):
            return None  # lists of leaves are execution.py's
        return self._value_plan(list_type, field_details_list)

    def _value_plan(
        self, type_: GraphQLOutputType, field_details_list: FieldDetailsList
    ) -> Completion | None:
        """How to complete a value of `type_` (graphql-core's `complete_value`)."""
        inner_type, nullable = _unwrapped(type_)
        inner: Completion | None
        if isinstance(inner_type, GraphQLScalarType | GraphQLEnumType):
            inner = _leaf(inner_type)
        elif isinstance(inner_type, GraphQLList):
            item = self._value_plan(inner_type.of_type, field_details_list)
            inner = None if item is None else _items(item)
        elif isinstance(inner_type, GraphQLObjectType):
            inner = self._object_plan(inner_type, field_details_list)
        elif isinstance(inner_type, GraphQLUnionType | GraphQLInterfaceType):
            inner = self._abstract_plan(inner_type, field_details_list)
        else:
            inner = None
        if inner is None:
            return None
        return _with_null(inner, nullable)

    def _object_plan(
        self, object_type: GraphQLObjectType, field_details_list: FieldDetailsList
    ) -> Completion | None:
        grouped, new_defer_usages, _ = self.collect_subfields(object_type, field_details_list)
        if new_defer_usages:
            return None
        steps: list[tuple[str, Completion]] = []
        leaves_only = True
        for response_key, details in grouped.items():
            plain = plain_field(object_type, details[0].node.name.value)
            step = _plain(plain) if plain else self._field_plan(object_type, response_key, details)
            if step is None:
                return None
            leaves_only = leaves_only and plain is not None
            steps.append((response_key, step))
        is_type_of = object_type.is_type_of

        def completed(source: Any, info: GraphQLResolveInfo[Any], where: Where) -> Any:
            if is_type_of is not None and is_type_of(source, info) is not True:
                raise Irregular
            return {key: step(source, info, where) for key, step in steps}

        return _once_per_object(completed) if leaves_only else completed

    def _field_plan(
        self, parent_type: GraphQLObjectType, response_key: str, details: FieldDetailsList
    ) -> Completion | None:
        """One field of an object: (the object, info, the object's place) -> the field's value."""
        name = details[0].node.name.value
        field = parent_type.fields.get(name)
        if field is None or details[0].node.arguments:
            return None
        value = self._value_plan(field.type, details)
        if value is None:
            return None
        type_name = parent_type.name
        if reads_attribute(field):
            read = read_attribute(field)
            return lambda source, info, where: value(
                read(source), info, _at(where, response_key, type_name)
            )
        if not field.args and getattr(field.resolve, CALLED_DIRECTLY, False):
            return self._resolver_plan(field, parent_type, response_key, details, value)
        return None

    def _resolver_plan(
        self,
        field: GraphQLField,
        parent_type: GraphQLObjectType,
        response_key: str,
        details: FieldDetailsList,
        value: Completion,
    ) -> Completion:
        resolve = field.resolve
        assert resolve is not None
        nodes = [d.node for d in details]
        type_name = parent_type.name

        def completed(source: Any, info: GraphQLResolveInfo[Any], where: Where) -> Any:
            here = _at(where, response_key, type_name)
            result = resolve(
                source,
                _LazyResolveInfo(
                    lambda: self.build_resolve_info(field, nodes, parent_type, here())
                ),
            )
            if self.is_awaitable(result):
                _discard(result)
                raise Irregular
            return value(result, info, here)

        return completed

    def _abstract_plan(
        self, abstract_type: GraphQLAbstractType, field_details_list: FieldDetailsList
    ) -> Completion:
        resolve_type = abstract_type.resolve_type or self.type_resolver
        # Strawberry resolves a plain (uncast, non-generic) object by its class.
        by_class: dict[type, Completion] = {}

        def completed(source: Any, info: GraphQLResolveInfo[Any], where: Where) -> Any:
            try:
                plan = by_class[type(source)]
            except KeyError:
                plan = by_class[type(source)] = self._runtime_plan(
                    abstract_type,
                    field_details_list,
                    resolve_type(source, info, abstract_type),
                    info,
                    source,
                )
            if get_strawberry_type_cast(source) is not None:
                raise Irregular
            return plan(source, info, where)

        return completed

    def _runtime_plan(
        self,
        abstract_type: GraphQLAbstractType,
        field_details_list: FieldDetailsList,
        runtime_type_name: Any,
        info: GraphQLResolveInfo[Any],
        source: Any,
    ) -> Completion:
        if self.is_awaitable(runtime_type_name):
            # An asynchronous resolve_type (none here): graphql-core resolves it again.
            _discard(runtime_type_name)
            raise Irregular
        definition = get_object_definition(source)
        if definition is None or definition.is_graphql_generic or definition.concrete_of:
            raise Irregular
        runtime_type = self.ensure_valid_runtime_type(
            runtime_type_name, abstract_type, field_details_list, info, source
        )
        plan = self._object_plan(runtime_type, field_details_list)
        if plan is None:
            raise Irregular
        return plan


def _unwrapped(type_: GraphQLOutputType) -> tuple[GraphQLOutputType, bool]:
    """The type without NonNull, and whether it was nullable."""
    if isinstance(type_, GraphQLNonNull):
        return type_.of_type, False
    return type_, True


def _once_per_object(completed: Completion) -> Completion:
    """`completed` for an object of leaves, run once per object: a page shows the same stage,
    user or tag object on many contacts (schema/listing.py), and its fields are the same each
    time. Keyed by identity; each entry holds its object, so no other object can take its id
    while the entry lasts."""
    done: dict[int, tuple[Any, Any]] = {}

    def completed_once(source: Any, info: GraphQLResolveInfo[Any], where: Where) -> Any:
        seen = done.get(id(source))
        if seen is not None:
            return seen[1]
        result = completed(source, info, where)
        if len(done) >= SHARED_OBJECTS:
            done.clear()
        done[id(source)] = (source, result)
        return result

    return completed_once


def _plain(field: PlainField) -> Completion:
    if field.listed:
        return lambda source, _info, _where: complete(field, source)
    # `complete` and `coerced` for a single leaf, in one call: most of a page's values.
    read, coerce, nullable = field.read, field.coerce, field.nullable

    def completed(source: Any, _info: GraphQLResolveInfo[Any], _where: Where) -> Any:
        value = read(source)
        if value is None:
            if nullable:
                return None
            raise Irregular
        result = coerce(value)
        if result is None or result is Undefined:
            raise Irregular
        return result

    return completed


def _leaf(type_: GraphQLScalarType | GraphQLEnumType) -> Completion:
    coerce = type_.coerce_output_value
    return lambda value, _info, _where: coerced(coerce, value)


def _items(item: Completion) -> Completion:
    def completed(values: Any, info: GraphQLResolveInfo[Any], where: Where) -> list[Any]:
        # graphql-core takes any iterable but a string or a mapping; those are its to report.
        if not isinstance(values, list | tuple):
            raise Irregular
        return [item(value, info, _at(where, index)) for index, value in enumerate(values)]

    return completed


def _with_null(inner: Completion, nullable: bool) -> Completion:
    def completed(value: Any, info: GraphQLResolveInfo[Any], where: Where) -> Any:
        if value is None or value is Undefined:
            if nullable:
                return None
            raise Irregular
        return inner(value, info, where)

    return completed
