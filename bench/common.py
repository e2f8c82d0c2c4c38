"""Shared plumbing: raw database access, the server under test, timing and memory.

Everything here talks to 127.0.0.1 only, and every loop is bounded in count and time.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
RESULTS = BENCH / "results"
PYTHON = sys.executable
HOST = "127.0.0.1"

# ---------------------------------------------------------------- raw SQL on either database

_NUMBERED = re.compile(r"\$\d+")


class Store:
    """One raw connection (asyncpg or sqlite3) for building data and for the baselines.

    SQL is written with PostgreSQL's `$n` placeholders, used in order; on SQLite they
    become `?`.
    """

    dialect: str

    async def execute(self, sql: str, *args: Any) -> None:
        raise NotImplementedError

    async def fetch(self, sql: str, *args: Any) -> list[Any]:
        raise NotImplementedError

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        raise NotImplementedError

    async def close(self) -> None:
        raise NotImplementedError

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        await self.execute("BEGIN")
        try:
            yield
        except BaseException:
            await self.execute("ROLLBACK")
            raise
        await self.execute("COMMIT")

    def marks(self, start: int, count: int) -> str:
        """`$start, ..., $start+count-1` (or `?, ...` on SQLite)."""
        return ", ".join(f"${n}" for n in range(start, start + count))

    @property
    def is_postgres(self) -> bool:
        return self.dialect == "postgres"


class PgStore(Store):
    dialect = "postgres"

    def __init__(self, conn: Any) -> None:
        self.conn = conn

    @classmethod
    async def connect(cls, url: str) -> PgStore:
        import asyncpg

        conn = await asyncpg.connect(url.replace("postgres://", "postgresql://", 1))
        # asyncpg prepares every statement; after five runs PostgreSQL may switch to a generic
        # plan chosen with the statistics of when the workspace was empty, and then filter
        # `value = ANY(...)` over every handle of the workspace instead of seeking it. The
        # floor is the plan for the actual values.
        await conn.execute("SET plan_cache_mode = force_custom_plan")
        return cls(conn)

    async def execute(self, sql: str, *args: Any) -> None:
        await self.conn.execute(sql, *args)

    async def fetch(self, sql: str, *args: Any) -> list[Any]:
        return list(await self.conn.fetch(sql, *args))

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        await self.conn.executemany(sql, rows)

    async def copy(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        await self.conn.copy_records_to_table(table, records=rows, columns=list(columns))

    async def insert_many(
        self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]
    ) -> None:
        """One `INSERT ... SELECT FROM unnest(...)`: the cheapest way to write a few thousand
        rows in one round trip (COPY costs ~20 ms of set-up per call)."""
        if not rows:
            return
        types = await self._column_types(table)
        arrays = [list(column) for column in zip(*rows, strict=True)]
        casts = ", ".join(f"${n}::{types[c]}[]" for n, c in enumerate(columns, start=1))
        names = ", ".join(f'"{c}"' for c in columns)
        await self.conn.execute(
            f'INSERT INTO "{table}" ({names}) SELECT * FROM unnest({casts})', *arrays
        )

    async def _column_types(self, table: str) -> dict[str, str]:
        cache: dict[str, dict[str, str]] = self.__dict__.setdefault("_types", {})
        if table not in cache:
            rows = await self.conn.fetch(
                "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
                "WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped",
                table,
            )
            cache[table] = {r[0]: r[1] for r in rows}
        return cache[table]

    async def close(self) -> None:
        await self.conn.close()


class SqliteStore(Store):
    dialect = "sqlite"

    def __init__(self, path: str) -> None:
        self.conn = sqlite3.connect(path, isolation_level=None, timeout=30)
        self.conn.execute("PRAGMA foreign_keys=ON")
        self.conn.execute("PRAGMA busy_timeout=30000")

    @staticmethod
    def _sql(sql: str) -> str:
        return _NUMBERED.sub("?", sql)

    async def execute(self, sql: str, *args: Any) -> None:
        self.conn.execute(self._sql(sql), args)

    async def fetch(self, sql: str, *args: Any) -> list[Any]:
        return self.conn.execute(self._sql(sql), args).fetchall()

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self.conn.executemany(self._sql(sql), rows)

    async def copy(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        names = ", ".join(f'"{c}"' for c in columns)
        marks = ", ".join("?" for _ in columns)
        self.conn.executemany(f'INSERT INTO "{table}" ({names}) VALUES ({marks})', rows)

    async def insert_many(
        self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]
    ) -> None:
        await self.copy(table, columns, rows)

    async def close(self) -> None:
        self.conn.close()


async def open_store(url: str) -> Store:
    if url.startswith("sqlite://"):
        return SqliteStore(url.removeprefix("sqlite://"))
    return await PgStore.connect(url)


# ---------------------------------------------------------------- the app's own SQL


@dataclass
class Captured:
    statements: list[tuple[str, Any]] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.statements)

    def verbs(self) -> list[str]:
        return [sql.lstrip().split(" ", 1)[0].upper() for sql, _ in self.statements]


_VERBS = frozenset({"SELECT", "INSERT", "UPDATE", "DELETE", "WITH"})


class _Capture(logging.Handler):
    def __init__(self, log: Captured) -> None:
        super().__init__(logging.DEBUG)
        self.log = log

    def emit(self, record: logging.LogRecord) -> None:
        args = record.args if isinstance(record.args, tuple) else ()
        sql = str(args[0]) if args else record.getMessage()
        values = args[1] if len(args) > 1 else None
        if sql.lstrip().split(" ", 1)[0].upper() in _VERBS:
            self.log.statements.append((sql, values))


@contextlib.contextmanager
def capture_sql() -> Iterator[Captured]:
    """Every statement Tortoise sends in this process while the block runs, with its values."""
    logger = logging.getLogger("tortoise.db_client")
    log = Captured()
    handler = _Capture(log)
    previous, propagate = logger.level, logger.propagate
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    logger.addHandler(handler)
    try:
        yield log
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)
        logger.propagate = propagate


@contextlib.asynccontextmanager
async def tortoise_on(url: str) -> AsyncIterator[None]:
    """Tortoise connected to `url` in this process (for users, tokens and in-process runs)."""
    from server import db

    await db.connect(url)
    try:
        yield
    finally:
        await db.disconnect()


def app_settings(url: str) -> Any:
    from server.settings import Environment, Settings

    return Settings(
        database_url=url,
        environment=Environment.PRODUCTION,
        rate_limit_per_minute=0,
        log_level="WARNING",
    )


@contextlib.asynccontextmanager
async def in_process_client(url: str) -> AsyncIterator[httpx.AsyncClient]:
    """The real app over ASGI in this process (Tortoise must be connected: `tortoise_on`)."""
    from server.app import create_app

    app = create_app(app_settings(url), manage_database=False)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
        yield client


# ---------------------------------------------------------------- the server under test


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def server_env(url: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=url,
        ENVIRONMENT="production",
        RATE_LIMIT_PER_MINUTE="0",
        LOG_LEVEL="WARNING",
        PYTHONPATH=str(ROOT),
    )
    return env


class Server:
    """uvicorn serving server.app:create_app on 127.0.0.1, in a subprocess."""

    def __init__(self, url: str, workers: int = 1) -> None:
        self.url = url
        self.workers = workers
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = RESULTS / f"server-{self.port}.log"

    @property
    def endpoint(self) -> str:
        return f"http://{HOST}:{self.port}/graphql"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self) -> Server:
        RESULTS.mkdir(exist_ok=True)
        argv = [
            PYTHON,
            "-m",
            "uvicorn",
            "server.app:create_app",
            "--factory",
            "--host",
            HOST,
            "--port",
            str(self.port),
            "--workers",
            str(self.workers),
            "--log-level",
            "warning",
            "--no-access-log",
        ]
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(
                argv, cwd=ROOT, env=server_env(self.url), stdout=log, stderr=log
            )
        wait_http(f"http://{HOST}:{self.port}/readyz", self.proc, self.log)
        return self

    def worker_pids(self) -> list[int]:
        """The processes that serve requests (uvicorn's workers, or the server itself)."""
        import psutil

        parent = psutil.Process(self.pid)
        children = parent.children(recursive=True)
        # With --workers > 1 uvicorn also starts a resource tracker; workers run uvicorn.
        return [
            c.pid
            for c in children
            if "multiprocessing.resource_tracker" not in " ".join(c.cmdline())
        ] or [self.pid]

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
        with contextlib.suppress(OSError):
            self.log.unlink()

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def wait_http(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited ({proc.returncode}):\n{tail(log)}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=2).status_code == 200:
                return
        time.sleep(0.1)
    raise RuntimeError(f"the server did not answer {url} within {timeout} s:\n{tail(log)}")


def tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


# ---------------------------------------------------------------- GraphQL over HTTP


class GraphQLError(RuntimeError):
    pass


async def gql(
    client: httpx.AsyncClient,
    url: str,
    token: str,
    query: str,
    variables: dict[str, Any] | None = None,
) -> dict[str, Any]:
    response = await client.post(
        url,
        json={"query": query, "variables": variables or {}},
        headers={"Authorization": f"Bearer {token}"},
    )
    body = response.json()
    if response.status_code != 200 or body.get("errors"):
        raise GraphQLError(f"{response.status_code}: {json.dumps(body)[:2000]}")
    data: dict[str, Any] = body["data"]
    return data


def http_client(timeout: float = 300) -> httpx.AsyncClient:
    return httpx.AsyncClient(timeout=timeout)


# ---------------------------------------------------------------- timing and memory


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def vm_kib(pid: int, key: str) -> int:
    """VmRSS / VmHWM (KiB) of a process, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise KeyError(key)


def cpu_seconds(pids: Sequence[int]) -> list[float]:
    """User + system CPU seconds each process has used so far."""
    import psutil

    return [sum(psutil.Process(pid).cpu_times()[:2]) for pid in pids]


class RssSampler:
    """Samples a process's resident memory every `interval` seconds, in a thread."""

    def __init__(self, pid: int, interval: float = 0.05) -> None:
        self.pid = pid
        self.interval = interval
        self.samples: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(OSError, KeyError):
                self.samples.append(vm_kib(self.pid, "VmRSS"))
            self._stop.wait(self.interval)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    @property
    def peak_mib(self) -> float:
        return max(self.samples, default=0) / 1024


def run_coro(coro: Any) -> Any:
    return asyncio.run(coro)
