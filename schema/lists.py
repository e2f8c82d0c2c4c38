"""Lists of objects completed by a plan made once per selection.

A bulk action answers with a result per contact (`__typename`, then `contact { id }` or
`contactId code message`), and a page with 100 contacts of 17 fields each. For every item
graphql-core resolves a union's member, checks the object's type, collects its subfields,
then builds a path and a resolve info for each field and completes each value: ~25 µs a
bulk result, more than the database's part of an archive on SQLite, and most of a page.

`ListsCompletedDirectly` plans a list's selection once per request and runtime type, and
builds each item from the plan: an object's fields in one function written out for its
shape (schema/compiled.py). A plan covers fields that read an attribute (see
`execution.plain_field`) and resolvers that `call_resolvers_directly` calls as they are
(which the API keeps free of side effects). A resolver that takes an info gets one built
on the first attribute it reads, and a value's place in the response is kept as a tuple
until then. An object made only of leaves is completed once however many items show it
(a page's stage on each of its contacts). Anything else (arguments, `@defer` or
`@stream`, a value the plan cannot complete, an awaitable, an item whose type is not what
the first of its class resolved to) gives the whole list back to graphql-core, which
completes it again and reports what is wrong as it always has.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from graphql import (
    FieldNode,
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

from schema.compiled import Leaf, Step, compiled_object
from schema.execution import (
    CALLED_DIRECTLY,
    LISTED,
    DirectCall,
    Irregular,
    PlainFieldsExecutor,
    coerced,
    plain_field,
    read_attribute,
    reads_attribute,
)

# Distinct objects of leaves remembered per selection (see _once_per_object): more than a
# page shows, few enough that a 50,000-item bulk action does not keep one for each.
SHARED_OBJECTS = 1_000

# Where a value sits in the response: the list's path, or (where its parent sits, its key
# or index, the parent's type name). A tuple costs a tenth of the Path it stands for, which
# is built only when a resolver reads its info (see `_path`).
Where = Any
# A value's completion: (value, the list field's info, where it sits) -> the result.
Completion = Callable[[Any, GraphQLResolveInfo[Any], Where], Any]


def _path(where: Where) -> Path:
    if isinstance(where, Path):
        return where
    parent, key, type_name = where
    return _path(parent).add_key(key, type_name)


class _LazyInfo:
    """The Strawberry Info a resolver takes, built with its resolve info on the first
    attribute the resolver reads: most resolvers of a list's items answer from what the
    item holds, and the two cost more than the rest of their call."""

    __slots__ = ("_built", "_executor", "_field", "_nodes", "_parent_type", "_where")

    def __init__(
        self,
        executor: ListsCompletedDirectly,
        field: GraphQLField,
        nodes: list[FieldNode],
        parent_type: GraphQLObjectType,
        where: Where,
    ) -> None:
        self._executor = executor
        self._field = field
        self._nodes = nodes
        self._parent_type = parent_type
        self._where = where
        self._built: Any = None

    def __getattr__(self, name: str) -> Any:
        if self._built is None:
            direct: DirectCall = getattr(self._field.resolve, CALLED_DIRECTLY)
            raw = self._executor.build_resolve_info(
                self._field, self._nodes, self._parent_type, _path(self._where)
            )
            self._built = direct.info_class(_raw_info=raw, _field=direct.field)
        return getattr(self._built, name)


def _discard(awaitable: Any) -> None:
    """graphql-core calls the resolver again and awaits that; this one must not warn."""
    close = getattr(awaitable, "close", None)
    if close is not None:
        close()


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
        if isinstance(result, LISTED) and not (
            self.middleware_manager and self.middleware_manager.middlewares
        ):
            key = (id(return_type), *(id(details.node) for details in field_details_list))
            try:
                plan = self.list_plans[key]
            except KeyError:
                plan = self.list_plans[key] = self._list_plan(return_type, field_details_list)
            if plan is not None:
                try:
                    return plan(result, info, path)
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
        fields: list[Leaf | Step] = []
        for response_key, details in grouped.items():
            plain = plain_field(object_type, details[0].node.name.value)
            if plain is not None:
                fields.append(Leaf(response_key, plain))
                continue
            step = self._field_plan(object_type, response_key, details)
            if step is None:
                return None
            fields.append(Step(response_key, step))
        completed = compiled_object(object_type.is_type_of, fields)
        leaves_only = all(isinstance(field, Leaf) for field in fields)
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
                read(source), info, (where, response_key, type_name)
            )
        if not field.args and getattr(field.resolve, CALLED_DIRECTLY, None) is not None:
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
        direct: DirectCall = getattr(field.resolve, CALLED_DIRECTLY)
        call, takes_self = direct.function, direct.takes_self
        nodes = [d.node for d in details]
        type_name = parent_type.name
        is_awaitable = self.is_awaitable

        def answered(result: Any, info: GraphQLResolveInfo[Any], here: Where) -> Any:
            if is_awaitable(result):
                _discard(result)
                raise Irregular
            return value(result, info, here)

        if direct.info_name is None:

            def without_info(source: Any, info: GraphQLResolveInfo[Any], where: Where) -> Any:
                result = call(source) if takes_self else call()
                return answered(result, info, (where, response_key, type_name))

            return without_info
        info_name, info_first = direct.info_name, direct.info_first

        def with_info(source: Any, info: GraphQLResolveInfo[Any], where: Where) -> Any:
            here = (where, response_key, type_name)
            lazy = _LazyInfo(self, field, nodes, parent_type, here)
            args = (source,) if takes_self else ()
            result = call(*args, lazy) if info_first else call(*args, **{info_name: lazy})
            return answered(result, info, here)

        return with_info

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


def _leaf(type_: GraphQLScalarType | GraphQLEnumType) -> Completion:
    coerce = type_.coerce_output_value
    return lambda value, _info, _where: coerced(coerce, value)


def _items(item: Completion) -> Completion:
    def completed(values: Any, info: GraphQLResolveInfo[Any], where: Where) -> list[Any]:
        # graphql-core takes any iterable but a string or a mapping; those are its to report.
        if not isinstance(values, LISTED):
            raise Irregular
        return [item(value, info, (where, index, None)) for index, value in enumerate(values)]

    return completed


def _with_null(inner: Completion, nullable: bool) -> Completion:
    def completed(value: Any, info: GraphQLResolveInfo[Any], where: Where) -> Any:
        if value is None or value is Undefined:
            if nullable:
                return None
            raise Irregular
        return inner(value, info, where)

    return completed
