"""The per-token rate limit: a moving window (the `limits` package), counted in this process
or in Redis shared by every process and replica (RATE_LIMIT_STORAGE).

The window is derived from RATE_LIMIT_PER_MINUTE and RATE_LIMIT_BURST (see `window_for`): a
token may send BURST requests at once and, over any longer stretch, no more than the steady
rate. Requests are counted by a hash of the bearer token, before it is authenticated, so that
refusing one costs no database query and Redis never sees a token.

When the storage cannot be reached the limiter fails open: the request is served, counted in
a metric, and a warning (never with a token) is logged at most once a minute.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from dataclasses import dataclass
from typing import Any

from limits import RateLimitItem, RateLimitItemPerSecond
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import StorageError
from limits.storage import storage_from_string
from redis.asyncio import ConnectionPool

from server.metrics import RATE_LIMIT_STORAGE_ERRORS

log = logging.getLogger("contacts_server.ratelimit")

# A Redis that has not answered in this long counts as unreachable: the request goes on
# without the limit rather than waiting for it.
REDIS_TIMEOUT_SECONDS = 0.25
# Keys in a shared Redis are recognisably ours.
REDIS_KEY_PREFIX = "contacts-server"
WARNING_INTERVAL_SECONDS = 60.0


def window_for(per_minute: int, burst: int) -> RateLimitItem:
    """`burst` requests per `60 * burst / per_minute` seconds: the same burst and the same
    steady rate as a token bucket of that size refilling at `per_minute`.

    A window is whole seconds (so is a Redis expiry). When `60 * burst / per_minute` is not
    whole, it is rounded up and the amount is what the steady rate allows in it, rounded
    down: the average never exceeds `per_minute`, and the burst grows by less than one
    second's worth of it.
    """
    if per_minute <= 0:
        raise ValueError("per_minute must be positive; leave the limiter out to turn it off")
    if burst < 1:
        raise ValueError("burst must be at least 1")
    seconds = math.ceil(60 * burst / per_minute)
    amount = max(1, per_minute * seconds // 60)
    return RateLimitItemPerSecond(amount, seconds, namespace="token")


def limits_uri(storage: str) -> str:
    """RATE_LIMIT_STORAGE (memory://, redis://, rediss://) as the `limits` asyncio URI."""
    return "async+" + storage


def token_key(token: str) -> str:
    """What the limit is counted by: the token's SHA-256, never the token itself."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    # Seconds until the oldest request in the window ages out: one more may be sent then.
    reset_after: float
    window_seconds: int

    @property
    def retry_after(self) -> int:
        """Whole seconds for Retry-After (at least 1, never early)."""
        return max(1, math.ceil(self.reset_after))

    def headers(self) -> dict[str, str]:
        """RateLimit-* headers (IETF httpapi draft) a client can pace itself with."""
        return {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(max(0, math.ceil(self.reset_after))),
            "RateLimit-Policy": f"{self.limit};w={self.window_seconds}",
        }


class RateLimiter:
    def __init__(self, per_minute: int, burst: int, storage: str = "memory://") -> None:
        self.item = window_for(per_minute, burst)
        # Ours, so that aclose() can close its connections (limits' storage has no close).
        self._pool: ConnectionPool | None = None
        options: dict[str, Any] = {}
        if not storage.startswith("memory://"):
            self._pool = ConnectionPool.from_url(
                storage,
                socket_timeout=REDIS_TIMEOUT_SECONDS,
                socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
            )
            options = {
                "implementation": "redispy",
                "connection_pool": self._pool,
                "key_prefix": REDIS_KEY_PREFIX,
            }
        # wrap_exceptions: every storage failure arrives as one StorageError, whatever the
        # client library raised.
        backend = storage_from_string(limits_uri(storage), wrap_exceptions=True, **options)
        self.strategy = MovingWindowRateLimiter(backend)
        self._last_warning: float | None = None

    async def aclose(self) -> None:
        """Close the connections to Redis (at shutdown); memory:// has none."""
        if self._pool is not None:
            await self._pool.disconnect()

    async def check(self, token: str) -> Decision | None:
        """Count one request for `token`; None when the storage failed (serve it anyway)."""
        key = token_key(token)
        try:
            allowed = await self.strategy.hit(self.item, key)
            stats = await self.strategy.get_window_stats(self.item, key)
        except StorageError as error:
            self._storage_failed(error)
            return None
        return Decision(
            allowed=allowed,
            limit=self.item.amount,
            remaining=max(0, stats.remaining),
            reset_after=max(0.0, stats.reset_time - time.time()),
            window_seconds=self.item.get_expiry(),
        )

    def _storage_failed(self, error: StorageError) -> None:
        RATE_LIMIT_STORAGE_ERRORS.inc()
        now = time.monotonic()
        if self._last_warning is not None and now - self._last_warning < WARNING_INTERVAL_SECONDS:
            return
        self._last_warning = now
        # The client's message names the host and the failure, never a key (a token's hash).
        cause = error.storage_error
        log.warning(
            "The rate limit storage (RATE_LIMIT_STORAGE) failed: %s: %s. Requests are served "
            "without a rate limit until it answers (counted in "
            "contacts_rate_limit_storage_errors_total; this warning repeats at most once a "
            "minute).",
            type(cause).__name__,
            cause,
        )
