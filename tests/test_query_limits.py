"""Fragments cannot make a small document expensive: the limits cost what the text costs."""

from __future__ import annotations

import sys
from collections.abc import Callable
from types import FrameType

import pytest
from conftest import GraphQL, Person, World
from graphql import FragmentDefinitionNode, OperationDefinitionNode, parse

import schema.limits
from schema.limits import MAX_FRAGMENT_NESTING, Summaries, summarize_own

TOO_MANY_FIELDS = (
    "The query is too complex: the document selects more than 5000 fields "
    "once its fragments are expanded"
)
TOO_DEEP = "The query is too complex: it nests too deeply."


def doubling(fragments: int, comment: str = "") -> str:
    """The query of issue #23: each fragment spreads the next one twice, so the
    document expands to 2**fragments selections."""
    parts = [f"fragment F{i} on Query {{ ...F{i + 1} ...F{i + 1} }}" for i in range(fragments)]
    parts.append(f"fragment F{fragments} on Query {{ __typename }}")
    return f"{comment}\n" + " ".join(parts) + " { ...F0 }"


def chain(fragments: int) -> str:
    """Each fragment spreads the next one once: spreads nested `fragments` deep."""
    parts = [f"fragment F{i} on Query {{ ...F{i + 1} }}" for i in range(fragments - 1)]
    parts.append(f"fragment F{fragments - 1} on Query {{ __typename }}")
    return " ".join(parts) + " { ...F0 }"


async def calls_to_answer(gql: GraphQL, query: str, as_: Person) -> tuple[int, str]:
    """How many Python functions answering `query` over HTTP calls, and the error code:
    a measure of work that does not depend on the machine's speed or load."""
    calls = 0

    def count(_frame: FrameType, event: str, _arg: object) -> None:
        nonlocal calls
        if event == "call":
            calls += 1

    profile: Callable[[FrameType, str, object], None] = count
    sys.setprofile(profile)
    try:
        code, _, _ = await gql.error(query, as_=as_)
    finally:
        sys.setprofile(None)
    return calls, code


def rule_steps(query: str) -> int:
    """How many selection sets the limits rule summarized for `query`."""
    document = parse(query)
    fragments = {
        definition.name.value: definition
        for definition in document.definitions
        if isinstance(definition, FragmentDefinitionNode)
    }
    summaries = Summaries(fragments, ceiling=5001)
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode):
            summaries.expand(summarize_own(definition.selection_set))
    return summaries.steps


@pytest.mark.parametrize("fragments", [22, 30])
async def test_fragments_each_spreading_the_next_twice_are_refused_as_too_complex(
    world: World, gql: GraphQL, fragments: int
) -> None:
    response = await gql.raw(doubling(fragments), token=world.viewer.token)
    assert response.status_code == 200
    body = response.json()
    assert "data" not in body  # refused before execution began
    assert [(e["message"], e["extensions"]) for e in body["errors"]] == [
        (TOO_MANY_FIELDS, {"code": "QUERY_TOO_COMPLEX"})
    ]


def test_the_limits_rule_summarizes_each_fragment_once() -> None:
    # One step per fragment and one for the operation, however often each is spread.
    assert rule_steps(doubling(20)) == 22
    assert rule_steps(doubling(40)) == 42
    assert rule_steps(chain(300)) == 301


async def test_refusing_twice_as_many_doubling_fragments_costs_about_twice_as_much(
    world: World, gql: GraphQL
) -> None:
    small, small_code = await calls_to_answer(gql, doubling(20), world.viewer)
    large, large_code = await calls_to_answer(gql, doubling(40), world.viewer)
    assert small_code == large_code == "QUERY_TOO_COMPLEX"
    # Linear: the 20 extra fragments cost at most what the whole first request did (the
    # HTTP round trip included); before, they multiplied the work by 2**20.
    assert large < 2 * small


async def test_a_comment_does_not_make_a_refused_query_any_cheaper_to_send_again(
    world: World, gql: GraphQL
) -> None:
    # Each comment makes the text new to the caches, so each request is parsed and
    # validated again: each must cost as little as the first.
    first, _ = await calls_to_answer(gql, doubling(22, "# 0"), world.viewer)
    for attempt in range(1, 4):
        calls, code = await calls_to_answer(gql, doubling(22, f"# {attempt}"), world.viewer)
        assert code == "QUERY_TOO_COMPLEX"
        assert calls < first * 1.2


async def test_a_chain_of_300_fragments_is_too_complex_without_a_word_of_recursion(
    world: World, gql: GraphQL
) -> None:
    response = await gql.raw(chain(300), token=world.viewer.token)
    assert response.status_code == 200
    body = response.json()
    assert [(e["message"], e["extensions"]) for e in body["errors"]] == [
        (
            "The query is too complex: 'anonymous' has fragment spreads nested "
            f"more than {MAX_FRAGMENT_NESTING} deep",
            {"code": "QUERY_TOO_COMPLEX"},
        )
    ]
    assert "recursion" not in response.text


async def test_fragments_may_nest_up_to_the_limit(world: World, gql: GraphQL) -> None:
    # chain(n) nests n - 1 spreads under the operation's own.
    data = await gql(chain(MAX_FRAGMENT_NESTING), as_=world.viewer)
    assert data == {"__typename": "Query"}
    code, message, _ = await gql.error(chain(MAX_FRAGMENT_NESTING + 1), as_=world.viewer)
    assert code == "QUERY_TOO_COMPLEX"
    assert f"nested more than {MAX_FRAGMENT_NESTING} deep" in message


async def test_the_depth_of_fields_in_fragments_adds_up_as_if_written_out(
    world: World, gql: GraphQL
) -> None:
    # Each level of blockers nests 2 fields, under contacts { edges { node: 3 fields.
    blocker = (
        "fragment Blocker on Contact "
        "{ archiveBlockers { ... on ArchiveBlockedByStage { contact { __typename } } } } "
    )

    def blockers(depth: int) -> str:
        inner = "...Blocker"
        for _ in range(depth):
            inner = (
                f"archiveBlockers {{ ... on ArchiveBlockedByStage {{ contact {{ {inner} }} }} }}"
            )
        return blocker + f"{{ contacts {{ edges {{ node {{ {inner} }} }} }} }}"

    assert await gql(blockers(3), as_=world.member)  # 3 + 6 + 2 = 11
    code, message, data = await gql.error(blockers(4), as_=world.member)  # 3 + 8 + 2 = 13
    assert (code, message, data) == (
        "QUERY_TOO_COMPLEX",
        "The query is too complex: 'anonymous' exceeds maximum operation depth of 12",
        None,
    )


async def test_aliases_in_a_fragment_count_once_per_spread(world: World, gql: GraphQL) -> None:
    fragment = (
        "fragment Names on Query { "
        + " ".join(f"a{i}: viewer {{ name }}" for i in range(16))
        + " } "
    )
    assert await gql(fragment + "{ ...Names }", as_=world.member)
    code, message, _ = await gql.error(fragment + "{ ...Names ...Names }", as_=world.member)
    assert (code, message) == (
        "QUERY_TOO_COMPLEX",
        "The query is too complex: 32 aliases found. Allowed: 30",
    )


async def test_a_document_nested_too_deeply_to_parse_is_too_complex(
    world: World, gql: GraphQL
) -> None:
    deep = "{ viewer " + "{ workspace " * 300 + "{ id }" + " }" * 300 + " }"
    code, message, _ = await gql.error(deep, as_=world.member)
    assert (code, message) == ("QUERY_TOO_COMPLEX", TOO_DEEP)


async def test_a_stack_overflow_while_validating_is_too_complex_and_masked(
    world: World, gql: GraphQL, monkeypatch: pytest.MonkeyPatch
) -> None:
    def overflow(*args: object) -> None:
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(schema.limits, "summarize_own", overflow)
    response = await gql.raw("{ viewer { name } } # overflow", token=world.member.token)
    assert response.status_code == 200
    body = response.json()
    assert [(e["message"], e["extensions"]) for e in body["errors"]] == [
        (TOO_DEEP, {"code": "QUERY_TOO_COMPLEX"})
    ]
    assert "recursion" not in response.text


async def test_too_many_validation_errors_stay_validation_errors(
    world: World, gql: GraphQL
) -> None:
    # graphql-core stops after 100 errors with a message ending like its nesting abort.
    query = "{ " + " ".join(f"unknown{i}" for i in range(120)) + " }"
    response = await gql.raw(query, token=world.member.token)
    errors = response.json()["errors"]
    assert len(errors) == 101
    assert {error["extensions"]["code"] for error in errors} == {"GRAPHQL_VALIDATION_FAILED"}
    assert errors[-1]["message"] == (
        "Too many validation errors, error limit reached. Validation aborted."
    )
