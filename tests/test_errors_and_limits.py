"""Hostile queries meet limits with clear codes; unexpected failures reveal nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from conftest import GraphQL, World

from schema import queries
from server.app import create_app
from server.settings import Environment, Settings

LEAKS = ("Traceback", 'File "', ".py", "SELECT", "sqlite", "asyncpg", "tortoise", "secret")


@pytest.fixture
async def production(database: str) -> AsyncIterator[GraphQL]:
    settings = Settings(database_url=database, environment=Environment.PRODUCTION)
    app = create_app(settings, manage_database=False)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield GraphQL(http)


def blockers(depth: int) -> str:
    inner = "__typename"
    for _ in range(depth):
        inner = f"archiveBlockers {{ ... on ArchiveBlockedByStage {{ contact {{ {inner} }} }} }}"
    return f"{{ contacts {{ edges {{ node {{ {inner} }} }} }} }}"


async def test_a_query_deeper_than_the_limit_is_refused_as_too_complex(
    world: World, gql: GraphQL
) -> None:
    await gql(blockers(2), as_=world.member)
    code, message, data = await gql.error(blockers(6), as_=world.member)
    assert code == "QUERY_TOO_COMPLEX"
    assert "depth" in message
    assert data is None


async def test_a_query_with_too_many_aliases_is_refused_as_too_complex(
    world: World, gql: GraphQL
) -> None:
    query = "{ " + " ".join(f"a{i}: viewer {{ name }}" for i in range(31)) + " }"
    code, message, _ = await gql.error(query, as_=world.member)
    assert code == "QUERY_TOO_COMPLEX"
    assert "aliases" in message


async def test_a_query_with_too_many_tokens_is_refused_as_too_complex(
    world: World, gql: GraphQL
) -> None:
    query = "{ viewer { " + "name " * 6000 + "} }"
    code, message, _ = await gql.error(query, as_=world.member)
    assert code == "QUERY_TOO_COMPLEX"
    assert "tokens" in message


async def test_an_unexpected_failure_is_masked_and_reveals_nothing(
    world: World, gql: GraphQL, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError('secret at File "/srv/app.py": SELECT * FROM contact')

    monkeypatch.setattr(queries, "list_audiences", broken)
    response = await gql.raw("{ audiences { name } }", token=world.member.token)
    assert response.status_code == 200
    body = response.json()
    assert body["errors"][0]["extensions"] == {"code": "INTERNAL_SERVER_ERROR"}
    for leak in LEAKS:
        assert leak not in response.text


async def test_input_errors_keep_their_code_and_message(world: World, gql: GraphQL) -> None:
    code, message, _ = await gql.error(
        "mutation { archiveContacts(input: {selection: {}}) { succeeded } }", as_=world.member
    )
    assert code == "BAD_USER_INPUT"
    assert "ids" in message


async def test_a_malformed_query_is_a_validation_error_with_a_code(
    world: World, gql: GraphQL
) -> None:
    code, message, _ = await gql.error("{ viewer { nmae } }", as_=world.member)
    assert code == "GRAPHQL_VALIDATION_FAILED"
    assert "Did you mean" in message


async def test_production_turns_off_introspection_and_field_suggestions(
    world: World, production: GraphQL
) -> None:
    code, message, _ = await production.error("{ __schema { types { name } } }", as_=world.member)
    assert code == "GRAPHQL_VALIDATION_FAILED"
    assert "introspection" in message.lower()
    code, message, _ = await production.error("{ viewer { nmae } }", as_=world.member)
    assert "Did you mean" not in message


async def test_production_serves_no_playground(world: World, production: GraphQL) -> None:
    response = await production.http.get("/graphql", headers={"Accept": "text/html"})
    assert "graphiql" not in response.text.lower()
    assert response.status_code == 401


async def test_development_serves_the_playground_without_a_token(gql: GraphQL) -> None:
    response = await gql.http.get("/graphql", headers={"Accept": "text/html"})
    assert response.status_code == 200
    assert "graphiql" in response.text.lower()
