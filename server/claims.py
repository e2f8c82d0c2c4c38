"""Claims on match keys: what keeps two racing requests from creating the same person twice.

A source (syncContacts, the CSV import, logInteraction) matches an incoming contact by its
source ID, else its emails, else its phones, and creates one when nothing matches. Two
requests that bring in the same new person at once would both find nothing and both
create: reading inside a transaction locks nothing that does not exist yet. The handle
index cannot be unique instead, since two existing contacts may share an address.

So the transaction that matches and writes first claims the keys it matches by, and only
then reads. A second request with any key in common waits until the first commits, then
reads, finds the first one's contact and merges into it: the wait is the retry.

- PostgreSQL: transaction-level advisory locks. A key picks one of `STRIPES` locks of its
  workspace: one lock per key would be thousands for a full sync, and advisory locks live
  in the server's shared lock table (`max_locks_per_transaction` x connections, 6,400 by
  default), which one big sync must not fill for everybody. Two small requests with
  unrelated keys share a stripe now and then (they wait a few milliseconds); a big batch
  holds them all, as if it claimed its workspace.
- SQLite: a process's transactions already run one at a time (Tortoise's connection lock),
  but other processes on the same file do not. The claim takes the database's write lock
  up front, as `BEGIN IMMEDIATE` would: another writer then waits for it (the busy
  timeout) instead of reading, writing into a snapshot that went stale and failing with
  "database is locked".
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from tortoise.backends.base.client import BaseDBAsyncClient

# Locks per workspace on PostgreSQL: small enough to spare the shared lock table even when
# every connection holds them all, large enough that small requests rarely meet.
STRIPES = 32
# The first key of the two-key advisory locks: 0x6D00 ("m", for match) plus the stripe; the
# second key is the workspace. server/tallies.py uses 31249, outside this range.
CLAIM_CLASS = 0x6D00
EMAIL = "email"
PHONE = "phone"
ORIGIN = "origin"

# Every stripe is taken in ascending order, in one statement, before anything else in the
# transaction: two claimers never hold one stripe each while waiting for the other's
# (no deadlock). The subquery's ORDER BY is what orders the calls: a subquery that sorts
# is not merged into the outer query.
_CLAIM = """
SELECT count(pg_advisory_xact_lock($1 + "s", $2))
FROM (SELECT "s" FROM unnest($3::int[]) AS "u"("s") ORDER BY "s") AS "ordered"
"""
# A write that changes nothing still takes SQLite's write lock for the transaction.
SQLITE_WRITE_LOCK = 'UPDATE "workspace" SET "name" = "name" WHERE 0'


def stripe(key: tuple[str, ...]) -> int:
    """The stripe of a match key: (EMAIL, address), (PHONE, number) or (ORIGIN, source,
    account, external ID), with normalized values. The same in every process (unlike
    `hash`), so that all of them claim the same stripe for the same key."""
    text = "\x1f".join(key).encode()
    digest = hashlib.blake2b(text, digest_size=8).digest()
    return int.from_bytes(digest, "big") % STRIPES


async def claim(
    connection: BaseDBAsyncClient, workspace_id: int, keys: Iterable[tuple[str, ...]]
) -> None:
    """Claim the keys a transaction is about to match by: call it first in the transaction,
    before any read (see the module). Held until the transaction ends."""
    if connection.capabilities.dialect != "postgres":
        await connection.execute_query(SQLITE_WRITE_LOCK)
        return
    stripes: set[int] = set()
    for key in keys:
        stripes.add(stripe(key))
        if len(stripes) == STRIPES:
            # All of them: a big batch hashes a few hundred keys, not all of its thousands.
            break
    if stripes:
        await connection.execute_query(_CLAIM, [CLAIM_CLASS, workspace_id, sorted(stripes)])
