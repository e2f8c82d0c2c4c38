"""Per-token rate limits (429 with Retry-After) and CORS for configured origins."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from conftest import World, count_statements
from pydantic import ValidationError

from server.app import create_app
from server.ratelimit import Decision, RateLimiter, window_for
from server.settings import Environment, Settings


def client_for(settings: Settings) -> httpx.AsyncClient:
    app = create_app(settings, manage_database=False)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


@pytest.fixture
async def strict(database: str) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(
        database_url=database,
        environment=Environment.TEST,
        rate_limit_per_minute=60,
        rate_limit_burst=3,
        cors_origins=("https://app.example",),
    )
    async with client_for(settings) as http:
        yield http


@pytest.mark.parametrize(
    ("per_minute", "burst", "window"),
    [
        (600, 100, "100 per 10 second"),  # the defaults: the same burst and steady rate
        (60, 3, "3 per 3 second"),
        (10, 10, "10 per 60 second"),
        (7, 3, "3 per 26 second"),  # 25.7 s rounded up: 6.9 a minute, never more than 7
        (11, 1, "1 per 6 second"),
        (1000, 7, "16 per 1 second"),  # a burst under a second's worth: a second's worth
    ],
)
def test_a_window_keeps_the_burst_and_never_exceeds_the_steady_rate(
    per_minute: int, burst: int, window: str
) -> None:
    assert str(window_for(per_minute, burst)) == window


def test_a_limiter_refuses_nonsense_settings() -> None:
    with pytest.raises(ValueError, match="per_minute"):
        RateLimiter(per_minute=0, burst=1)
    with pytest.raises(ValueError, match="burst"):
        RateLimiter(per_minute=1, burst=0)


async def decide(limiter: RateLimiter, token: str) -> Decision:
    decision = await limiter.check(token)
    assert decision is not None  # memory:// never fails
    return decision


async def test_a_window_frees_a_request_once_the_oldest_ages_out() -> None:
    limiter = RateLimiter(per_minute=120, burst=2)  # 2 per 1 s
    decisions = [await decide(limiter, "cs_one") for _ in range(3)]
    assert [d.allowed for d in decisions] == [True, True, False]
    assert [d.remaining for d in decisions] == [1, 0, 0]
    assert decisions[2].retry_after == 1
    assert (await decide(limiter, "cs_two")).allowed  # another token has its own window
    await asyncio.sleep(decisions[2].reset_after + 0.05)
    assert (await decide(limiter, "cs_one")).allowed


@pytest.mark.parametrize(
    "storage",
    ["redis://127.0.0.1:6379", "rediss://cache.internal:6380/2", "redis://:secret@cache:6379"],
)
def test_a_redis_storage_is_accepted(storage: str) -> None:
    assert Settings(rate_limit_storage=f" {storage} ").rate_limit_storage == storage


@pytest.mark.parametrize(
    "storage", ["", "memory", "memcached://cache:11211", "redis://", "redis://cache:port", "x"]
)
def test_another_storage_is_refused_with_what_to_write(storage: str) -> None:
    with pytest.raises(ValidationError, match=r"RATE_LIMIT_STORAGE must be memory:// or redis://"):
        Settings(rate_limit_storage=storage)


async def test_a_token_over_its_limit_gets_429_with_retry_after(
    world: World, strict: httpx.AsyncClient
) -> None:
    headers = {"Authorization": f"Bearer {world.member.token}"}
    body = {"query": "{ viewer { name } }"}
    for _ in range(3):
        assert (await strict.post("/graphql", json=body, headers=headers)).status_code == 200
    response = await strict.post("/graphql", json=body, headers=headers)
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) >= 1
    assert response.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
    other = {"Authorization": f"Bearer {world.admin.token}"}
    assert (await strict.post("/graphql", json=body, headers=other)).status_code == 200


async def test_every_answer_says_how_many_requests_are_left(
    world: World, strict: httpx.AsyncClient
) -> None:
    headers = {"Authorization": f"Bearer {world.member.token}", "Origin": "https://app.example"}
    body = {"query": "{ viewer { name } }"}
    answers = [await strict.post("/graphql", json=body, headers=headers) for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert [a.headers["RateLimit-Remaining"] for a in answers] == ["2", "1", "0", "0"]
    assert {a.headers["RateLimit-Limit"] for a in answers} == {"3"}
    assert {a.headers["RateLimit-Policy"] for a in answers} == {"3;w=3"}
    assert answers[3].headers["Retry-After"] == answers[3].headers["RateLimit-Reset"] == "3"
    # A script on an allowed origin may read them.
    exposed = answers[3].headers["access-control-expose-headers"].lower().split(", ")
    assert {"retry-after", "ratelimit-remaining", "ratelimit-reset"} <= set(exposed)


async def test_a_refusal_runs_no_sql_even_for_an_unknown_token(strict: httpx.AsyncClient) -> None:
    headers = {"Authorization": "Bearer cs_not-a-token-anyone-was-given"}
    body = {"query": "{ viewer { name } }"}
    statuses = [(await strict.post("/graphql", json=body, headers=headers)).status_code]
    statuses += [(await strict.post("/graphql", json=body, headers=headers)).status_code]
    statuses += [(await strict.post("/graphql", json=body, headers=headers)).status_code]
    with count_statements() as log:
        refused = await strict.post("/graphql", json=body, headers=headers)
    assert statuses == [401, 401, 401]
    assert refused.status_code == 429
    assert log.statements == []


async def test_a_preflight_from_an_allowed_origin_is_answered(strict: httpx.AsyncClient) -> None:
    response = await strict.options(
        "/graphql",
        headers={
            "Origin": "https://app.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "https://app.example"
    assert "authorization" in response.headers["access-control-allow-headers"].lower()


async def test_a_browser_app_may_send_a_request_id_and_read_the_one_it_gets(
    world: World, strict: httpx.AsyncClient
) -> None:
    preflight = await strict.options(
        "/graphql",
        headers={
            "Origin": "https://app.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type, x-request-id",
        },
    )
    assert preflight.status_code == 200
    assert "x-request-id" in preflight.headers["access-control-allow-headers"].lower()
    response = await strict.post(
        "/graphql",
        json={"query": "{ __typename }"},
        headers={
            "Origin": "https://app.example",
            "Authorization": f"Bearer {world.member.token}",
            "X-Request-ID": "from-the-app-1",
        },
    )
    assert response.headers["x-request-id"] == "from-the-app-1"
    exposed = response.headers["access-control-expose-headers"].lower().split(", ")
    assert {"x-request-id", "retry-after"} <= set(exposed)


async def test_a_preflight_from_another_origin_is_refused(strict: httpx.AsyncClient) -> None:
    response = await strict.options(
        "/graphql",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert response.status_code == 400
    assert "access-control-allow-origin" not in response.headers


async def test_cookies_are_never_credentials(world: World, strict: httpx.AsyncClient) -> None:
    cookie = f"Authorization=Bearer {world.member.token}; token={world.member.token}"
    response = await strict.post(
        "/graphql", json={"query": "{ viewer { name } }"}, headers={"Cookie": cookie}
    )
    assert response.status_code == 401


async def test_a_body_announced_larger_than_an_upload_may_be_is_refused_unread(
    world: World, database: str
) -> None:
    settings = Settings(
        database_url=database, environment=Environment.TEST, max_upload_mb=1,
        rate_limit_per_minute=0,
    )  # fmt: skip
    async with client_for(settings) as http:
        response = await http.post(
            "/graphql",
            content=b"x" * (3 * 1024 * 1024),
            headers={
                "Authorization": f"Bearer {world.member.token}",
                "Content-Type": "multipart/form-data; boundary=b",
            },
        )
    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE"
