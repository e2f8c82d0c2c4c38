"""Every part of the schema a client sees is described, so that the docs explorer says what to do.

The schema is read as clients read it: the SDL the server serves, parsed by graphql-core.
"""

from __future__ import annotations

from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
    build_schema,
)
from graphql.type import introspection_types, specified_scalar_types

from schema import schema

MIN_DESCRIBED = 0.95

# The elements left undescribed on purpose, each with its reason. Any other element without a
# description fails the test; so does describing one of these without taking it off the list.
EXCEPTIONS = {
    # The root types are merged from two classes each (strawberry.tools.merge_types, which
    # takes no description); the docs explorer shows their fields, which are all described.
    "Query",
    "Mutation",
}

# Where "My People" appears, the schema says what it is: every active contact of the
# workspace, not the contacts assigned to the viewer.
MY_PEOPLE_PLACES = (
    "AudienceKind",
    "AudienceKind.MY_PEOPLE",
    "Audience",
    "Audience.kind",
    "Query.audiences",
    "ContactSelection.audienceId",
)


def served() -> GraphQLSchema:
    return build_schema(schema.as_str())


def descriptions(built: GraphQLSchema) -> dict[str, str | None]:
    """Every type, field, argument, input field and enum value a client sees, by its path
    (Type, Type.field, Type.field(argument), Enum.VALUE), with its description."""
    found: dict[str, str | None] = {}
    for name, type_ in built.type_map.items():
        if name in introspection_types or name in specified_scalar_types:
            continue
        found[name] = type_.description
        if isinstance(type_, GraphQLObjectType | GraphQLInterfaceType):
            for field_name, field in type_.fields.items():
                found[f"{name}.{field_name}"] = field.description
                for arg_name, arg in field.args.items():
                    found[f"{name}.{field_name}({arg_name})"] = arg.description
        elif isinstance(type_, GraphQLInputObjectType):
            for field_name, input_field in type_.fields.items():
                found[f"{name}.{field_name}"] = input_field.description
        elif isinstance(type_, GraphQLEnumType):
            for value_name, value in type_.values.items():
                found[f"{name}.{value_name}"] = value.description
    return found


def undescribed(found: dict[str, str | None]) -> set[str]:
    return {path for path, text in found.items() if not (text and text.strip())}


def test_the_walk_covers_every_kind_of_element() -> None:
    found = descriptions(served())
    for path in (
        "Contact",
        "Contact.archiveBlockers",
        "Contact.interactions(first)",
        "ContactSelection.exceptIds",
        "AudienceKind.MY_PEOPLE",
        "ArchiveContactResult",
        "Node.id",
        "DateTime",
    ):
        assert path in found
    assert not any(path.startswith("__") for path in found)
    assert "String" not in found


def test_at_least_95_percent_of_the_schema_is_described() -> None:
    found = descriptions(served())
    described = len(found) - len(undescribed(found))
    assert described / len(found) >= MIN_DESCRIBED, f"{described} of {len(found)} described"


def test_only_the_named_exceptions_are_undescribed() -> None:
    missing = undescribed(descriptions(served()))
    assert missing - EXCEPTIONS == set(), "describe these (or name them in EXCEPTIONS, and why)"
    assert EXCEPTIONS - missing == set(), "described now: take these off EXCEPTIONS"


def test_my_people_is_every_active_contact_not_the_viewers_own() -> None:
    found = descriptions(served())
    for path in MY_PEOPLE_PLACES:
        text = found[path] or ""
        assert "My People" in text, path
        assert "every active" in text, path
        assert "assigned to" in text, path
    assert 'does not mean "assigned to me"' in (found["AudienceKind.MY_PEOPLE"] or "")
