"""Plain fields completed in place answer exactly as graphql-core does, errors included."""

from __future__ import annotations

from enum import Enum
from operator import attrgetter
from typing import Any

import pytest
import strawberry
from graphql import GraphQLObjectType
from strawberry.extensions import SchemaExtension
from strawberry.permission import BasePermission

from schema import schema as api_schema
from schema.execution import PlainFieldsExecutor, call_resolvers_directly, plain_field


class Deny(BasePermission):
    message = "Not for you."

    def has_permission(self, source: Any, info: strawberry.Info, **kwargs: Any) -> bool:
        return False


@strawberry.enum
class Colour(Enum):
    RED = "red"


@strawberry.type
class Item:
    name: str
    nickname: str | None
    sizes: list[int]
    colour: Colour

    @strawberry.field
    def shout(self) -> str:
        return self.name.upper()

    @strawberry.field
    def where(self, info: strawberry.Info) -> str:
        return f"{info.field_name} of {info.path.prev.key if info.path.prev else '-'}"

    @strawberry.field(permission_classes=[Deny])  # type: ignore[untyped-decorator]
    def secret(self) -> str | None:
        return "leaked"

    @strawberry.field
    def repeat(self, times: int) -> str:
        return self.name * times


# Each item holds what a buggy resolver might hand over; the schema's types say otherwise.
ITEMS: dict[str, Any] = {
    "regular": Item(name="a", nickname=None, sizes=[1, 2], colour=Colour.RED),
    "null_in_non_null": Item(name=None, nickname="n", sizes=[], colour=Colour.RED),  # type: ignore[arg-type]
    "object_for_string": Item(name={"x": 1}, nickname=None, sizes=[], colour=Colour.RED),  # type: ignore[arg-type]
    "null_in_list": Item(name="a", nickname=None, sizes=[1, None], colour=Colour.RED),  # type: ignore[list-item]
    "string_for_list": Item(name="a", nickname=None, sizes="12", colour=Colour.RED),  # type: ignore[arg-type]
    "text_for_int": Item(name="a", nickname=None, sizes=["x"], colour=Colour.RED),  # type: ignore[list-item]
    "unknown_enum": Item(name="a", nickname=None, sizes=[], colour="purple"),  # type: ignore[arg-type]
}


@strawberry.type
class Other:
    note: str


@strawberry.type
class Query:
    @strawberry.field
    def items(self) -> list[Item | None]:
        return list(ITEMS.values())

    @strawberry.field
    def mixed(self) -> list[Item | Other]:
        return [ITEMS["regular"], Other(note="b")]


class Exclaim(SchemaExtension):
    """A resolver middleware: plain fields must go through it as well."""

    def resolve(self, _next: Any, root: Any, info: Any, *args: Any, **kwargs: Any) -> Any:
        result = _next(root, info, *args, **kwargs)
        return f"{result}!" if isinstance(result, str) else result


QUERY = """{
  items { __typename name nickname sizes colour shout }
  mixed { __typename ... on Item { name } ... on Other { note } }
}"""


def run(query: str = QUERY, *, direct: bool = False, **options: Any) -> dict[str, Any]:
    schema = strawberry.Schema(query=Query, **options)
    if direct:
        call_resolvers_directly(schema)
    result = schema.execute_sync(query)
    return {
        "data": result.data,
        "errors": sorted(
            ((error.message, tuple(error.path or ())) for error in result.errors or []),
            key=repr,
        ),
    }


def test_every_value_and_error_is_the_one_graphql_core_gives() -> None:
    ours = run(execution_context_class=PlainFieldsExecutor)
    assert ours == run()
    # The irregular items were nulled with an error each; the regular one came through.
    assert ours["data"]["items"][0] == {
        "__typename": "Item",
        "name": "a",
        "nickname": None,
        "sizes": [1, 2],
        "colour": "RED",
        "shout": "A",
    }
    assert ours["data"]["items"][1:] == [None] * 6
    assert ours["data"]["mixed"] == [
        {"__typename": "Item", "name": "a"},
        {"__typename": "Other", "note": "b"},
    ]
    assert {path for _, path in ours["errors"]} == {
        ("items", 1, "name"),
        ("items", 2, "name"),
        ("items", 3, "sizes", 1),
        ("items", 4, "sizes"),
        ("items", 5, "sizes", 0),
        ("items", 6, "colour"),
    }


def test_a_resolver_middleware_still_sees_plain_fields() -> None:
    ours = run(execution_context_class=PlainFieldsExecutor, extensions=[Exclaim])
    assert ours == run(extensions=[Exclaim])
    assert ours["data"]["items"][0]["name"] == "a!"


def test_resolvers_called_directly_answer_as_strawberry_does_and_permissions_still_apply() -> None:
    query = "{ mixed { ... on Item { shout where secret repeat(times: 2) } } }"
    ours = run(query, direct=True, execution_context_class=PlainFieldsExecutor)
    assert ours == run(query)
    assert ours["data"]["mixed"][0] == {
        "shout": "A",
        "where": "where of 0",
        "secret": None,
        "repeat": "aa",
    }
    assert ours["errors"] == [("Not for you.", ("mixed", 0, "secret"))]


def test_the_api_calls_directly_the_resolvers_a_contact_page_calls_per_contact() -> None:
    called_directly = {
        (type_.name, name)
        for type_ in api_schema._schema.type_map.values()
        if isinstance(type_, GraphQLObjectType)
        for name, field in type_.fields.items()
        if getattr(field.resolve, "__qualname__", "").startswith("_direct_call")
    }
    assert called_directly == {
        ("Contact", "displayName"),
        ("Contact", "stage"),
        ("Contact", "assignee"),
        ("Contact", "tags"),
        ("Contact", "buckets"),
        ("Stage", "blocksArchive"),
    }


@pytest.mark.parametrize(
    ("type_name", "field", "plain"),
    [
        ("Contact", "firstName", True),
        ("Contact", "emails", True),
        ("Contact", "status", True),
        ("Contact", "createdAt", True),
        ("Contact", "displayName", False),  # a resolver
        ("Contact", "stage", False),  # an object
        ("Contact", "interactions", False),  # arguments
        ("ContactEdge", "node", False),
        ("ContactArchived", "__typename", True),  # each result of a bulk action
    ],
)
def test_the_api_completes_attribute_leaves_in_place_and_nothing_else(
    type_name: str, field: str, plain: bool
) -> None:
    parent = api_schema._schema.type_map[type_name]
    completed = plain_field(parent, field)
    assert (completed is not None) is plain
    if completed is not None and field != "__typename":
        # Read as Strawberry's default resolver would, straight from the attribute.
        assert isinstance(completed.read, attrgetter)
