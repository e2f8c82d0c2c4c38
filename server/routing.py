"""Which database a request reads from: the primary (DATABASE_URL) or its streaming replica
(DATABASE_READ_URL).

The HTTP layer decides once per request (server/app.py): a query may read from the replica;
a mutation, and anything it cannot tell apart from one, reads and writes on the primary.
The decision lives in a context variable, so every task the request starts (DataLoaders
included) sees it, and Tortoise asks it through `ReadReplicaRouter` for every ORM query.
Writes always go to the primary: a hot standby refuses them, and that refusal was a 500.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

# Tortoise's connection names.
PRIMARY = "default"
REPLICA = "replica"

# The connection reads use now. PRIMARY unless a request chose the replica, so the CLI, the
# worker, the migrations and every process without DATABASE_READ_URL never meet the replica.
_reads_from: ContextVar[str] = ContextVar("reads_from", default=PRIMARY)


def reads_from() -> str:
    return _reads_from.get()


@contextmanager
def reading_on(name: str) -> Iterator[None]:
    """Reads within go to the connection `name` (PRIMARY or REPLICA)."""
    token = _reads_from.set(name)
    try:
        yield
    finally:
        _reads_from.reset(token)


class ReadReplicaRouter:
    """Tortoise's router (its `routers` setting), installed only with DATABASE_READ_URL."""

    def db_for_read(self, model: type) -> str:
        return _reads_from.get()

    def db_for_write(self, model: type) -> str:
        return PRIMARY
