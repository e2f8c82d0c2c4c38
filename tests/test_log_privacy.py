"""CONTRACT.md, "Privacy of logs": no token, query text, variables or personal data in any
log line below DEBUG, for any request, good or bad; a client's mistake is not an ERROR."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import GraphQL, World
from demo_server import demo_server

import server.ids
from server.observability import WITHHELD, JsonFormatter, traceback_without_messages

# What clients put in their requests, each of which must never reach the log.
SECRET_NAME = "Zebediah Quackenbush"
SECRET_EMAIL = "zebediah.private@example.org"
SECRET_CURSOR = "cursor-of-zebediah"
SECRET_TOKEN = "cs_notarealtokenbutsecretanyway0123456789"

BAD_REQUESTS: list[tuple[str, dict[str, Any]]] = [
    # first: 501 (above the page limit), with a search for a person.
    (
        "client asks for too big a page",
        {"query": f'{{ contacts(first: 501, filter: {{search: "{SECRET_NAME}"}}) '
                  "{ totalCount } }"},
    ),
    ("client sends a bad cursor", {"query": f'{{ contacts(after: "{SECRET_CURSOR}") '
                                            "{ totalCount } }"}),
    (
        "client's query does not parse",
        {"query": f'{{ contacts(filter: {{search: "{SECRET_EMAIL}"}} {{ totalCount }}'},
    ),
    (
        "client names a field that does not exist",
        {"query": f'{{ contacts(filter: {{search: "{SECRET_NAME}"}}) {{ nope }} }}'},
    ),
    (
        "client's variable has the wrong type",
        {
            "query": "query ($f: Int) { contacts(first: $f) { totalCount } }",
            "variables": {"f": SECRET_EMAIL},
        },
    ),
    (
        "client's input breaks a rule",
        {
            "query": "mutation ($i: ContactInput!) { createContact(input: $i) { __typename } }",
            "variables": {"i": {"firstName": SECRET_NAME, "emails": [SECRET_EMAIL + "@@"]}},
        },
    ),
]  # fmt: skip


def test_no_request_good_or_bad_writes_a_secret_or_an_error_line_to_the_log(
    tmp_path: Path,
) -> None:
    with demo_server(tmp_path, LOG_LEVEL="INFO") as server:
        good = {"Authorization": f"Bearer {server.token}"}
        for _, body in BAD_REQUESTS:
            httpx.post(server.url, json=body, headers=good, timeout=30)
        fine = httpx.post(
            server.url,
            json={"query": f'{{ contacts(filter: {{search: "{SECRET_NAME}"}}) {{ totalCount }} }}'},
            headers=good,
            timeout=30,
        )
        assert fine.json() == {"data": {"contacts": {"totalCount": 0}}}
        unknown = httpx.post(
            server.url,
            json={"query": "{ viewer { name } }"},
            headers={"Authorization": f"Bearer {SECRET_TOKEN}"},
            timeout=30,
        )
        assert unknown.status_code == 401
        broken = httpx.post(
            server.url,
            content=f'{{"query": "{SECRET_NAME}',
            headers={**good, "Content-Type": "application/json"},
            timeout=30,
        )
        assert broken.status_code == 400
        token = server.token
    log = server.stderr.text
    entries = [json.loads(line) for line in server.stderr.lines]
    requests = [entry for entry in entries if entry["logger"] == "contacts_server.access"]
    assert len(requests) >= len(BAD_REQUESTS) + 3
    assert [entry for entry in entries if entry["level"] in {"ERROR", "CRITICAL"}] == []
    for secret in (SECRET_NAME, SECRET_EMAIL, SECRET_CURSOR, SECRET_TOKEN, token, "contacts("):
        assert secret not in log


async def test_an_unexpected_error_is_logged_with_its_request_id_and_frames_not_its_message(
    world: World,
    gql: GraphQL,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken_decode(value: str, kind: str) -> int:
        raise RuntimeError(f"cannot decode {value} for {SECRET_EMAIL}")

    monkeypatch.setattr(server.ids, "decode", broken_decode)
    with caplog.at_level(logging.INFO):
        response = await gql.http.post(
            "/graphql",
            json={"query": f'{{ contact(id: "{SECRET_CURSOR}") {{ id }} }}'},
            headers={"Authorization": f"Bearer {world.member.token}", "X-Request-ID": "req-42"},
        )
    body = response.json()
    assert body["errors"][0]["extensions"] == {"code": "INTERNAL_SERVER_ERROR"}
    assert SECRET_EMAIL not in response.text
    logged = [record for record in caplog.records if record.levelno >= logging.WARNING]
    assert [(record.name, record.levelname) for record in logged] == [
        ("contacts_server.errors", "ERROR")
    ]
    line = JsonFormatter().format(logged[0])
    entry = json.loads(line)
    assert entry["request_id"] == "req-42"
    assert entry["message"] == "unexpected error"
    assert "in broken_decode" in entry["exception"]
    assert f"builtins.RuntimeError: {WITHHELD}" in entry["exception"]
    for secret in (SECRET_EMAIL, SECRET_CURSOR, world.member.token):
        assert secret not in line


async def test_a_client_error_is_logged_at_debug_only(
    world: World, gql: GraphQL, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG, logger="contacts_server.errors"):
        code, _, _ = await gql.error("{ contacts(first: 501) { totalCount } }", as_=world.member)
    assert code == "BAD_USER_INPUT"
    records = [
        r for r in caplog.records if r.name in {"contacts_server.errors", "strawberry.execution"}
    ]
    assert [(r.name, r.levelname) for r in records] == [("contacts_server.errors", "DEBUG")]


def test_a_traceback_above_debug_keeps_every_frame_and_type_and_no_message() -> None:
    def innermost() -> None:
        raise KeyError(SECRET_EMAIL)

    def outer() -> None:
        try:
            innermost()
        except KeyError as error:
            raise ValueError(SECRET_NAME) from error

    with pytest.raises(ValueError, match=SECRET_NAME) as caught:
        outer()
    text = traceback_without_messages(caught.value)
    assert SECRET_EMAIL not in text
    assert SECRET_NAME not in text
    cause, effect = text.split("The above exception was the direct cause")
    assert "in innermost" in cause
    assert cause.rstrip().endswith(f"builtins.KeyError: {WITHHELD}")
    assert "in innermost" not in effect
    assert effect.endswith(f"builtins.ValueError: {WITHHELD}")


def test_a_debug_line_keeps_the_whole_traceback_for_a_developer() -> None:
    try:
        raise RuntimeError(SECRET_NAME)
    except RuntimeError:
        record = logging.LogRecord(
            "x", logging.DEBUG, __file__, 1, "detail", None, exc_info=sys.exc_info()
        )
    assert f"RuntimeError: {SECRET_NAME}" in json.loads(JsonFormatter().format(record))["exception"]
