"""How many contacts a workspace has, by status, read from PostgreSQL's running tally.

Migration 0004 explains the tally: triggers append (workspace, status, change) rows in the
same transaction as each change, and the count is their sum. Reading folds them back into
one row per status once they pile up, so a read stays a sum of a handful of rows.
"""

from __future__ import annotations

from server.db import connection, transaction
from server.policy import ContactStatus

# Tally rows a workspace may gather before a read folds them together.
FOLD_AFTER = 64
_READ = """
SELECT status, sum(contacts) AS contacts, count(*) AS entries
FROM contact_tally WHERE workspace_id = $1 GROUP BY status
"""

# One statement, so a crash leaves the rows unfolded, never lost. A fold that finds another
# one at work skips (the lock), so folds never wait on, or deadlock with, each other; writers
# only ever insert, so they never wait on a fold.
# 31249 (0x7A11, "tally") keys the advisory lock; the workspace is the second key.
_FOLD = """
WITH permitted AS (SELECT pg_try_advisory_xact_lock(31249, $1) AS granted),
folded AS (
    DELETE FROM contact_tally
    WHERE workspace_id = $1 AND (SELECT granted FROM permitted)
    RETURNING status, contacts
)
INSERT INTO contact_tally (workspace_id, status, contacts)
SELECT $1, status, sum(contacts) FROM folded GROUP BY status HAVING sum(contacts) <> 0
"""


async def tally(workspace_id: int) -> dict[ContactStatus, int]:
    """The workspace's contacts by status (PostgreSQL only: SQLite keeps no tally)."""
    rows = await connection(for_read=True).execute_query_dict(_READ, [workspace_id])
    if sum(row["entries"] for row in rows) > FOLD_AFTER:
        # On the primary, even when the rows were read from the replica: the fold writes,
        # and something must fold, or a replica's reads would sum ever more rows. Until the
        # replica replays the fold, its reads still sum the unfolded rows: the same count.
        await fold(workspace_id)
    counts = dict.fromkeys(ContactStatus, 0)
    for row in rows:
        counts[ContactStatus(row["status"])] = int(row["contacts"])
    return counts


async def fold(workspace_id: int) -> None:
    """Fold the workspace's tally into one row per status (none for a status at zero),
    on the primary."""
    await connection().execute_query(_FOLD, [workspace_id])


async def recount() -> tuple[int, int]:
    """Rebuild the tally from the contacts: (contacts, workspaces) counted.

    For data loaded with triggers disabled (`pg_restore --disable-triggers`,
    `session_replication_role = replica`), which the tally never saw.
    """
    async with transaction() as client:
        # Writers wait until the tally is rebuilt (readers do not), so none is missed.
        await client.execute_script("LOCK TABLE contact IN SHARE MODE")
        await client.execute_query("DELETE FROM contact_tally")
        await client.execute_query(
            "INSERT INTO contact_tally (workspace_id, status, contacts)"
            " SELECT workspace_id, status, count(*) FROM contact GROUP BY workspace_id, status"
        )
        rows = await client.execute_query_dict(
            "SELECT coalesce(sum(contacts), 0) AS contacts,"
            " count(DISTINCT workspace_id) AS workspaces FROM contact_tally"
        )
    return int(rows[0]["contacts"]), int(rows[0]["workspaces"])
