"""Tortoise configuration (also read by Tortoise's own CLI) and the database lifecycle."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

from tortoise import Tortoise, connections
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.migrations.api import migrate as run_migrations
from tortoise.queryset import QuerySet

from server.settings import get_settings

MODELS_MODULE = "server.models"
MIGRATIONS_MODULE = "server.migrations"


def tortoise_config(database_url: str) -> dict[str, Any]:
    return {
        "connections": {"default": database_url},
        "apps": {
            "models": {
                "models": [MODELS_MODULE],
                "default_connection": "default",
                "migrations": MIGRATIONS_MODULE,
            }
        },
        "use_tz": True,
        "timezone": "UTC",
    }


def _ensure_sqlite_directory(database_url: str) -> None:
    if database_url.startswith("sqlite://"):
        path = database_url.removeprefix("sqlite://").split("?", 1)[0]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)


# For `tortoise -c server.db.TORTOISE_ORM makemigrations`.
TORTOISE_ORM = tortoise_config(get_settings().database_url)


async def migrate(database_url: str) -> None:
    """Apply pending migrations."""
    _ensure_sqlite_directory(database_url)
    config = tortoise_config(database_url)
    await run_migrations(config=config)
    await Tortoise.close_connections()


async def connect(database_url: str) -> None:
    _ensure_sqlite_directory(database_url)
    await Tortoise.init(config=tortoise_config(database_url))


async def disconnect() -> None:
    await Tortoise.close_connections()


def connection() -> BaseDBAsyncClient:
    return cast(BaseDBAsyncClient, connections.get("default"))


async def values_of(query: QuerySet[Any], field: str) -> list[Any]:
    """One column of a query's rows (Tortoise types flat value lists as tuples)."""
    return cast(list[Any], await query.values_list(field, flat=True))


def is_postgres() -> bool:
    return connection().capabilities.dialect == "postgres"


async def ping() -> bool:
    try:
        await connection().execute_query("SELECT 1")
    except Exception:
        return False
    return True
