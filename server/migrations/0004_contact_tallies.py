"""PostgreSQL keeps a running tally of each workspace's contacts by status.

Counting 1,000,000 contacts costs what `COUNT(*)` costs, however good the index (50-90 ms);
summing a few tally rows costs well under a millisecond. Triggers keep the tally in the same
transaction as the change, whatever made it (the API, sync, CSV, the CLI, cascades, raw SQL),
so it cannot drift. Each statement appends one row per (workspace, status) it changed rather
than updating a counter in place: an in-place counter would be a row every writer in the
workspace locks until commit, serialising them (and deadlocking a sync against an archive
that lock the same contacts in the other order). `server/tallies.py` folds the rows together
now and then. SQLite has no statement-level triggers (a row trigger would add a write per
contact to every bulk action) and its workspaces are small: it counts.
"""

from typing import Any

from tortoise import migrations
from tortoise.migrations import operations as ops

FORWARD = """
CREATE TABLE contact_tally (
    id BIGSERIAL PRIMARY KEY,
    workspace_id INT NOT NULL,
    status VARCHAR(10) NOT NULL,
    contacts BIGINT NOT NULL
);
COMMENT ON TABLE contact_tally IS
    'Changes in the number of contacts per workspace and status; the count is their sum.';
CREATE INDEX contact_tally_by_workspace ON contact_tally (workspace_id, status);

CREATE FUNCTION contact_tally_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO contact_tally (workspace_id, status, contacts)
    SELECT workspace_id, status, count(*) FROM inserted GROUP BY workspace_id, status;
    RETURN NULL;
END $$;

CREATE FUNCTION contact_tally_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO contact_tally (workspace_id, status, contacts)
    SELECT workspace_id, status, -count(*) FROM deleted GROUP BY workspace_id, status;
    RETURN NULL;
END $$;

-- Transition tables rule out `UPDATE OF status`, so every update comes here; one that moves
-- no contact between tallies (an edit, a re-sync) nets to zero and writes nothing.
CREATE FUNCTION contact_tally_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO contact_tally (workspace_id, status, contacts)
    SELECT workspace_id, status, sum(change) FROM (
        SELECT workspace_id, status, -1 AS change FROM before_update
        UNION ALL
        SELECT workspace_id, status, 1 FROM after_update
    ) AS moves
    GROUP BY workspace_id, status
    HAVING sum(change) <> 0;
    RETURN NULL;
END $$;

CREATE FUNCTION contact_tally_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM contact_tally;
    RETURN NULL;
END $$;

CREATE TRIGGER contact_tally_insert AFTER INSERT ON contact
    REFERENCING NEW TABLE AS inserted
    FOR EACH STATEMENT EXECUTE FUNCTION contact_tally_inserted();
CREATE TRIGGER contact_tally_delete AFTER DELETE ON contact
    REFERENCING OLD TABLE AS deleted
    FOR EACH STATEMENT EXECUTE FUNCTION contact_tally_deleted();
CREATE TRIGGER contact_tally_update AFTER UPDATE ON contact
    REFERENCING OLD TABLE AS before_update NEW TABLE AS after_update
    FOR EACH STATEMENT EXECUTE FUNCTION contact_tally_updated();
CREATE TRIGGER contact_tally_truncate AFTER TRUNCATE ON contact
    FOR EACH STATEMENT EXECUTE FUNCTION contact_tally_truncated();

INSERT INTO contact_tally (workspace_id, status, contacts)
SELECT workspace_id, status, count(*) FROM contact GROUP BY workspace_id, status;
"""

BACKWARD = """
DROP TRIGGER contact_tally_insert ON contact;
DROP TRIGGER contact_tally_delete ON contact;
DROP TRIGGER contact_tally_update ON contact;
DROP TRIGGER contact_tally_truncate ON contact;
DROP FUNCTION contact_tally_inserted();
DROP FUNCTION contact_tally_deleted();
DROP FUNCTION contact_tally_updated();
DROP FUNCTION contact_tally_truncated();
DROP TABLE contact_tally;
"""


def _on_postgres(sql: str) -> Any:
    async def run(apps: Any, schema_editor: Any) -> None:
        if schema_editor.client.capabilities.dialect == "postgres":
            await schema_editor.client.execute_script(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [("models", "0003_audit_entries")]

    initial = False

    operations = [ops.RunPython(_on_postgres(FORWARD), _on_postgres(BACKWARD))]
