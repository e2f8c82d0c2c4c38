"""A query parsed once is not parsed again; queries that do not parse are reported every time."""

from __future__ import annotations

from typing import Any

import pytest
import strawberry.schema.schema as strawberry_schema
from conftest import GraphQL, World
from graphql import DocumentNode
from graphql import parse as graphql_parse

from schema.documents import MAX_CACHED_QUERY, ParsedDocuments


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The query texts Strawberry parses."""
    seen: list[str] = []

    def counting_parse(source: str, **options: Any) -> DocumentNode:
        seen.append(source)
        return graphql_parse(source, **options)

    monkeypatch.setattr(strawberry_schema, "parse", counting_parse)
    return seen


async def test_a_query_sent_again_is_answered_without_parsing_it_again(
    world: World, gql: GraphQL, parses: list[str]
) -> None:
    query = "{ viewer { name } }"
    first = await gql(query, as_=world.member)
    second = await gql(query, as_=world.viewer)

    assert parses == [query]
    assert first == {"viewer": {"name": world.member.user.name}}
    assert second == {"viewer": {"name": world.viewer.user.name}}


async def test_a_query_that_does_not_parse_is_reported_with_its_code_every_time(
    world: World, gql: GraphQL, parses: list[str]
) -> None:
    query = "{ viewer { name }"
    for _ in range(2):
        code, message, data = await gql.error(query, as_=world.member)
        assert (code, data) == ("GRAPHQL_VALIDATION_FAILED", None)
        assert message.startswith("Syntax Error")
    assert parses == [query, query]


async def test_a_query_over_the_token_limit_is_refused_every_time(
    world: World, gql: GraphQL, parses: list[str]
) -> None:
    query = "{ viewer { " + "name " * 6000 + "} }"
    for _ in range(2):
        code, _, _ = await gql.error(query, as_=world.member)
        assert code == "QUERY_TOO_COMPLEX"
    assert len(parses) == 2


def test_the_least_recently_used_document_makes_room() -> None:
    documents = ParsedDocuments(size=2)
    a, b, c = (graphql_parse(f"{{ {name} }}") for name in "abc")
    documents.keep("a", a)
    documents.keep("b", b)
    assert documents.get("a") is a  # now b is the least recently used
    documents.keep("c", c)
    assert (documents.get("a"), documents.get("b"), documents.get("c")) == (a, None, c)
    assert len(documents) == 2


def test_a_very_long_query_is_not_kept() -> None:
    documents = ParsedDocuments()
    query = "{ viewer { name } }" + " " * MAX_CACHED_QUERY
    documents.keep(query, graphql_parse(query))
    assert documents.get(query) is None


def test_a_cache_without_room_is_refused_at_once() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        ParsedDocuments(size=0)
