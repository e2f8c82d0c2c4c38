"""PostgreSQL connections go back to the pool without a reset: the app leaves no session state."""

from __future__ import annotations

import ast
import asyncio
import re
from pathlib import Path
from typing import Any

import pytest

from server import db

ROOT = Path(__file__).resolve().parent.parent
# Statements whose effect outlives the transaction, which a pooled connection would carry
# to the next request: what asyncpg's default reset exists to undo.
SESSION_STATE = re.compile(
    r"^\s*(SET(?!\s+LOCAL\b)|RESET|LISTEN|DECLARE)\b"
    r"|\b(pg_advisory_lock|pg_advisory_lock_shared|pg_try_advisory_lock|set_config)\s*\(",
    re.MULTILINE,
)


def _outlives_transaction(text: str) -> bool:
    return any(SESSION_STATE.search(statement) for statement in text.split(";"))


def _strings(path: Path) -> list[str]:
    """A module's string literals but its docstrings (which may name such statements)."""
    tree = ast.parse(path.read_text())
    docstrings = {id(node.value) for node in ast.walk(tree) if isinstance(node, ast.Expr)}
    return [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docstrings
    ]


# Modules whose session-level statements run on a connection of their own, never pooled:
# the migration lock is a session's advisory lock, on a connection closed after migrating.
OWN_CONNECTION = {Path("server/migration_lock.py")}


def test_no_statement_of_the_app_changes_the_session_beyond_its_transaction() -> None:
    modules = sorted((ROOT / "server").rglob("*.py")) + sorted((ROOT / "schema").rglob("*.py"))
    found = [
        f"{path.relative_to(ROOT)}: {text.strip()[:80]}"
        for path in modules
        if path.relative_to(ROOT) not in OWN_CONNECTION
        for text in _strings(path)
        if _outlives_transaction(text)
    ]
    assert found == []


def test_only_the_migration_lock_takes_a_session_level_lock() -> None:
    # The exemption above is for what the migration lock needs, and no more.
    texts = _strings(ROOT / "server/migration_lock.py")
    assert sorted(t for t in texts if _outlives_transaction(t)) == [
        "SELECT pg_advisory_lock($1)",
        "SELECT pg_try_advisory_lock($1)",
        "SELECT set_config('lock_timeout', $1, false)",
    ]


def test_the_session_check_recognizes_what_would_outlive_a_transaction() -> None:
    outliving = [
        "SET plan_cache_mode = force_custom_plan",
        "SELECT 1; SET search_path TO x",
        "RESET ALL",
        "LISTEN contacts",
        "DECLARE page CURSOR WITH HOLD FOR SELECT 1",
        "SELECT pg_advisory_lock(1)",
        "SELECT pg_try_advisory_lock(1, 2)",
        "SELECT set_config('x.y', '1', false)",
    ]
    local = [
        "SET LOCAL plan_cache_mode = force_custom_plan",
        "UPDATE contact SET status = $1 WHERE id = $2",
        "SELECT pg_try_advisory_xact_lock(1, $1)",
        "Settings are read once.",
    ]
    assert [_outlives_transaction(s) for s in outliving] == [True] * len(outliving)
    assert [_outlives_transaction(s) for s in local] == [False] * len(local)


@pytest.mark.postgres_only
async def test_a_released_connection_sends_nothing_more(database: str) -> None:
    pool: Any = getattr(db.connection(), "_pool")  # noqa: B009 - asyncpg's pool, no public name
    sent: list[str] = []

    def log(record: Any) -> None:
        sent.append(record.query)

    async with pool.acquire() as proxy:
        raw = proxy._con  # the connection itself, which outlives the proxy
        raw.add_query_logger(log)
        assert await proxy.fetchval("SELECT 1") == 1
    await asyncio.sleep(0.05)  # loggers are called soon, not at once
    raw.remove_query_logger(log)

    assert sent == ["SELECT 1"]


@pytest.mark.postgres_only
async def test_a_transaction_left_open_is_still_rolled_back_on_release(database: str) -> None:
    pool: Any = getattr(db.connection(), "_pool")  # noqa: B009 - asyncpg's pool, no public name
    async with pool.acquire() as proxy:
        raw = proxy._con
        await proxy.transaction().start()
        assert raw.is_in_transaction()
        loop = asyncio.get_running_loop()
        reported: list[str] = []
        previous = loop.get_exception_handler()
        loop.set_exception_handler(lambda _loop, context: reported.append(context["message"]))
    try:
        await asyncio.sleep(0)
    finally:
        loop.set_exception_handler(previous)

    assert not raw.is_in_transaction()
    assert reported == [f"Resetting connection with an active transaction {raw!r}"]
