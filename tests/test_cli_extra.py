"""`contacts-server revoke-token` and `contacts-server stats`, run as a user runs them.

The commands run in subprocesses (like test_cli.py) on SQLite files of their own: one is
prepared per module (migrated, with the demo workspace and a few users), and each test gets
a copy of it, so the suite's database and its --db pass do not matter.
"""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import sqlite3
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from demo_server import Ran, run_command

from server.auth import hash_token
from server.cli import main
from server.demo import CONTACT_COUNT


def contacts_server(database: Path, *args: str, stdin: str | None = None) -> Ran:
    command = [sys.executable, "-m", "server.cli", "--database-url", f"sqlite://{database}"]
    return run_command(*command, *args, cwd=database.parent, stdin=stdin)


def query(database: Path, statement: str, parameters: tuple[Any, ...] = ()) -> list[Any]:
    with contextlib.closing(sqlite3.connect(database)) as connection:
        return connection.execute(statement, parameters).fetchall()


def one_clean_line(ran: Ran) -> None:
    assert "Traceback" not in ran.stdout + ran.stderr
    assert len(ran.stderr.strip().splitlines()) == 1, ran.stderr


def create_user(database: Path, workspace: str, email: str, role: str = "admin") -> str:
    ran = contacts_server(
        database, "create-user", "--workspace", workspace, "--email", email,
        "--name", email.split("@")[0].title(), "--role", role,
    )  # fmt: skip
    assert ran.code == 0, ran.stderr
    return ran.stdout.strip().splitlines()[-1]


def fill_demo(database: Path) -> None:
    script = (
        "import asyncio, sys\n"
        "from server import db\n"
        "from server.demo import fill_demo\n"
        "async def go(url):\n"
        "    await db.connect(url)\n"
        "    try:\n"
        "        await fill_demo('Demo')\n"
        "    finally:\n"
        "        await db.disconnect()\n"
        "asyncio.run(go(sys.argv[1]))\n"
    )
    ran = run_command(sys.executable, "-c", script, f"sqlite://{database}", cwd=database.parent)
    assert ran.code == 0, ran.stderr


@dataclass(frozen=True)
class Prepared:
    """A migrated SQLite file with the demo workspace, Acme (ada: admin, bob: member),
    Globex and Empty (no contacts), and the users' tokens."""

    path: Path
    ada: str
    bob: str


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> Prepared:
    path = tmp_path_factory.mktemp("cli-extra") / "template.sqlite3"
    ran = contacts_server(path, "migrate")
    assert ran.code == 0, ran.stderr
    fill_demo(path)
    ada = create_user(path, "Acme", "ada@acme.example")
    bob = create_user(path, "Acme", "bob@acme.example", role="member")
    create_user(path, "Globex", "hank@globex.example")
    create_user(path, "Empty", "eve@empty.example")
    return Prepared(path, ada, bob)


@pytest.fixture
def db_file(prepared: Prepared, tmp_path: Path) -> Path:
    """A copy of the prepared file, for this test alone."""
    path = tmp_path / "contacts.sqlite3"
    shutil.copyfile(prepared.path, path)
    return path


def revoked_at(database: Path, token: str) -> str | None:
    rows = query(
        database, "SELECT revoked_at FROM api_token WHERE token_hash = ?", (hash_token(token),)
    )
    assert len(rows) == 1
    value: str | None = rows[0][0]
    return value


# ---------------------------------------------------------------- help


@pytest.mark.parametrize("command", ["revoke-token", "stats"])
def test_the_new_commands_explain_themselves_with_an_example(command: str) -> None:
    result = CliRunner().invoke(main, [command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Example: contacts-server " + command in result.stdout
    assert "Exit code" in result.stdout


def test_main_help_lists_the_new_commands() -> None:
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0, result.output
    assert "revoke-token" in result.stdout
    assert "stats" in result.stdout


# ---------------------------------------------------------------- revoke-token


def test_revoke_token_revokes_that_token_only(prepared: Prepared, db_file: Path) -> None:
    ran = contacts_server(db_file, "revoke-token", prepared.ada)

    assert ran.code == 0, ran.stderr
    assert ran.stderr == ""
    assert "Revoked the API token" in ran.stdout
    assert "ada@acme.example" in ran.stdout
    assert "'Acme'" in ran.stdout
    assert prepared.ada not in ran.stdout
    assert revoked_at(db_file, prepared.ada) is not None
    assert revoked_at(db_file, prepared.bob) is None


def test_revoke_token_twice_says_it_was_revoked_already(prepared: Prepared, db_file: Path) -> None:
    assert contacts_server(db_file, "revoke-token", prepared.bob).code == 0
    first = revoked_at(db_file, prepared.bob)

    again = contacts_server(db_file, "revoke-token", prepared.bob)

    assert again.code == 0, again.stderr
    assert "revoked already" in again.stdout
    assert "bob@acme.example" in again.stdout
    assert revoked_at(db_file, prepared.bob) == first


def test_revoke_token_reads_the_token_from_standard_input(
    prepared: Prepared, db_file: Path
) -> None:
    ran = contacts_server(db_file, "revoke-token", "-", stdin=f"{prepared.ada}\n")
    assert ran.code == 0, ran.stderr
    assert "Revoked" in ran.stdout
    assert revoked_at(db_file, prepared.ada) is not None


def test_revoke_token_with_an_unknown_token_fails_and_changes_nothing(
    prepared: Prepared, db_file: Path
) -> None:
    token = prepared.ada
    typo = token[:-1] + ("A" if token[-1] != "A" else "B")

    ran = contacts_server(db_file, "revoke-token", typo)

    assert ran.code == 1
    assert ran.stdout == ""
    assert "No API token matches" in ran.stderr
    one_clean_line(ran)
    assert query(db_file, "SELECT count(*) FROM api_token WHERE revoked_at IS NOT NULL") == [(0,)]


def test_revoke_token_without_a_token_is_a_usage_error(db_file: Path) -> None:
    ran = contacts_server(db_file, "revoke-token", "-", stdin="  \n")
    assert ran.code == 2
    assert "No token given" in ran.stderr
    missing = contacts_server(db_file, "revoke-token")
    assert missing.code == 2
    assert "TOKEN" in missing.stderr


def test_revoke_token_on_an_unmigrated_database_says_to_migrate(tmp_path: Path) -> None:
    ran = contacts_server(tmp_path / "empty.sqlite3", "revoke-token", "cs_abc")
    assert ran.code == 1
    assert "contacts-server migrate" in ran.stderr
    one_clean_line(ran)


# ---------------------------------------------------------------- stats

TABLE_ROW = re.compile(r"^(?P<label>.+?)\s+(?P<active>\d+)\s+(?P<archived>\d+)\s+(?P<total>\d+)$")


def table(output: str) -> dict[str, tuple[int, int, int]]:
    rows = {}
    for line in output.splitlines():
        match = TABLE_ROW.match(line)
        if match:
            rows[match["label"].strip()] = (
                int(match["active"]),
                int(match["archived"]),
                int(match["total"]),
            )
    return rows


def expected_counts(database: Path, workspace: str) -> dict[str, tuple[int, int, int]]:
    rows = query(
        database,
        "SELECT s.name, s.category, c.status, count(*) FROM contact c "
        "JOIN workspace w ON w.id = c.workspace_id LEFT JOIN stage s ON s.id = c.stage_id "
        "WHERE w.name = ? GROUP BY s.name, s.category, c.status",
        (workspace,),
    )
    found: dict[str, list[int]] = {}
    for name, category, status, count in rows:
        label = f"{name} ({category.upper()})" if name else "(no stage)"
        cells = found.setdefault(label, [0, 0])
        cells[0 if status == "active" else 1] += count
    return {label: (a, b, a + b) for label, (a, b) in found.items()}


def test_stats_counts_contacts_per_status_and_stage(db_file: Path) -> None:
    ran = contacts_server(db_file, "stats", "--workspace", "Demo")

    assert ran.code == 0, ran.stderr
    assert ran.stderr == ""
    assert f"Workspace 'Demo': {CONTACT_COUNT} contacts" in ran.stdout
    rows = table(ran.stdout)
    labels = list(rows)
    assert labels == [
        "Lead (LEAD)",
        "Potential (POTENTIAL)",
        "Active (ACTIVE)",
        "Past (PAST)",
        "Lost (LOST)",
        "(no stage)",
        "Total",
    ]
    expected = expected_counts(db_file, "Demo")
    for label, counts in rows.items():
        if label != "Total":
            assert counts == expected.get(label, (0, 0, 0)), label
    active = sum(counts[0] for label, counts in rows.items() if label != "Total")
    archived = sum(counts[1] for label, counts in rows.items() if label != "Total")
    assert rows["Total"] == (active, archived, CONTACT_COUNT)
    assert archived > 0
    # Blocking stages hold no archived contact (the rules).
    for label in ("Lead (LEAD)", "Potential (POTENTIAL)", "Active (ACTIVE)"):
        assert rows[label][1] == 0

    as_json = contacts_server(db_file, "stats", "--workspace", "Demo", "--json")
    assert as_json.code == 0, as_json.stderr
    numbers = json.loads(as_json.stdout)
    assert numbers["workspace"] == "Demo"
    assert numbers["total"] == CONTACT_COUNT
    assert numbers["byStatus"] == {"active": active, "archived": archived}
    assert [row["category"] for row in numbers["byStage"]] == [
        "LEAD",
        "POTENTIAL",
        "ACTIVE",
        "PAST",
        "LOST",
        None,
    ]
    for row in numbers["byStage"]:
        label = f"{row['stage']} ({row['category']})" if row["category"] else row["stage"]
        assert (row["active"], row["archived"], row["total"]) == rows[label]

    empty = contacts_server(db_file, "stats", "--workspace", "Empty")
    assert empty.code == 0, empty.stderr
    assert "Workspace 'Empty': 0 contacts" in empty.stdout
    assert table(empty.stdout)["Total"] == (0, 0, 0)


def test_stats_uses_the_workspaces_own_stage_labels(db_file: Path) -> None:
    with contextlib.closing(sqlite3.connect(db_file)) as connection:
        connection.execute(
            "UPDATE stage SET name = 'Warm' WHERE category = 'lead' AND workspace_id = "
            "(SELECT id FROM workspace WHERE name = 'Acme')"
        )
        connection.commit()
    ran = contacts_server(db_file, "stats", "--workspace", "Acme")
    assert ran.code == 0, ran.stderr
    assert "Warm (LEAD)" in ran.stdout


def test_stats_for_an_unknown_workspace_fails_and_names_the_known_ones(db_file: Path) -> None:
    ran = contacts_server(db_file, "stats", "--workspace", "Initech")

    assert ran.code == 1
    assert ran.stdout == ""
    assert "No workspace is called 'Initech'" in ran.stderr
    assert "'Acme', 'Demo', 'Empty', 'Globex'" in ran.stderr
    one_clean_line(ran)


def test_stats_needs_a_workspace(db_file: Path) -> None:
    ran = contacts_server(db_file, "stats")
    assert ran.code == 2
    assert "--workspace" in ran.stderr
