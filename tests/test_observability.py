"""One JSON log line per request without secrets, request IDs, and Prometheus metrics."""

from __future__ import annotations

import json
import logging

import pytest
from conftest import GraphQL, World, gid

from server.observability import JsonFormatter

ARCHIVE = """mutation Tidy($ids: [ID!]) { archiveContacts(input: {selection: {ids: $ids}}) {
  succeeded } }"""


async def test_each_request_logs_one_line_with_its_operation_and_no_secrets(
    world: World, gql: GraphQL, caplog: pytest.LogCaptureFixture
) -> None:
    contact = await world.contact("Ada", "Secretname", emails=["ada@private.example"])
    with caplog.at_level(logging.INFO, logger="contacts_server.access"):
        response = await gql.http.post(
            "/graphql",
            json={"query": ARCHIVE, "variables": {"ids": [gid(contact)]}},
            headers={"Authorization": f"Bearer {world.member.token}", "X-Request-ID": "abc-123"},
        )
    assert response.headers["x-request-id"] == "abc-123"
    records = [r for r in caplog.records if r.name == "contacts_server.access"]
    assert len(records) == 1
    line = JsonFormatter().format(records[0])
    entry = json.loads(line)
    assert {k: entry[k] for k in ("request_id", "method", "path", "status", "operation")} == {
        "request_id": "abc-123",
        "method": "POST",
        "path": "/graphql",
        "status": 200,
        "operation": "Tidy",
    }
    assert entry["user_id"] == world.member.user.id
    assert entry["duration_ms"] >= 0
    for secret in (world.member.token, "Secretname", "private.example", gid(contact)):
        assert secret not in line


async def test_a_request_without_an_id_gets_a_fresh_one(gql: GraphQL) -> None:
    first = await gql.http.get("/healthz")
    second = await gql.http.get("/healthz", headers={"X-Request-ID": "bad id with spaces"})
    assert len(first.headers["x-request-id"]) == 32
    assert second.headers["x-request-id"] not in (
        "bad id with spaces",
        first.headers["x-request-id"],
    )


def value(text: str, sample: str) -> float:
    """A sample's value in a /metrics exposition; 0 when it is not there yet."""
    for line in text.splitlines():
        if line.startswith(sample + " "):
            return float(line.split()[-1])
    return 0.0


async def test_metrics_count_requests_and_per_item_results_by_type(
    world: World, gql: GraphQL
) -> None:
    blocked = await world.contact(assignee=world.member)
    free = await world.contact()

    archived = (
        'contacts_item_results_total{payload="ArchiveContactsPayload",result="ContactArchived"}'
    )
    refused = (
        'contacts_item_results_total{payload="ArchiveContactsPayload",'
        'result="ArchiveBlockedByAssignee"}'
    )
    before = (await gql.http.get("/metrics")).text
    await gql(ARCHIVE, {"ids": [gid(blocked), gid(free)]}, as_=world.member)
    response = await gql.http.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    after = response.text
    assert value(after, archived) == value(before, archived) + 1
    assert value(after, refused) == value(before, refused) + 1
    assert "contacts_http_request_duration_seconds_bucket" in after
    assert 'contacts_http_requests_total{method="POST",path="/graphql",status="200"}' in after


async def test_a_dry_run_is_counted_apart_from_the_results_that_happened(
    world: World, gql: GraphQL
) -> None:
    blocked = await world.contact(assignee=world.member)
    free = await world.contact()

    labels = '{payload="ArchiveContactsPayload",result="ContactArchived"}'
    real, predicted = (
        f"contacts_item_results_total{labels}",
        f"contacts_dry_run_results_total{labels}",
    )
    before = (await gql.http.get("/metrics")).text
    await gql(
        """mutation ($ids: [ID!]) { archiveContacts(input: {selection: {ids: $ids}, dryRun: true})
        { succeeded } }""",
        {"ids": [gid(blocked), gid(free)]},
        as_=world.member,
    )
    after = (await gql.http.get("/metrics")).text
    assert value(after, predicted) == value(before, predicted) + 1
    assert value(after, real) == value(before, real)
