"""One frozen Settings object, read from the environment (and a `.env` file)."""

from __future__ import annotations

from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite://./data/contacts.sqlite3"
# Seconds a process waits for another one's migrations before it gives up.
DEFAULT_MIGRATION_LOCK_TIMEOUT = 600.0


class Environment(StrEnum):
    DEVELOPMENT = "development"
    PRODUCTION = "production"
    TEST = "test"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", frozen=True, extra="ignore")

    database_url: str = DEFAULT_DATABASE_URL
    environment: Environment = Environment.DEVELOPMENT
    cors_origins: Annotated[tuple[str, ...], NoDecode] = ()
    max_selection: int = Field(default=50_000, ge=1)
    max_ids: int = Field(default=1_000, ge=1)
    max_sync_contacts: int = Field(default=5_000, ge=1)
    max_upload_mb: int = Field(default=50, ge=1)
    log_level: str = "INFO"
    migration_lock_timeout: float = Field(default=DEFAULT_MIGRATION_LOCK_TIMEOUT, gt=0, le=86_400)
    max_query_depth: int = Field(default=12, ge=2)
    max_query_aliases: int = Field(default=30, ge=0)
    max_query_tokens: int = Field(default=5_000, ge=100)
    rate_limit_per_minute: int = Field(default=600, ge=0)  # per token; 0 turns it off
    rate_limit_burst: int = Field(default=100, ge=1)
    # Where the rate limit is counted: memory:// in each process, or redis://HOST:PORT
    # (rediss:// for TLS) shared by every process and replica.
    rate_limit_storage: str = "memory://"
    playground: bool | None = None
    # The npm packages (node_modules) the playground's JavaScript and CSS are served from;
    # unset, playground/node_modules beside the project (server/playground.py).
    playground_assets_dir: Path | None = None
    # Where the playground page loads React and GraphiQL from instead of this server: a
    # prefix under which PACKAGE@VERSION/PATH is served, as on a CDN (unpkg, jsDelivr).
    graphiql_assets_url: str | None = None

    @field_validator("database_url")
    @classmethod
    def _known_scheme(cls, value: str) -> str:
        value = value.strip()
        if value.startswith("postgresql://"):
            value = "postgres://" + value.removeprefix("postgresql://")
        if not value.startswith(("sqlite://", "postgres://")):
            raise ValueError("DATABASE_URL must start with sqlite:// or postgres://")
        return value

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(origin.strip() for origin in value.split(",") if origin.strip())
        return value

    @field_validator("graphiql_assets_url")
    @classmethod
    def _assets_prefix(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        value = value.strip()
        if not value.startswith(("http://", "https://", "/")):
            raise ValueError("GRAPHIQL_ASSETS_URL must start with http://, https:// or /")
        return value.rstrip("/") + "/"

    @field_validator("rate_limit_storage")
    @classmethod
    def _known_storage(cls, value: str) -> str:
        value = value.strip()
        if value == "memory://":
            return value
        parts = urlsplit(value)
        try:
            parts.port  # noqa: B018 (parsed for its error: a port that is not a number)
            valid = parts.scheme in {"redis", "rediss"} and bool(parts.hostname)
        except ValueError:
            valid = False
        if not valid:
            raise ValueError(
                "RATE_LIMIT_STORAGE must be memory:// or redis://HOST:PORT "
                "(rediss://HOST:PORT for TLS, redis://:PASSWORD@HOST:PORT/DB with a password)"
            )
        return value

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        value = value.upper()
        if value not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL")
        return value

    @property
    def is_production(self) -> bool:
        return self.environment is Environment.PRODUCTION

    @property
    def playground_enabled(self) -> bool:
        return self.playground if self.playground is not None else not self.is_production

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite://")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
