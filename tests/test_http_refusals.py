"""Every refusal at the HTTP level is JSON with a code, whatever the client sent."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator

import httpx
import pytest
from conftest import GraphQL, World

from server import app as app_module
from server.app import create_app
from server.models import Bucket
from server.settings import Environment, Settings

IMPORT = "mutation($f: Upload!) { importContactsCsv(file: $f) { created } }"
OPERATIONS = json.dumps({"query": IMPORT, "variables": {"f": None}})


def coded(response: httpx.Response, status: int, code: str) -> str:
    """The one error's message, once its status, media type and code are as expected."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/")
    errors = response.json()["errors"]
    assert [error["extensions"]["code"] for error in errors] == [code]
    message: str = errors[0]["message"]
    return message


@pytest.mark.parametrize("body", ["null", '"x"', "42", "true", "1.5"])
async def test_a_json_body_that_is_not_an_object_is_a_bad_request(
    gql: GraphQL, world: World, body: str
) -> None:
    response = await gql.http.post(
        "/graphql",
        content=body,
        headers={
            "Authorization": f"Bearer {world.member.token}",
            "Content-Type": "application/json",
        },
    )
    assert "JSON object" in coded(response, 400, "BAD_REQUEST")


@pytest.mark.parametrize(
    ("operations", "files_map"),
    [
        ("null", "{}"),
        (OPERATIONS, "[]"),
        (OPERATIONS, '{"0": 7}'),
        (OPERATIONS, '{"0": ["variables.f.0.x"]}'),
        (json.dumps({"query": IMPORT, "variables": {"f": [None]}}), '{"0": ["variables.f.x"]}'),
    ],
    ids=[
        "operations-null",
        "map-a-list",
        "paths-a-number",
        "path-through-null",
        "index-not-a-number",
    ],
)
async def test_a_multipart_request_whose_map_does_not_fit_is_a_bad_request(
    gql: GraphQL, world: World, operations: str, files_map: str
) -> None:
    response = await gql.http.post(
        "/graphql",
        data={"operations": operations, "map": files_map},
        files={"0": ("a.csv", b"first_name\nAda\n", "text/csv")},
        headers={"Authorization": f"Bearer {world.member.token}"},
    )
    coded(response, 400, "BAD_REQUEST")


async def test_a_broken_multipart_body_is_a_bad_request(gql: GraphQL, world: World) -> None:
    response = await gql.http.post(
        "/graphql",
        content=b"--b\r\nContent-Disposition: form-data; name=operations\r\n\r\nunterminated",
        headers={
            "Authorization": f"Bearer {world.member.token}",
            "Content-Type": "multipart/form-data; boundary=b",
        },
    )
    coded(response, 400, "BAD_REQUEST")


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH", "OPTIONS"])
async def test_another_method_is_a_json_405_that_says_which_are_allowed(
    gql: GraphQL, method: str
) -> None:
    response = await gql.http.request(method, "/graphql")
    coded(response, 405, "METHOD_NOT_ALLOWED")
    assert set(response.headers["allow"].replace(" ", "").split(",")) >= {"GET", "POST"}


async def test_an_unknown_path_is_a_json_404(gql: GraphQL) -> None:
    coded(await gql.http.get("/nowhere"), 404, "NOT_FOUND")


@pytest.fixture
async def small_uploads(database: str) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(
        database_url=database, environment=Environment.TEST, rate_limit_per_minute=0,
        max_upload_mb=1,
    )  # fmt: skip
    transport = httpx.ASGITransport(app=create_app(settings, manage_database=False))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


async def test_a_chunked_body_is_counted_as_it_streams_and_refused_past_the_limit(
    small_uploads: httpx.AsyncClient, world: World
) -> None:
    sent = 0

    async def chunks() -> AsyncIterator[bytes]:
        nonlocal sent
        yield b'{"query": "{ __typename }", "variables": {"pad": "'
        for _ in range(64):  # 4 MiB, past the 2 MiB a request may be with MAX_UPLOAD_MB=1
            sent += 65536
            yield b"x" * 65536
        yield b'"}}'

    response = await small_uploads.post(
        "/graphql",
        content=chunks(),
        headers={
            "Authorization": f"Bearer {world.member.token}",
            "Content-Type": "application/json",
        },
    )
    assert "Content-Length" not in response.request.headers
    coded(response, 413, "PAYLOAD_TOO_LARGE")
    assert sent <= 3 * 1024 * 1024  # reading stopped soon after the limit, not at the end


async def test_a_chunked_body_within_the_limit_is_served(
    small_uploads: httpx.AsyncClient, world: World
) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"query": "{ __typename }"'
        yield b"}"

    response = await small_uploads.post(
        "/graphql",
        content=chunks(),
        headers={
            "Authorization": f"Bearer {world.member.token}",
            "Content-Type": "application/json",
        },
    )
    assert response.json() == {"data": {"__typename": "Query"}}


async def test_an_unexpected_failure_outside_graphql_is_a_json_500_that_reveals_nothing(
    gql: GraphQL, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(token: str) -> None:
        raise RuntimeError('secret at File "/srv/app.py": SELECT * FROM api_token')

    monkeypatch.setattr(app_module, "authenticate", broken)
    response = await gql.http.post(
        "/graphql",
        json={"query": "{ __typename }"},
        headers={"Authorization": f"Bearer {world.member.token}"},
    )
    coded(response, 500, "INTERNAL_SERVER_ERROR")
    for leak in ("secret", "SELECT", ".py", "Traceback"):
        assert leak not in response.text


async def test_a_client_that_disconnects_mid_request_is_no_error_and_nothing_runs(
    settings: Settings, world: World, caplog: pytest.LogCaptureFixture
) -> None:
    app = create_app(settings, manage_database=False)
    body = json.dumps({"query": 'mutation { createBucket(name: "Half") { id } }'}).encode()
    disconnect: dict[str, object] = {"type": "http.disconnect"}
    messages: list[dict[str, object]] = [
        {"type": "http.request", "body": body[:10], "more_body": True},
        disconnect,
    ]
    sent: list[dict[str, object]] = []

    async def receive() -> dict[str, object]:
        return messages.pop(0) if messages else disconnect

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/graphql",
        "raw_path": b"/graphql",
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"test"),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"authorization", f"Bearer {world.member.token}".encode()),
        ],
        "client": ("127.0.0.1", 1234),
        "server": ("test", 80),
    }
    with caplog.at_level(logging.INFO):
        await app(scope, receive, send)  # type: ignore[arg-type]
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []
    assert "client disconnected mid-request" in caplog.messages
    assert not await Bucket.exists(name="Half")
