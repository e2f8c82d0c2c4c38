"""GraphQL over HTTP: media types, status codes, GET and batching (what audit/ checks with node)."""

from __future__ import annotations

import gc
import json

import httpx
import pytest
from conftest import GraphQL, World

from server.app import APPLICATION_JSON, GRAPHQL_RESPONSE_JSON, negotiate_media_type
from server.models import Bucket

GRAPHQL_RESPONSE = {"Accept": GRAPHQL_RESPONSE_JSON}


def auth(world: World, **headers: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {world.admin.token}", **headers}


def media_type(response: httpx.Response) -> str:
    return response.headers["content-type"].split(";")[0].strip()


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (None, APPLICATION_JSON),
        ("", APPLICATION_JSON),
        ("*/*", APPLICATION_JSON),
        ("application/*", APPLICATION_JSON),
        ("application/json", APPLICATION_JSON),
        ("application/json; charset=utf-8", APPLICATION_JSON),
        (GRAPHQL_RESPONSE_JSON, GRAPHQL_RESPONSE_JSON),
        (f"{GRAPHQL_RESPONSE_JSON}, application/json;q=0.9", GRAPHQL_RESPONSE_JSON),
        (f"application/json, {GRAPHQL_RESPONSE_JSON}", GRAPHQL_RESPONSE_JSON),
        (f"{GRAPHQL_RESPONSE_JSON};q=0.5, application/json", APPLICATION_JSON),
        (f"{GRAPHQL_RESPONSE_JSON}, */*;q=0.1", GRAPHQL_RESPONSE_JSON),
        ("text/html,application/xhtml+xml,*/*;q=0.8", APPLICATION_JSON),
        ("APPLICATION/GRAPHQL-RESPONSE+JSON", GRAPHQL_RESPONSE_JSON),
        ("text/plain", None),
        ("application/xml, text/html", None),
        ("application/json;q=0", None),
        (f"{GRAPHQL_RESPONSE_JSON};q=0, application/json", APPLICATION_JSON),
        ("*/*;q=0, application/json;q=0.3", APPLICATION_JSON),
        ("application/json;q=nonsense", None),
    ],
)
def test_the_response_media_type_follows_the_accept_header(
    accept: str | None, expected: str | None
) -> None:
    assert negotiate_media_type(accept) == expected


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({}, APPLICATION_JSON),
        ({"Accept": "*/*"}, APPLICATION_JSON),
        ({"Accept": "application/json"}, APPLICATION_JSON),
        (GRAPHQL_RESPONSE, GRAPHQL_RESPONSE_JSON),
        ({"Accept": f"{GRAPHQL_RESPONSE_JSON}, application/json;q=0.9"}, GRAPHQL_RESPONSE_JSON),
    ],
)
async def test_a_query_is_answered_in_the_negotiated_media_type(
    world: World, client: httpx.AsyncClient, headers: dict[str, str], expected: str
) -> None:
    response = await client.post(
        "/graphql", json={"query": "{ viewer { email } }"}, headers=auth(world, **headers)
    )
    assert response.status_code == 200
    assert media_type(response) == expected
    assert response.json() == {"data": {"viewer": {"email": "admin@acme.test"}}}


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"query": "{"}, "GRAPHQL_VALIDATION_FAILED"),
        ({"query": "{ noSuchField }"}, "GRAPHQL_VALIDATION_FAILED"),
        (
            {"query": "query Q($id: ID!) { contact(id: $id) { id } }", "variables": {"id": None}},
            "GRAPHQL_VALIDATION_FAILED",
        ),
        (
            {"query": "query Q($id: ID!) { contact(id: $id) { id } }", "variables": {"id": []}},
            "GRAPHQL_VALIDATION_FAILED",
        ),
        ({"query": "query Q { viewer { id } }", "operationName": "Nope"}, "BAD_REQUEST"),
    ],
)
async def test_a_request_error_is_400_without_data_in_graphql_response_json(
    world: World, client: httpx.AsyncClient, body: dict[str, object], code: str
) -> None:
    response = await client.post("/graphql", json=body, headers=auth(world, **GRAPHQL_RESPONSE))
    payload = response.json()
    assert response.status_code == 400, payload
    assert media_type(response) == GRAPHQL_RESPONSE_JSON
    assert "data" not in payload
    assert payload["errors"][0]["extensions"]["code"] == code


async def test_a_request_error_is_200_without_data_in_application_json(
    world: World, client: httpx.AsyncClient
) -> None:
    for accept in (None, "application/json", "*/*"):
        headers = auth(world, **({"Accept": accept} if accept else {}))
        response = await client.post("/graphql", json={"query": "{"}, headers=headers)
        assert response.status_code == 200
        assert media_type(response) == APPLICATION_JSON
        payload = response.json()
        assert "data" not in payload
        assert payload["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"


async def test_a_query_too_complex_is_400_in_graphql_response_json_and_200_in_json(
    world: World, client: httpx.AsyncClient
) -> None:
    deep = "{ viewer " + "{ workspace " * 20 + "{ id }" + " }" * 20 + " }"
    for accept, status in ((GRAPHQL_RESPONSE_JSON, 400), (APPLICATION_JSON, 200)):
        response = await client.post(
            "/graphql", json={"query": deep}, headers=auth(world, Accept=accept)
        )
        assert response.status_code == status
        assert response.json()["errors"][0]["extensions"]["code"] == "QUERY_TOO_COMPLEX"


async def test_an_error_during_execution_is_200_with_data_in_graphql_response_json(
    world: World, client: httpx.AsyncClient
) -> None:
    # ids together with a filter: BAD_USER_INPUT from the resolver, after execution began.
    mutation = (
        "mutation { archiveContacts(input: "
        '{ selection: { ids: ["x"], filter: {} } }) { succeeded } }'
    )
    response = await client.post(
        "/graphql", json={"query": mutation}, headers=auth(world, **GRAPHQL_RESPONSE)
    )
    assert response.status_code == 200
    assert media_type(response) == GRAPHQL_RESPONSE_JSON
    payload = response.json()
    assert payload["data"] is None
    assert payload["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert payload["errors"][0]["path"] == ["archiveContacts"]


async def test_an_accept_header_allowing_no_json_is_406(
    world: World, client: httpx.AsyncClient
) -> None:
    response = await client.post(
        "/graphql",
        json={"query": 'mutation { createBucket(name: "Never") { id } }'},
        headers=auth(world, Accept="text/plain"),
    )
    assert response.status_code == 406
    assert media_type(response) == APPLICATION_JSON
    assert response.json()["errors"][0]["extensions"]["code"] == "NOT_ACCEPTABLE"
    assert not await Bucket.exists(name="Never")


async def test_a_query_over_get_is_answered(world: World, client: httpx.AsyncClient) -> None:
    response = await client.get(
        "/graphql",
        params={
            "query": "query Me($x: Boolean!) { viewer @include(if: $x) { email } }",
            "variables": json.dumps({"x": True}),
        },
        headers=auth(world, **GRAPHQL_RESPONSE),
    )
    assert response.status_code == 200
    assert media_type(response) == GRAPHQL_RESPONSE_JSON
    assert response.json() == {"data": {"viewer": {"email": "admin@acme.test"}}}


@pytest.mark.parametrize("accept", [GRAPHQL_RESPONSE_JSON, APPLICATION_JSON, "*/*"])
async def test_a_mutation_over_get_is_405_and_runs_not(
    world: World, client: httpx.AsyncClient, accept: str
) -> None:
    response = await client.get(
        "/graphql",
        params={"query": 'mutation { createBucket(name: "Sneaky") { id } }'},
        headers=auth(world, Accept=accept),
    )
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "METHOD_NOT_ALLOWED"
    assert "POST" in error["message"]
    assert not await Bucket.exists(name="Sneaky")


async def test_a_mutation_picked_by_operation_name_over_get_is_405(
    world: World, client: httpx.AsyncClient
) -> None:
    document = 'query Q { viewer { id } } mutation M { createBucket(name: "Sneaky") { id } }'
    response = await client.get(
        "/graphql", params={"query": document, "operationName": "M"}, headers=auth(world)
    )
    assert response.status_code == 405
    assert not await Bucket.exists(name="Sneaky")
    response = await client.get(
        "/graphql", params={"query": document, "operationName": "Q"}, headers=auth(world)
    )
    assert response.status_code == 200
    assert "viewer" in response.json()["data"]
    # Without an operationName, a document of several operations runs none of them.
    response = await client.get("/graphql", params={"query": document}, headers=auth(world))
    assert "data" not in response.json()
    assert response.json()["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    reversed_document = (
        'mutation M { createBucket(name: "Sneaky") { id } } query Q { viewer { id } }'
    )
    response = await client.get(
        "/graphql", params={"query": reversed_document}, headers=auth(world)
    )
    assert response.status_code == 405
    assert not await Bucket.exists(name="Sneaky")


@pytest.mark.parametrize("accept", [GRAPHQL_RESPONSE_JSON, APPLICATION_JSON])
async def test_a_batch_is_refused_and_nothing_of_it_runs(
    world: World, client: httpx.AsyncClient, accept: str
) -> None:
    batch = [
        {"query": 'mutation { createBucket(name: "Batched") { id } }'},
        {"query": "{ viewer { id } }"},
    ]
    response = await client.post("/graphql", json=batch, headers=auth(world, Accept=accept))
    assert response.status_code == 400
    assert media_type(response) == accept
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "BAD_REQUEST"
    assert "Batching" in error["message"]
    assert not await Bucket.exists(name="Batched")


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (b'{ "not a JSON', "application/json"),
        (b"", "application/json"),
        (b'{"query": "{ __typename }"}', "text/plain"),
        (b'{"query": "{ __typename }"}', None),
        (b'{"query": {"obj": "ect"}}', "application/json"),
        (b'{"query": "{ __typename }", "variables": "string"}', "application/json"),
        (b'{"query": "{ __typename }", "extensions": []}', "application/json"),
        (b'{"qeury": "{ __typename }"}', "application/json"),
    ],
)
async def test_a_malformed_request_is_400_as_json_with_a_code(
    world: World, client: httpx.AsyncClient, content: bytes, content_type: str | None
) -> None:
    headers = auth(world, **GRAPHQL_RESPONSE)
    if content_type:
        headers["Content-Type"] = content_type
    response = await client.post("/graphql", content=content, headers=headers)
    assert response.status_code == 400
    assert media_type(response) == GRAPHQL_RESPONSE_JSON
    payload = response.json()
    assert "data" not in payload
    assert payload["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


async def test_other_methods_are_405_with_allow(world: World, client: httpx.AsyncClient) -> None:
    for method in ("PUT", "DELETE", "PATCH"):
        response = await client.request(method, "/graphql", headers=auth(world))
        assert response.status_code == 405
        assert "POST" in response.headers["allow"]


@pytest.mark.parametrize("accept", [GRAPHQL_RESPONSE_JSON, APPLICATION_JSON, "text/plain"])
async def test_a_missing_or_unknown_token_is_still_401_unauthenticated(
    world: World, client: httpx.AsyncClient, accept: str
) -> None:
    for headers in ({}, {"Authorization": "Bearer not-a-token"}):
        response = await client.post(
            "/graphql", json={"query": "{ viewer { id } }"}, headers={**headers, "Accept": accept}
        )
        assert response.status_code == 401
        assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_an_upload_the_operation_never_reads_is_closed(
    world: World, client: httpx.AsyncClient
) -> None:
    # The file's variable goes unused: validation refuses the document and no resolver ever
    # touches the upload; the server must still close it (pytest turns the ResourceWarning
    # of a temporary file left open into a failure).
    operations = {
        "query": 'mutation($file: Upload!) { createBucket(name: "Unread") { id } }',
        "variables": {"file": None},
    }
    for _ in range(3):
        response = await client.post(
            "/graphql",
            data={
                "operations": json.dumps(operations),
                "map": json.dumps({"0": ["variables.file"]}),
            },
            files={"0": ("contacts.csv", b"first_name\nAda\n" * 1000, "text/csv")},
            headers=auth(world),
        )
        assert response.status_code == 200
        assert response.json()["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    gc.collect()
    assert not await Bucket.exists(name="Unread")


async def test_a_document_with_two_operations_and_no_operation_name_is_refused(
    gql: GraphQL, world: World
) -> None:
    response = await gql.http.post(
        "/graphql",
        json={"query": 'query A { __typename } mutation B { createBucket(name: "x") { id } }'},
        headers={"Authorization": f"Bearer {world.member.token}"},
    )
    body = response.json()
    assert "data" not in body
    assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert "operationName" in body["errors"][0]["message"]
    named = await gql.http.post(
        "/graphql",
        json={"query": "query A { __typename } query B { viewer { name } }", "operationName": "A"},
        headers={"Authorization": f"Bearer {world.member.token}"},
    )
    assert named.json() == {"data": {"__typename": "Query"}}
