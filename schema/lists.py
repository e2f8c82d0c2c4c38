"""Lists of objects whose selections are all plain, completed in one pass.

A bulk action answers with a result per contact: `__typename`, and `contact { id }` or
`contactId code message`. For each of 10,000 such items graphql-core resolves the union's
member, checks the object's type, collects its subfields, builds a path and a resolve info
for each field and completes each value, nested objects included: ~25 µs an item, more
than the database's part of an archive on SQLite. Every field of such a selection reads an
attribute (see `execution.plain_field`), so `ListsCompletedDirectly` plans the selection
once per runtime type and builds each item's result with that plan.

Anything the plan does not cover (a resolver, a list of objects inside an item, `@defer`
or `@stream`, a value a plain field cannot complete, an item whose type is not what the
first of its class resolved to) gives the whole list back to graphql-core, which completes
it again and reports what is wrong as it always has: the plan only reads attributes, so
nothing has happened twice.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from graphql import (
    GraphQLAbstractType,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLResolveInfo,
    GraphQLUnionType,
)
from graphql.execution.collect_fields import FieldDetailsList
from graphql.pyutils import Path
from strawberry.types.base import get_object_definition
from strawberry.types.cast import get_strawberry_type_cast

from schema.execution import (
    PlainFieldsExecutor,
    complete,
    plain_field,
    read_attribute,
    reads_attribute,
)

# An item's completion: (source, the list field's info) -> the item's result.
Completion = Callable[[Any, GraphQLResolveInfo[Any]], Any]


class Irregular(Exception):
    """graphql-core must complete the list (and report what is wrong with it)."""


def _unwrapped(type_: GraphQLOutputType) -> tuple[GraphQLOutputType, bool]:
    """The type without NonNull, and whether it was nullable."""
    if isinstance(type_, GraphQLNonNull):
        return type_.of_type, False
    return type_, True


class ListsCompletedDirectly(PlainFieldsExecutor):
    """`PlainFieldsExecutor`, with lists of objects of plain fields completed by a plan."""

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
                plan = self.list_plans[key] = self._item_plan(
                    return_type.of_type, field_details_list
                )
            if plan is not None:
                try:
                    return [plan(item, info) for item in result]
                except Exception:  # noqa: S110 - graphql-core completes it and reports it
                    pass
        return super().complete_list_value(
            return_type, field_details_list, info, path, result, position_context
        )

    def _item_plan(
        self, item_type: GraphQLOutputType, field_details_list: FieldDetailsList
    ) -> Completion | None:
        if any(details.node.directives for details in field_details_list):
            return None  # @stream, or a directive graphql-core knows what to do with
        type_, nullable = _unwrapped(item_type)
        if isinstance(type_, GraphQLObjectType):
            inner = self._object_plan(type_, field_details_list)
        elif isinstance(type_, GraphQLUnionType | GraphQLInterfaceType):
            inner = self._abstract_plan(type_, field_details_list)
        else:
            return None  # lists of leaves are execution.py's
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
        for response_key, details in grouped.items():
            name = details[0].node.name.value
            plain = plain_field(object_type, name)
            if plain is not None:
                steps.append((response_key, _leaf(plain)))
                continue
            nested = self._nested_plan(object_type, name, details)
            if nested is None:
                return None
            steps.append((response_key, nested))
        is_type_of = object_type.is_type_of

        def completed(source: Any, info: GraphQLResolveInfo[Any]) -> dict[str, Any]:
            if is_type_of is not None and is_type_of(source, info) is not True:
                raise Irregular
            return {key: step(source, info) for key, step in steps}

        return completed

    def _nested_plan(
        self, parent_type: GraphQLObjectType, name: str, field_details_list: FieldDetailsList
    ) -> Completion | None:
        """An object-valued field that reads an attribute, e.g. a result's `contact`."""
        field = parent_type.fields.get(name)
        if field is None or not reads_attribute(field):
            return None
        type_, nullable = _unwrapped(field.type)
        if isinstance(type_, GraphQLObjectType):
            inner = self._object_plan(type_, field_details_list)
        elif isinstance(type_, GraphQLUnionType | GraphQLInterfaceType):
            inner = self._abstract_plan(type_, field_details_list)
        else:
            return None
        if inner is None:
            return None
        read = read_attribute(field)
        valued = _with_null(inner, nullable)
        return lambda source, info: valued(read(source), info)

    def _abstract_plan(
        self, abstract_type: GraphQLAbstractType, field_details_list: FieldDetailsList
    ) -> Completion:
        resolve_type = abstract_type.resolve_type or self.type_resolver
        # Strawberry resolves a plain (uncast, non-generic) object by its class.
        by_class: dict[type, Completion] = {}

        def completed(source: Any, info: GraphQLResolveInfo[Any]) -> Any:
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
            return plan(source, info)

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
            close = getattr(runtime_type_name, "close", None)
            if close is not None:
                close()
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


def _leaf(field: Any) -> Completion:
    return lambda source, _info: complete(field, source)


def _with_null(inner: Completion, nullable: bool) -> Completion:
    def completed(source: Any, info: GraphQLResolveInfo[Any]) -> Any:
        if source is None:
            if nullable:
                return None
            raise Irregular
        return inner(source, info)

    return completed
