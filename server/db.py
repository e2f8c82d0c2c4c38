"""Tortoise configuration (also read by Tortoise's own CLI) and the database lifecycle."""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import AsyncIterator, Callable, Collection, Iterable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar, cast

import asyncpg
from pypika_tortoise.context import SqlContext
from pypika_tortoise.terms import Term, ValueWrapper
from tortoise import Tortoise, connections, fields, timezone
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.backends.base.config_generator import expand_db_url
from tortoise.expressions import Q
from tortoise.migrations.api import migrate as run_migrations
from tortoise.models import Model
from tortoise.queryset import QuerySet
from tortoise.transactions import in_transaction

from server.migration_lock import migration_lock
from server.routing import PRIMARY, REPLICA, ReadReplicaRouter, reading_on, reads_from
from server.settings import DEFAULT_MIGRATION_LOCK_TIMEOUT, get_settings

MODELS_MODULE = "server.models"
MIGRATIONS_MODULE = "server.migrations"
# Values per statement: well under both databases' parameter limits.
CHUNK = 2_000
# Rows per `insert_rows` / `update_rows` statement on PostgreSQL (a column is a parameter).
UNNEST_ROWS = 10_000

T = TypeVar("T")


async def _keep_session(connection: object) -> None:
    """asyncpg's pool, on each release, first rolls back an unfinished transaction, then calls
    this instead of its default reset (`pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *;
    RESET ALL`): a round trip and a statement per query outside a transaction, a sixth of
    PostgreSQL's work for a page of contacts. The app leaves no session state to undo: it
    sets only `SET LOCAL`, takes only transaction-level advisory locks, and neither listens
    nor declares cursors (tests/test_db.py checks the source for each)."""


def _connection(database_url: str) -> str | dict[str, Any]:
    if not database_url.startswith("postgres://"):
        return database_url
    expanded = expand_db_url(database_url)
    expanded["credentials"]["reset"] = _keep_session
    return expanded


def tortoise_config(database_url: str, read_url: str | None = None) -> dict[str, Any]:
    """The ORM's configuration; with `read_url`, a second connection (the streaming replica)
    and the router that sends a request's reads to it when the request chose it."""
    connections: dict[str, Any] = {PRIMARY: _connection(database_url)}
    config: dict[str, Any] = {
        "connections": connections,
        "apps": {
            "models": {
                "models": [MODELS_MODULE],
                "default_connection": PRIMARY,
                "migrations": MIGRATIONS_MODULE,
            }
        },
        "use_tz": True,
        "timezone": "UTC",
    }
    if read_url is not None:
        connections[REPLICA] = _connection(read_url)
        config["routers"] = [ReadReplicaRouter]
    return config


def _ensure_sqlite_directory(database_url: str) -> None:
    if database_url.startswith("sqlite://"):
        path = database_url.removeprefix("sqlite://").split("?", 1)[0]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)


def __getattr__(name: str) -> Any:
    # `tortoise -c server.db.TORTOISE_ORM makemigrations` reads this; computed on demand so
    # that importing this module never reads (or fails on) the environment.
    if name == "TORTOISE_ORM":
        return tortoise_config(get_settings().database_url)
    raise AttributeError(name)


async def migrate(
    database_url: str,
    lock_timeout: float = DEFAULT_MIGRATION_LOCK_TIMEOUT,
    on_wait: Callable[[str], object] | None = None,
) -> list[str]:
    """Apply pending migrations under the migration lock (server/migration_lock.py), waiting
    up to `lock_timeout` seconds for another migrator; returns the names of those applied."""
    _ensure_sqlite_directory(database_url)
    applied: list[str] = []

    def progress(event: str, app_label: str, name: str) -> None:
        if event == "apply_done":
            applied.append(name)

    async with migration_lock(database_url, lock_timeout, on_wait):
        try:
            await run_migrations(config=tortoise_config(database_url), progress=progress)
        finally:
            await Tortoise.close_connections()
    return applied


async def connect(database_url: str, read_url: str | None = None) -> None:
    """Connect for the whole process: requests run in other tasks than the one that connects
    (the ASGI lifespan), and Tortoise's context lives in a context variable, so it must be
    the global fallback to be seen by them. `read_url` is the streaming replica's, which
    only reads of requests that chose it use (server/routing.py)."""
    _ensure_sqlite_directory(database_url)
    await Tortoise.init(
        config=tortoise_config(database_url, read_url), _enable_global_fallback=True
    )


async def disconnect() -> None:
    await Tortoise.close_connections()


def connection(for_read: bool = False) -> BaseDBAsyncClient:
    """The primary's connection (the open transaction's, within one); `for_read=True` for a
    statement that only reads: the connection the request reads from (server/routing.py)."""
    return cast(BaseDBAsyncClient, connections.get(reads_from() if for_read else PRIMARY))


@contextlib.asynccontextmanager
async def transaction() -> AsyncIterator[BaseDBAsyncClient]:
    """A transaction on the primary, whose reads stay on the primary too: what a transaction
    reads decides what it writes, and a replica's rows may lag behind the primary's. (With
    two connections Tortoise's `in_transaction` must be told which one.)"""
    with reading_on(PRIMARY):
        async with in_transaction(PRIMARY) as client:
            yield client


class _Undo(Exception):
    """Raised inside all_or_nothing to roll its transaction back."""


@contextlib.asynccontextmanager
async def all_or_nothing(keep: Callable[[], bool]) -> AsyncIterator[None]:
    """One transaction around the block, committed only if `keep()` says so afterwards;
    the use cases' own transactions inside it become savepoints."""
    try:
        async with transaction():
            yield
            if not keep():
                raise _Undo
    except _Undo:
        pass


async def values_of(query: QuerySet[Any], field: str) -> list[Any]:
    """One column of a query's rows (Tortoise types flat value lists as tuples)."""
    return cast(list[Any], await query.values_list(field, flat=True))


def chunks(values: Sequence[T], size: int = CHUNK) -> Iterator[list[T]]:
    """`values` in consecutive lists of at most `size`, for statements with one value each."""
    for start in range(0, len(values), size):
        yield list(values[start : start + size])


def list_parameter(values: Iterable[Any], postgres: bool) -> Any:
    """A whole list as one statement parameter: an array (asyncpg) or JSON text (SQLite)."""
    listed = list(values)
    return listed if postgres else json.dumps(listed)


def list_values_sql(mark: str, postgres: bool, array_type: str = "") -> str:
    """The values of the list parameter `mark` (see `list_parameter`): `ANY($n)` on
    PostgreSQL, to compare with `=`; a JSON array's rows on SQLite, to compare with `IN`."""
    # `mark` is a placeholder ($n or ?), never a value.
    if postgres:
        return f"ANY({mark}{array_type})"
    return f"(SELECT value FROM json_each({mark}))"  # noqa: S608


def among_sql(column: str, mark: str, postgres: bool, array_type: str = "") -> str:
    """`column` (quoted SQL) is one of the values of the list parameter `mark`."""
    return f"{column} {'=' if postgres else 'IN'} {list_values_sql(mark, postgres, array_type)}"


class Parameters:
    """The values of one hand-written statement, each placed by the placeholder calling it
    returns, in the connection's dialect: `?` (SQLite) or `$n` (PostgreSQL).

    Hot statements are written out: building a thousand-value IN list through the query
    builder costs more than running it.
    """

    def __init__(self, connection: BaseDBAsyncClient) -> None:
        self.values: list[Any] = []
        self.numbered = connection.capabilities.dialect == "postgres"

    def __call__(self, value: Any) -> str:
        self.values.append(value)
        return f"${len(self.values)}" if self.numbered else "?"

    def among(self, column: str, values: Iterable[Any], array_type: str = "") -> str:
        """`column` (quoted SQL) is one of `values`, sent as one parameter (see `one_of`);
        `array_type` casts the array on PostgreSQL, e.g. `::int[]`."""
        mark = self(list_parameter(values, self.numbered))
        return among_sql(column, mark, self.numbered, array_type)


class _ArrayParameter(Term):
    """A whole list as one parameter, as pypika's right-hand side of `=` or `IN`."""

    def __init__(self, values: list[Any], postgres: bool) -> None:
        super().__init__()
        self.postgres = postgres
        self.parameter = ValueWrapper(list_parameter(values, postgres))

    def get_sql(self, ctx: SqlContext) -> str:
        return list_values_sql(self.parameter.get_sql(ctx), self.postgres)


def one_of(field: str, values: Sequence[Any]) -> Q:
    """`field IN values`, sending the values as one parameter instead of one each.

    Building and binding a parameter per value was a fifth of a 10,000-contact archive;
    one array (PostgreSQL) or JSON text (SQLite) costs the same for any number of values.
    """
    postgres = is_postgres()
    lookup: dict[str, Any] = {
        field if postgres else f"{field}__in": _ArrayParameter(list(values), postgres)
    }
    return Q(**lookup)


# Columns whose raw values (from either driver) are already what the model holds.
_AS_READ = (fields.CharField, fields.TextField, fields.IntField, fields.BigIntField)


def python_value(field: fields.Field[Any]) -> Callable[[Any], Any]:
    """`field.to_python_value`, with shortcuts for the values most rows hold; the same
    result for every value (tests/test_db.py, tests/test_reading.py compare them)."""
    enum_type = getattr(field, "enum_type", None)
    to_python = field.to_python_value
    if enum_type is not None:
        # An enum column's stored values, looked up: Tortoise's conversion checks each
        # value's type first, a twentieth of an identical re-sync. It still reports a
        # value not in the enum.
        members = {member.value: member for member in enum_type}

        def convert_enum(value: Any) -> Any:
            try:
                return members[value]
            except KeyError:
                return to_python(value)

        return convert_enum
    if isinstance(field, fields.DatetimeField) and timezone.get_use_tz():
        # Tortoise reads the USE_TZ environment variable for every value, then converts
        # an aware datetime (asyncpg's timestamptz) to the default zone; read once here.
        zone = timezone.get_default_timezone()

        def convert_datetime(value: Any) -> Any:
            if type(value) is datetime and value.utcoffset() is not None:
                return value.astimezone(zone)
            return to_python(value)

        return convert_datetime
    return to_python


def row_decoder(
    model: type[Model], columns: Sequence[str]
) -> Callable[[Sequence[Any]], tuple[Any, ...]]:
    """Turns a raw row of `columns` into the values the model's fields hold (decoded JSON,
    enums, aware datetimes), converting only the columns that need it: Tortoise converts
    every value of a row, which costs more than reading the rows."""
    fields_map = model._meta.fields_map
    converted = [
        (index, python_value(fields_map[column]))
        for index, column in enumerate(columns)
        if type(fields_map[column]) not in _AS_READ
    ]

    def decode(row: Sequence[Any]) -> tuple[Any, ...]:
        values = list(row)
        for index, convert in converted:
            if values[index] is not None:
                values[index] = convert(values[index])
        return tuple(values)

    return decode


def _array_type(model: type[Model], column: str) -> str:
    # Without its length: an explicit cast to varchar(n) would cut a longer value short,
    # where the column's own assignment refuses it.
    sql_type = model._meta.fields_map[column].get_for_dialect("postgres", "SQL_TYPE")
    return re.sub(r"\(.*\)", "", sql_type) + "[]"


def _unnest(model: type[Model], columns: Sequence[str]) -> str:
    """The rows of one array parameter per column: `unnest($1::int[], $2::varchar[], ...)`."""
    arrays = (f"${n}::{_array_type(model, c)}" for n, c in enumerate(columns, start=1))
    return f"unnest({', '.join(arrays)})"


async def _write(
    connection: BaseDBAsyncClient, sql: str, rows: Sequence[Sequence[Any]], by_column: bool
) -> None:
    if by_column:
        for chunk in chunks(rows, UNNEST_ROWS):
            await connection.execute_query(sql, [list(c) for c in zip(*chunk, strict=True)])
    else:
        for chunk in chunks(rows, CHUNK):
            await connection.execute_many(sql, [list(row) for row in chunk])


async def insert_rows(
    connection: BaseDBAsyncClient,
    model: type[Model],
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
) -> None:
    """Insert rows of values already in the database's form (`to_db_value`), in order.

    PostgreSQL gets one `INSERT ... SELECT FROM unnest(...)` per chunk, a column per array
    parameter: asyncpg's executemany runs the statement once per row, which was three
    quarters of a 5,000-contact first sync (1.1-1.5 s). sqlite3's executemany repeats one
    prepared statement in C, which is what SQLite does best.
    """
    if not rows:
        return
    postgres = connection.capabilities.dialect == "postgres"
    table = model._meta.db_table
    names = ", ".join(f'"{column}"' for column in columns)
    # Only fixed identifiers and types are interpolated; every value is in a parameter.
    if postgres:
        sql = f'INSERT INTO "{table}" ({names}) SELECT * FROM {_unnest(model, columns)}'  # noqa: S608
    else:
        sql = f'INSERT INTO "{table}" ({names}) VALUES ({", ".join("?" * len(columns))})'  # noqa: S608
    await _write(connection, sql, rows, by_column=postgres)


async def update_rows(
    connection: BaseDBAsyncClient,
    model: type[Model],
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    unless_null: Collection[str] = (),
) -> None:
    """Set `columns` of each row whose primary key is the row's last value (keys distinct);
    a column in `unless_null` keeps its stored value where the row's value is NULL.

    Values are in the database's form, as for `insert_rows`, and for the same reason
    PostgreSQL gets one `UPDATE ... FROM unnest(...)` per chunk and SQLite an executemany.
    """
    if not rows:
        return
    table = model._meta.db_table
    key = model._meta.pk_attr
    postgres = connection.capabilities.dialect == "postgres"
    given = [f'"v"."{column}"' for column in columns] if postgres else ["?"] * len(columns)
    assignments = ", ".join(
        f'"{column}" = COALESCE({value}, "{table}"."{column}")'
        if column in unless_null
        else f'"{column}" = {value}'
        for column, value in zip(columns, given, strict=True)
    )
    # Only fixed identifiers and types are interpolated; every value is in a parameter.
    sql = f'UPDATE "{table}" SET {assignments} '  # noqa: S608
    if postgres:
        keyed = (*columns, key)
        names = ", ".join(f'"{column}"' for column in keyed)
        sql += f'FROM {_unnest(model, keyed)} AS "v"({names}) WHERE "{table}"."{key}" = "v"."{key}"'
    else:
        sql += f'WHERE "{key}" = ?'
    await _write(connection, sql, rows, by_column=postgres)


def is_postgres() -> bool:
    return connection().capabilities.dialect == "postgres"


# What a request meets while the database is away (stopped, restarting, unreachable):
# the connection refused or dropped, or the server shutting sessions down.
_UNAVAILABLE: tuple[type[BaseException], ...] = (
    OSError,  # ConnectionRefusedError, ConnectionResetError, and Tortoise's DBConnectionError
    asyncpg.exceptions.PostgresConnectionError,
    asyncpg.exceptions.ConnectionDoesNotExistError,
    asyncpg.exceptions.OperatorInterventionError,  # admin shutdown, crash shutdown
)


def is_unavailable(error: BaseException) -> bool:
    """Whether `error`, or what it was raised from, says the database is not answering."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, _UNAVAILABLE):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


async def ping() -> bool:
    try:
        await connection().execute_query("SELECT 1")
    except Exception:
        return False
    return True
