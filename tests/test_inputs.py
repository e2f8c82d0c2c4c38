"""Inputs built directly from graphql-core's values (schema/inputs.py, `built_directly`)."""

from __future__ import annotations

import pytest
import strawberry

from schema.inputs import ContactSelection, built_directly


@built_directly
@strawberry.input
class Person:
    display_name: str
    age: int | None = None
    nick_names: list[str] | None = None


received: list[Person] = []


@strawberry.type
class Query:
    @strawberry.field
    def people(self, given: list[Person]) -> int:
        received.extend(given)
        return len(given)


def test_an_input_of_scalars_is_built_from_the_values_sent_and_defaults_for_the_rest() -> None:
    received.clear()
    result = strawberry.Schema(query=Query).execute_sync(
        '{ people(given: [{displayName: "Ada", nickNames: ["A"]}, {displayName: "Bob", age: 3}]) }'
    )

    assert (result.errors, result.data) == (None, {"people": 2})
    assert received == [
        Person(display_name="Ada", age=None, nick_names=["A"]),
        Person(display_name="Bob", age=3, nick_names=None),
    ]


def test_an_input_holding_another_input_is_refused_when_the_class_is_defined() -> None:
    with pytest.raises(TypeError, match=r"^Bulk: not scalars or lists of scalars: selection$"):

        @built_directly
        @strawberry.input
        class Bulk:
            name: str
            tags: list[str] | None = None
            selection: ContactSelection | None = None
