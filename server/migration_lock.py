"""One migrator at a time per database, so that processes started together all succeed.

Replicas, workers and `migrate` jobs of a deploy start at the same moment, and each applies
pending migrations first. Tortoise's migrate neither locks nor re-checks: two of them on
one database both run the same DDL, and one fails (`relation ... already exists`). So the
whole migrate runs under a lock; the others wait for it, then find nothing to do.

- PostgreSQL: a session-level advisory lock on a connection of its own, outside Tortoise's
  pool (whose connections keep no session state, see server/db.py). PostgreSQL releases it
  when that session ends, so a migrator killed while holding it blocks nobody.
- SQLite: an exclusive `flock` on a file beside the database (`<database>.migrate.lock`),
  which the kernel releases when the process dies. The file itself stays: removing a lock
  file while another process opens it would let two processes hold two different locks.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import importlib
import os
from collections.abc import AsyncIterator, Callable
from typing import Any

from tortoise.backends.base.config_generator import expand_db_url

# Any fixed 64-bit number does; this one is "contacts" in ASCII. The app's transaction-level
# locks use the two-key form (server/tallies.py), a space of its own in PostgreSQL.
ADVISORY_LOCK_KEY = 0x636F6E7461637473
LOCK_FILE_SUFFIX = ".migrate.lock"
# How often a waiting SQLite migrator tries the file lock again.
FILE_LOCK_POLL_SECONDS = 0.05


class MigrationLockTimeout(Exception):
    """Another process held the migration lock for longer than the timeout."""

    def __init__(self, lock: str, wait_seconds: float) -> None:
        super().__init__(
            f"Gave up waiting for the migration lock ({lock}) after {wait_seconds:g} s: another "
            "process is migrating this database, or is stuck doing so. Nothing was changed; "
            "raise MIGRATION_LOCK_TIMEOUT to wait longer."
        )
        self.lock = lock


def describe_lock(database_url: str) -> str | None:
    """The lock that migrations of `database_url` take, as messages name it; None: no lock."""
    if database_url.startswith("postgres://"):
        return f"PostgreSQL advisory lock {ADVISORY_LOCK_KEY}"
    path = _sqlite_path(database_url)
    return None if path is None else f"file lock {path}{LOCK_FILE_SUFFIX}"


def _sqlite_path(database_url: str) -> str | None:
    path = database_url.removeprefix("sqlite://").split("?", 1)[0]
    # An in-memory database belongs to one process: there is nobody to wait for.
    return None if not path or path == ":memory:" else path


@contextlib.asynccontextmanager
async def migration_lock(
    database_url: str, wait_seconds: float, on_wait: Callable[[str], object] | None = None
) -> AsyncIterator[None]:
    """Hold the database's migration lock for the body, waiting up to `wait_seconds` seconds
    for it (`MigrationLockTimeout` after that); `on_wait(lock)` is called once if it is
    taken by another process, so that a waiting process can say why it waits."""
    lock = describe_lock(database_url)
    if lock is None:
        yield
    elif database_url.startswith("postgres://"):
        async with _advisory_lock(database_url, lock, wait_seconds, on_wait):
            yield
    else:
        async with _file_lock(
            f"{_sqlite_path(database_url)}{LOCK_FILE_SUFFIX}", lock, wait_seconds, on_wait
        ):
            yield


def _asyncpg() -> Any:
    # asyncpg ships no type information; an untyped import keeps mypy --strict clean.
    return importlib.import_module("asyncpg")


async def _connect(database_url: str) -> Any:
    credentials = expand_db_url(database_url)["credentials"]
    options = {
        key: credentials[key]
        for key in ("host", "port", "user", "password", "database", "ssl")
        if credentials.get(key) is not None
    }
    return await _asyncpg().connect(**options)


@contextlib.asynccontextmanager
async def _advisory_lock(
    database_url: str, lock: str, wait_seconds: float, on_wait: Callable[[str], object] | None
) -> AsyncIterator[None]:
    asyncpg = _asyncpg()
    connection = await _connect(database_url)
    try:
        if not await connection.fetchval("SELECT pg_try_advisory_lock($1)", ADVISORY_LOCK_KEY):
            if on_wait is not None:
                on_wait(lock)
            # PostgreSQL's own wait, bounded by lock_timeout: it takes the lock the moment
            # it is free, where polling would wait out its interval.
            milliseconds = max(1, round(wait_seconds * 1000))
            await connection.execute(
                "SELECT set_config('lock_timeout', $1, false)", f"{milliseconds}ms"
            )
            try:
                await connection.execute("SELECT pg_advisory_lock($1)", ADVISORY_LOCK_KEY)
            except asyncpg.LockNotAvailableError:
                raise MigrationLockTimeout(lock, wait_seconds) from None
        try:
            yield
        finally:
            await connection.execute("SELECT pg_advisory_unlock($1)", ADVISORY_LOCK_KEY)
    finally:
        # Ending the session releases the lock too, should the unlock above have failed.
        await connection.close()


@contextlib.asynccontextmanager
async def _file_lock(
    path: str, lock: str, wait_seconds: float, on_wait: Callable[[str], object] | None
) -> AsyncIterator[None]:
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        deadline = asyncio.get_running_loop().time() + wait_seconds
        waiting = False
        while True:
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if not waiting and on_wait is not None:
                    on_wait(lock)
                waiting = True
                if asyncio.get_running_loop().time() >= deadline:
                    raise MigrationLockTimeout(lock, wait_seconds) from None
                # Not a blocking flock: it would stop the event loop, and could not time out.
                await asyncio.sleep(FILE_LOCK_POLL_SECONDS)
        try:
            yield
        finally:
            fcntl.flock(descriptor, fcntl.LOCK_UN)
    finally:
        os.close(descriptor)
