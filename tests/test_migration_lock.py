"""Migrations run once, under a lock: processes started together on one database all succeed.

Every test runs real `contacts-server` processes on a database of its own: an empty
PostgreSQL database on the suite's cluster, or a fresh SQLite file. A lock "held by another
migrator" is a helper process that takes the real lock (server.migration_lock) and keeps it
until it is killed with SIGKILL.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sqlite3
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pgcluster
import pytest
from test_cli import Ran, cli_environment, free_port, start, stop

from server.migration_lock import ADVISORY_LOCK_KEY, LOCK_FILE_SUFFIX

TIMEOUT = 90.0
MIGRATIONS = [
    "0001_initial",
    "0002_contact_handles",
    "0003_audit_entries",
    "0004_contact_tallies",
]
APPLIED_ALL = f"Applied 4 migration(s): {', '.join(MIGRATIONS)}."
UP_TO_DATE = "The database is up to date: no migration to apply."
# The tables of the models (server/models.py) and of 0004's tally, and Tortoise's record.
TABLES = {
    "api_token", "app_user", "audit_entry", "bucket", "contact", "contact_bucket",
    "contact_handle", "contact_tag", "contact_tally", "interaction", "saved_audience",
    "stage", "suppression", "tag", "tortoise_migrations", "workspace",
}  # fmt: skip

HOLD_LOCK = """
import asyncio, sys
from server.migration_lock import migration_lock

async def hold(url):
    async with migration_lock(url, 30):
        print("held", flush=True)
        await asyncio.sleep(3600)

asyncio.run(hold(sys.argv[1]))
"""

MIGRATE_TO = """
import asyncio, sys
from tortoise.migrations.api import migrate
from server.db import tortoise_config
asyncio.run(migrate(config=tortoise_config(sys.argv[1]), target=sys.argv[2]))
"""


@pytest.fixture
def empty_postgres(database: str) -> Iterator[str]:
    """A new, empty database beside the suite's, dropped afterwards."""
    with pgcluster.database_on_server(database) as url:
        yield url


async def finish(process: asyncio.subprocess.Process) -> Ran:
    out, err = await asyncio.wait_for(process.communicate(), TIMEOUT)
    assert process.returncode is not None
    return Ran(process.returncode, out.decode(), err.decode())


async def migrate_together(url: str, cwd: Path, count: int = 4, **env: str) -> list[Ran]:
    """`count` migrate processes, started before any of them has had time to connect."""
    processes = [
        await start("--database-url", url, "migrate", cwd=cwd, **env) for _ in range(count)
    ]
    return list(await asyncio.gather(*(finish(process) for process in processes)))


def outcomes(ran: list[Ran]) -> list[tuple[int, str]]:
    """Each process's exit code and last line, in a stable order."""
    return sorted(
        (r.code, r.stdout.strip().splitlines()[-1] if r.stdout.strip() else r.stderr) for r in ran
    )


async def postgres_rows(url: str, statement: str) -> list[tuple[object, ...]]:
    connection = await pgcluster.connect(url)
    try:
        return [tuple(row) for row in await connection.fetch(statement)]
    finally:
        await connection.close()


async def postgres_tables(url: str) -> set[str]:
    rows = await postgres_rows(url, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    return {str(name) for (name,) in rows}


async def postgres_records(url: str) -> list[tuple[object, ...]]:
    return await postgres_rows(url, "SELECT app, name FROM tortoise_migrations ORDER BY app, name")


def sqlite_rows(path: Path, statement: str) -> list[tuple[object, ...]]:
    with contextlib.closing(sqlite3.connect(path)) as connection:
        return list(connection.execute(statement))


@contextlib.asynccontextmanager
async def lock_holder(url: str, cwd: Path) -> AsyncIterator[asyncio.subprocess.Process]:
    """A process holding the migration lock of `url`; SIGKILLed at the end if still alive."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", HOLD_LOCK, url,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        cwd=cwd, env=cli_environment(),
    )  # fmt: skip
    try:
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), TIMEOUT)
        assert line == b"held\n", (line, await process.stderr.read() if process.stderr else b"")
        yield process
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


def killed(process: asyncio.subprocess.Process) -> None:
    os.kill(process.pid, signal.SIGKILL)


# ---------------------------------------------------------------- PostgreSQL


@pytest.mark.postgres_only
async def test_four_migrate_processes_started_together_on_an_empty_database_all_succeed(
    empty_postgres: str, tmp_path: Path
) -> None:
    ran = await migrate_together(empty_postgres, tmp_path)

    assert outcomes(ran) == [(0, APPLIED_ALL), (0, UP_TO_DATE), (0, UP_TO_DATE), (0, UP_TO_DATE)]
    assert all(r.stderr == "" for r in ran), [r.stderr for r in ran]
    assert await postgres_records(empty_postgres) == [("models", name) for name in MIGRATIONS]
    assert await postgres_tables(empty_postgres) == TABLES


@pytest.mark.postgres_only
async def test_four_migrate_processes_started_together_with_one_migration_pending_apply_it_once(
    empty_postgres: str, tmp_path: Path
) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", MIGRATE_TO, empty_postgres, "models.0003_audit_entries",
        cwd=tmp_path, env=cli_environment(),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert (await finish(process)).code == 0
    assert "contact_tally" not in await postgres_tables(empty_postgres)

    ran = await migrate_together(empty_postgres, tmp_path)

    applied_one = "Applied 1 migration(s): 0004_contact_tallies."
    assert outcomes(ran) == [(0, applied_one), (0, UP_TO_DATE), (0, UP_TO_DATE), (0, UP_TO_DATE)]
    assert await postgres_records(empty_postgres) == [("models", name) for name in MIGRATIONS]
    assert await postgres_tables(empty_postgres) == TABLES


@pytest.mark.postgres_only
async def test_migrate_and_serve_processes_started_together_all_succeed_and_serve_is_ready(
    empty_postgres: str, tmp_path: Path
) -> None:
    ports = [free_port(), free_port()]
    servers = [
        await start("--database-url", empty_postgres, "serve", "--port", str(port),
                    cwd=tmp_path, LOG_LEVEL="WARNING")
        for port in ports
    ]  # fmt: skip
    try:
        ran = await migrate_together(empty_postgres, tmp_path, count=2)
        said = [await migration_outcome(server) for server in servers]
        for port in ports:
            assert await ready(port, TIMEOUT) == 200
    finally:
        for server in servers:
            await stop(server)

    assert [r.code for r in ran] == [0, 0], [r.stderr for r in ran]
    assert sorted([r.stdout.splitlines()[-1] for r in ran] + said) == [
        APPLIED_ALL,
        UP_TO_DATE,
        UP_TO_DATE,
        UP_TO_DATE,
    ]
    assert await postgres_records(empty_postgres) == [("models", name) for name in MIGRATIONS]


async def migration_outcome(server: asyncio.subprocess.Process) -> str:
    """What `serve` printed about migrations, after any line saying that it waits."""
    assert server.stdout is not None
    while True:
        line = (await asyncio.wait_for(server.stdout.readline(), TIMEOUT)).decode()
        assert line, "serve ended before it migrated"
        if not line.startswith("Waiting for another process's migrations"):
            return line.rstrip("\n")


async def ready(port: int, within: float) -> int | None:
    """/readyz's status once the server answers, or None if it never does within `within`."""
    deadline = time.monotonic() + within
    async with httpx.AsyncClient() as http:
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.TransportError):
                return (await http.get(f"http://127.0.0.1:{port}/readyz", timeout=2)).status_code
            await asyncio.sleep(0.1)
    return None


@pytest.mark.postgres_only
async def test_serve_waits_for_a_held_migration_lock_and_is_ready_once_it_is_released(
    empty_postgres: str, tmp_path: Path
) -> None:
    port = free_port()
    async with lock_holder(empty_postgres, tmp_path) as holder:
        server = await start(
            "--database-url", empty_postgres, "serve", "--port", str(port),
            cwd=tmp_path, LOG_LEVEL="WARNING",
        )  # fmt: skip
        try:
            assert server.stdout is not None
            line = await asyncio.wait_for(server.stdout.readline(), TIMEOUT)
            assert line.decode() == (
                "Waiting for another process's migrations "
                f"(PostgreSQL advisory lock {ADVISORY_LOCK_KEY}).\n"
            )
            # Not serving while it waits: it has not migrated yet.
            assert await ready(port, 2) is None
            killed(holder)
            await holder.wait()
            assert (await asyncio.wait_for(server.stdout.readline(), TIMEOUT)).decode() == (
                APPLIED_ALL + "\n"
            )
            assert await ready(port, TIMEOUT) == 200
        finally:
            await stop(server)


@pytest.mark.postgres_only
async def test_a_migrator_killed_while_holding_the_lock_does_not_block_the_next_migrate(
    empty_postgres: str, tmp_path: Path
) -> None:
    async with lock_holder(empty_postgres, tmp_path) as holder:
        killed(holder)
        assert await holder.wait() == -signal.SIGKILL

    started = time.monotonic()
    (ran,) = await migrate_together(empty_postgres, tmp_path, count=1, MIGRATION_LOCK_TIMEOUT="30")

    assert (ran.code, ran.stdout, ran.stderr) == (0, APPLIED_ALL + "\n", "")
    # PostgreSQL ended the killed session at once: no waiting for the timeout.
    assert time.monotonic() - started < 20
    assert await postgres_tables(empty_postgres) == TABLES


@pytest.mark.postgres_only
async def test_a_lock_held_beyond_the_timeout_makes_migrate_fail_naming_the_lock_and_change_nothing(
    empty_postgres: str, tmp_path: Path
) -> None:
    async with lock_holder(empty_postgres, tmp_path):
        started = time.monotonic()
        (ran,) = await migrate_together(
            empty_postgres, tmp_path, count=1, MIGRATION_LOCK_TIMEOUT="1.5"
        )
        waited = time.monotonic() - started

    lock = f"PostgreSQL advisory lock {ADVISORY_LOCK_KEY}"
    assert ran.code == 1
    assert ran.stdout == f"Waiting for another process's migrations ({lock}).\n"
    assert ran.stderr == (
        f"Error: Gave up waiting for the migration lock ({lock}) after 1.5 s: another "
        "process is migrating this database, or is stuck doing so. Nothing was changed; "
        "raise MIGRATION_LOCK_TIMEOUT to wait longer.\n"
    )
    assert waited >= 1.5
    assert await postgres_tables(empty_postgres) == set()


# ---------------------------------------------------------------- SQLite (one file)


@pytest.mark.sqlite_only
async def test_four_migrate_processes_started_together_on_one_new_sqlite_file_all_succeed(
    tmp_path: Path,
) -> None:
    path = tmp_path / "data" / "contacts.sqlite3"

    ran = await migrate_together(f"sqlite://{path}", tmp_path)

    assert outcomes(ran) == [(0, APPLIED_ALL), (0, UP_TO_DATE), (0, UP_TO_DATE), (0, UP_TO_DATE)]
    records = sqlite_rows(path, "SELECT app, name FROM tortoise_migrations ORDER BY app, name")
    assert records == [("models", name) for name in MIGRATIONS]


@pytest.mark.sqlite_only
async def test_a_file_lock_held_beyond_the_timeout_makes_migrate_fail_and_change_nothing(
    tmp_path: Path,
) -> None:
    path = tmp_path / "contacts.sqlite3"
    url = f"sqlite://{path}"
    async with lock_holder(url, tmp_path):
        (ran,) = await migrate_together(url, tmp_path, count=1, MIGRATION_LOCK_TIMEOUT="1")

    lock = f"file lock {path}{LOCK_FILE_SUFFIX}"
    assert ran.code == 1
    assert ran.stdout == f"Waiting for another process's migrations ({lock}).\n"
    assert ran.stderr == (
        f"Error: Gave up waiting for the migration lock ({lock}) after 1 s: another "
        "process is migrating this database, or is stuck doing so. Nothing was changed; "
        "raise MIGRATION_LOCK_TIMEOUT to wait longer.\n"
    )
    assert not path.exists() or sqlite_rows(path, "SELECT name FROM sqlite_master") == []


@pytest.mark.sqlite_only
async def test_a_migrator_killed_while_holding_the_file_lock_does_not_block_the_next_migrate(
    tmp_path: Path,
) -> None:
    url = f"sqlite://{tmp_path / 'contacts.sqlite3'}"
    async with lock_holder(url, tmp_path) as holder:
        killed(holder)
        assert await holder.wait() == -signal.SIGKILL

    (ran,) = await migrate_together(url, tmp_path, count=1, MIGRATION_LOCK_TIMEOUT="5")

    assert (ran.code, ran.stdout, ran.stderr) == (0, APPLIED_ALL + "\n", "")


@pytest.mark.sqlite_only
@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("0", "Input should be greater than 0"),
        ("soon", "Input should be a valid number, unable to parse string as a number"),
    ],
)
async def test_a_migration_lock_timeout_that_is_not_a_positive_number_is_a_configuration_error(
    tmp_path: Path, value: str, says: str
) -> None:
    path = tmp_path / "contacts.sqlite3"

    (ran,) = await migrate_together(f"sqlite://{path}", tmp_path, 1, MIGRATION_LOCK_TIMEOUT=value)

    assert (ran.code, ran.stdout) == (2, "")
    assert ran.stderr == f"Error: Invalid configuration: MIGRATION_LOCK_TIMEOUT: {says}\n"
    assert not path.exists()
