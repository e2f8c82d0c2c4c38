"""Per-token rate limits (429 with Retry-After) and CORS for configured origins."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from conftest import World

from server.app import create_app
from server.ratelimit import RateLimiter
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


def test_a_bucket_refills_at_its_rate() -> None:
    now = [0.0]
    limiter = RateLimiter(per_minute=60, burst=2, clock=lambda: now[0])
    assert limiter.retry_after(1) is None
    assert limiter.retry_after(1) is None
    assert limiter.retry_after(1) == pytest.approx(1.0)
    assert limiter.retry_after(2) is None  # another token has its own bucket
    now[0] = 1.0
    assert limiter.retry_after(1) is None


def test_a_limiter_refuses_nonsense_settings() -> None:
    with pytest.raises(ValueError, match="per_minute"):
        RateLimiter(per_minute=0, burst=1)
    with pytest.raises(ValueError, match="burst"):
        RateLimiter(per_minute=1, burst=0)


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
