"""Inputs built directly from graphql-core's values (schema/inputs.py, `built_directly`)."""

from __future__ import annotations

from enum import Enum

import pytest
import strawberry

from schema.inputs import ContactSelection, built_directly


@built_directly
@strawberry.input
class Person:
    display_name: str
    age: int | None = None
    nick_names: list[str] | None = None


@strawberry.enum
class Side(Enum):
    LEFT = "left"
    RIGHT = "right"


@built_directly
@strawberry.input
class Party:
    side: Side
    name: str
    people: list[Person]
    guests: list[Person] | None = None


received: list[Person | Party] = []


@strawberry.type
class Query:
    @strawberry.field
    def people(self, given: list[Person]) -> int:
        received.extend(given)
        return len(given)

    @strawberry.field
    def party(self, given: Party) -> int:
        received.append(given)
        return len(given.people)


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


def test_an_input_with_an_enum_and_a_list_of_direct_inputs_is_built_all_the_way_down() -> None:
    received.clear()
    result = strawberry.Schema(query=Query).execute_sync(
        '{ party(given: {side: RIGHT, name: "P", people: [{displayName: "Ada", age: 1}]}) }'
    )

    assert (result.errors, result.data) == (None, {"party": 1})
    assert received == [
        Party(
            side=Side.RIGHT,
            name="P",
            people=[Person(display_name="Ada", age=1, nick_names=None)],
            guests=None,
        )
    ]
    party = received[0]
    assert isinstance(party, Party)
    assert type(party.side) is Side
    assert type(party.people[0]) is Person


def test_an_input_holding_another_input_is_refused_when_the_class_is_defined() -> None:
    with pytest.raises(
        TypeError,
        match=(
            r"^Bulk: not scalars, enums, or lists of scalars or of inputs built directly: "
            r"selection$"
        ),
    ):

        @built_directly
        @strawberry.input
        class Bulk:
            name: str
            tags: list[str] | None = None
            selection: ContactSelection | None = None
