"""graphql-cop's checks, sent as graphql-cop sends them, to a server in production mode.

graphql-cop (github.com/dolevf/graphql-cop) is a script, not a package; these are its
requests. Each test names the check it answers and what graphql-cop counts as a finding.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import pytest
from conftest import World

from schema.limits import MAX_DIRECTIVES_PER_PLACE
from server.app import create_app
from server.settings import Environment, Settings


@pytest.fixture
async def production(database: str) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(database_url=database, environment=Environment.PRODUCTION)
    app = create_app(settings, manage_database=False)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


def bearer(world: World) -> dict[str, str]:
    return {"Authorization": f"Bearer {world.viewer.token}"}


async def test_directive_overloading_gets_one_error_not_one_per_directive(
    production: httpx.AsyncClient, world: World
) -> None:
    # graphql-cop: HIGH when ten repeated unknown directives give ten errors back.
    query = "query cop { __typename " + "@aa" * 10 + " }"
    body = (await production.post("/graphql", json={"query": query}, headers=bearer(world))).json()
    assert len(body["errors"]) == 1
    assert body["errors"][0]["extensions"] == {"code": "QUERY_TOO_COMPLEX"}
    assert f"at most {MAX_DIRECTIVES_PER_PLACE}" in body["errors"][0]["message"]
    assert "data" not in body


async def test_a_field_may_still_carry_the_directives_a_client_needs(
    production: httpx.AsyncClient, world: World
) -> None:
    query = "query ($a: Boolean!) { __typename @include(if: $a) @skip(if: false) }"
    response = await production.post(
        "/graphql", json={"query": query, "variables": {"a": True}}, headers=bearer(world)
    )
    assert response.json() == {"data": {"__typename": "Query"}}


async def test_alias_overloading_is_refused_with_one_error(
    production: httpx.AsyncClient, world: World
) -> None:
    # graphql-cop: HIGH when 101 aliases of __typename are all answered.
    query = "query cop { " + " ".join(f"alias{n}:__typename" for n in range(101)) + " }"
    body = (await production.post("/graphql", json={"query": query}, headers=bearer(world))).json()
    assert [error["extensions"]["code"] for error in body["errors"]] == ["QUERY_TOO_COMPLEX"]
    assert "data" not in body


async def test_array_based_batching_is_refused(production: httpx.AsyncClient, world: World) -> None:
    # graphql-cop: HIGH when a JSON array of ten queries gets ten answers.
    batch = [{"query": "query cop { __typename }"}] * 10
    response = await production.post(
        "/graphql",
        content=json.dumps(batch),
        headers={**bearer(world), "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert not isinstance(response.json(), list)


async def test_a_mutation_over_get_is_refused(production: httpx.AsyncClient, world: World) -> None:
    # graphql-cop: MEDIUM (CSRF) when GET runs a mutation.
    response = await production.get(
        "/graphql",
        params={"query": 'mutation cop { createBucket(input: {name: "x"}) { __typename } }'},
        headers=bearer(world),
    )
    assert response.status_code == 405


async def test_a_url_encoded_post_is_refused(production: httpx.AsyncClient, world: World) -> None:
    # graphql-cop: MEDIUM (CSRF) when a form-encoded POST, which a page on another site
    # may send without a preflight, is answered.
    response = await production.post(
        "/graphql",
        content="query=query+cop+%7B__typename%7D",
        headers={**bearer(world), "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code in {400, 415}
    assert "data" not in response.json()


async def test_a_get_query_is_answered_only_when_asked_for_as_graphql(
    production: httpx.AsyncClient, world: World
) -> None:
    # graphql-cop: MEDIUM when GET queries run (a CSRF vector for queries with effects).
    # Ours have none, and a GET needs the bearer token, which no cross-site page holds.
    response = await production.get(
        "/graphql", params={"query": "query cop { __typename }"}, headers=bearer(world)
    )
    assert response.json() == {"data": {"__typename": "Query"}}
    anonymous = await production.get("/graphql", params={"query": "query cop { __typename }"})
    assert anonymous.status_code == 401


async def test_field_suggestions_are_off_in_production(
    production: httpx.AsyncClient, world: World
) -> None:
    # graphql-cop: LOW when an error says "Did you mean ...".
    body = (
        await production.post(
            "/graphql", json={"query": "query cop { __schemb }"}, headers=bearer(world)
        )
    ).json()
    assert body["errors"]
    assert "Did you mean" not in json.dumps(body)


async def test_introspection_is_off_in_production(
    production: httpx.AsyncClient, world: World
) -> None:
    # graphql-cop: HIGH when __schema answers.
    body = (
        await production.post(
            "/graphql",
            json={"query": "query cop { __schema { types { name } } }"},
            headers=bearer(world),
        )
    ).json()
    assert "data" not in body or body["data"] is None
    assert body["errors"]


async def test_the_playground_is_off_in_production(production: httpx.AsyncClient) -> None:
    # graphql-cop: LOW when GET with Accept: text/html serves GraphiQL.
    response = await production.get("/graphql", headers={"Accept": "text/html"})
    assert "graphiql" not in response.text.lower()


@pytest.mark.parametrize(
    "query",
    [
        "{ contacts(fitler: {status: ACTIVE}) { totalCount } }",
        "{ contacts(filter: {status: ACTIV}) { totalCount } }",
        "{ contacts(filter: {statu: ACTIVE}) { totalCount } }",
        "query ($f: ContactFiltr) { contacts(filter: $f) { totalCount } }",
        "{ ... on Contac { id } }",
        "{ contacts { totalCont } }",
    ],
    ids=["argument", "enum-value", "input-field", "variable-type", "fragment-type", "field"],
)
async def test_production_suggests_no_name_of_the_schema(
    production: httpx.AsyncClient, world: World, query: str
) -> None:
    body = (await production.post("/graphql", json={"query": query}, headers=bearer(world))).json()
    assert [error["extensions"]["code"] for error in body["errors"]] == [
        "GRAPHQL_VALIDATION_FAILED"
    ]
    assert "Did you mean" not in json.dumps(body)


async def test_a_variable_of_a_misspelled_enum_value_gets_no_suggestion_in_production(
    production: httpx.AsyncClient, world: World
) -> None:
    body = (
        await production.post(
            "/graphql",
            json={
                "query": "query ($s: ContactStatus) "
                "{ contacts(filter: {status: $s}) { totalCount } }",
                "variables": {"s": "ACTIV"},
            },
            headers=bearer(world),
        )
    ).json()
    assert body["errors"]
    assert "Did you mean" not in json.dumps(body)
