"""The `contacts-server` command and the demo data.

Commands that need a database run in a subprocess: the suite's own Tortoise connection is
global to this process. They use either a fresh SQLite file or the suite's database (whose
rows the autouse fixture empties after each test), so that this process can check what
they wrote.
"""

from __future__ import annotations

import asyncio
import os
import socket
import sqlite3
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from conftest import World

from schema import schema
from server.auth import authenticate
from server.cli import main
from server.contact_text import display_name, search_text, sort_name
from server.demo import BUCKETS, CONTACT_COUNT, DEMO_ADMIN_EMAIL, TAGS, fill_demo
from server.models import (
    ApiToken,
    Bucket,
    Contact,
    ContactBucket,
    ContactHandle,
    ContactTag,
    Interaction,
    Stage,
    Tag,
    User,
    Workspace,
)
from server.policy import (
    ARCHIVE_BLOCKING_CATEGORIES,
    ContactFacts,
    ContactStatus,
    Role,
    StageCategory,
    archive_blockers,
)

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT = 60.0
COMMANDS = ("serve", "migrate", "create-user", "create-token", "export-schema")


@dataclass
class Ran:
    code: int
    stdout: str
    stderr: str

    @property
    def last_line(self) -> str:
        return self.stdout.rstrip("\n").splitlines()[-1]


def cli_environment(**extra: str) -> dict[str, str]:
    """This process's environment, without a DATABASE_URL, with the project importable."""
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    env.update(extra)
    return env


async def start(*args: str, cwd: Path, **env: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "server.cli",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=cwd,
        env=cli_environment(**env),
    )


async def contacts_server(*args: str, cwd: Path, **env: str) -> Ran:
    """Run `contacts-server ARGS` to completion in a subprocess."""
    process = await start(*args, cwd=cwd, **env)
    out, err = await asyncio.wait_for(process.communicate(), TIMEOUT)
    assert process.returncode is not None
    return Ran(process.returncode, out.decode(), err.decode())


def sqlite_url(path: Path) -> str:
    return f"sqlite://{path}"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def assert_one_clean_line(ran: Ran) -> None:
    assert "Traceback" not in ran.stderr + ran.stdout
    assert len(ran.stderr.strip().splitlines()) == 1, ran.stderr


# ---------------------------------------------------------------- no database


def test_export_schema_prints_the_sdl() -> None:
    result = CliRunner().invoke(main, ["export-schema"])
    assert result.exit_code == 0, result.output
    assert "type Mutation" in result.stdout
    assert "archiveContacts" in result.stdout
    assert result.stdout == schema.as_str() + "\n"


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_explains_itself_with_an_example(command: str) -> None:
    result = CliRunner().invoke(main, [command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Example: contacts-server" in result.stdout


def test_serve_help_lists_its_options() -> None:
    result = CliRunner().invoke(main, ["serve", "--help"])
    assert result.exit_code == 0, result.output
    for option in ("--host", "--port", "--workers", "--demo"):
        assert option in result.stdout


def test_a_bad_database_url_option_is_one_clear_line() -> None:
    result = CliRunner().invoke(main, ["--database-url", "mysql://db/crm", "migrate"])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "DATABASE_URL must start with sqlite:// or postgres://" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.output


async def test_a_bad_database_url_in_the_environment_is_one_clear_line(tmp_path: Path) -> None:
    ran = await contacts_server("export-schema", cwd=tmp_path, DATABASE_URL="mysql://db/crm")
    assert ran.code == 2
    assert "DATABASE_URL" in ran.stderr
    assert_one_clean_line(ran)


# ---------------------------------------------------------------- migrate


async def test_migrate_creates_the_tables_of_a_fresh_database(tmp_path: Path) -> None:
    path = tmp_path / "new-directory" / "contacts.sqlite3"
    ran = await contacts_server("--database-url", sqlite_url(path), "migrate", cwd=tmp_path)
    assert ran.code == 0, ran.stderr
    assert "Applied" in ran.stdout
    assert "0001_initial" in ran.stdout
    with sqlite3.connect(path) as connection:
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master")}
    assert {"workspace", "app_user", "api_token", "stage", "contact", "interaction"} <= tables

    again = await contacts_server("--database-url", sqlite_url(path), "migrate", cwd=tmp_path)
    assert again.code == 0, again.stderr
    assert "up to date" in again.stdout


async def test_an_unmigrated_database_says_to_migrate(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "empty.sqlite3")
    ran = await contacts_server(
        "--database-url", url, "create-user", "--workspace", "Acme", "--email", "a@acme.example",
        "--name", "Ada", "--role", "admin", cwd=tmp_path,
    )  # fmt: skip
    assert ran.code == 1
    assert "contacts-server migrate" in ran.stderr
    assert_one_clean_line(ran)


# ---------------------------------------------------------------- create-user


async def test_create_user_prints_a_token_that_authenticates(database: str, tmp_path: Path) -> None:
    ran = await contacts_server(
        "--database-url", database, "create-user", "--workspace", "Initech",
        "--email", " Peter@Initech.Example ", "--name", "Peter Gibbons", "--role", "MEMBER",
        cwd=tmp_path,
    )  # fmt: skip
    assert ran.code == 0, ran.stderr
    assert ran.stderr == ""
    assert "Peter Gibbons <peter@initech.example>" in ran.stdout
    assert "new workspace" in ran.stdout
    token = ran.last_line
    assert token.startswith("cs_")
    assert token.strip() == token
    assert token not in ran.stdout.rstrip("\n").splitlines()[:-1]

    viewer = await authenticate(token)
    assert viewer is not None
    assert viewer.role is Role.MEMBER
    user = await User.get(id=viewer.user_id).prefetch_related("workspace")
    assert user.email == "peter@initech.example"
    assert user.workspace.name == "Initech"
    categories = {s.category for s in await Stage.filter(workspace_id=user.workspace_id)}
    assert categories == set(StageCategory)


async def test_create_user_adds_to_an_existing_workspace(
    world: World, database: str, tmp_path: Path
) -> None:
    ran = await contacts_server(
        "--database-url", database, "create-user", "--workspace", "Acme",
        "--email", "new@acme.test", "--name", "New Admin", "--role", "admin", cwd=tmp_path,
    )  # fmt: skip
    assert ran.code == 0, ran.stderr
    assert "new workspace" not in ran.stdout
    viewer = await authenticate(ran.last_line)
    assert viewer is not None
    assert viewer.role is Role.ADMIN
    assert viewer.workspace_id == world.workspace.id
    assert await Stage.filter(workspace_id=world.workspace.id).count() == len(StageCategory)


async def test_create_user_with_a_taken_email_fails_cleanly(
    world: World, database: str, tmp_path: Path
) -> None:
    users_before = await User.all().count()
    ran = await contacts_server(
        "--database-url", database, "create-user", "--workspace", "Acme",
        "--email", "ADMIN@acme.test", "--name", "Someone Else", "--role", "viewer", cwd=tmp_path,
    )  # fmt: skip
    assert ran.code == 1
    assert ran.stdout == ""
    assert "admin@acme.test" in ran.stderr
    assert "exists" in ran.stderr
    assert_one_clean_line(ran)
    assert await User.all().count() == users_before


def test_create_user_rejects_an_unknown_role() -> None:
    args = ["--workspace", "Acme", "--email", "a@acme.example", "--name", "A", "--role", "owner"]
    result = CliRunner().invoke(main, ["create-user", *args])
    assert result.exit_code == 2
    assert "owner" in result.stderr
    assert "Traceback" not in result.output


# ---------------------------------------------------------------- create-token


async def test_create_token_prints_a_new_token_for_an_existing_user(
    world: World, database: str, tmp_path: Path
) -> None:
    ran = await contacts_server(
        "--database-url", database, "create-token", "--workspace", " Acme ",
        "--email", "VIEWER@acme.test", cwd=tmp_path,
    )  # fmt: skip
    assert ran.code == 0, ran.stderr
    assert ran.stderr == ""
    token = ran.last_line
    assert token.startswith("cs_")
    assert token not in ran.stdout.rstrip("\n").splitlines()[:-1]
    viewer = await authenticate(token)
    assert viewer is not None
    assert (viewer.user_id, viewer.role) == (world.viewer.user.id, Role.VIEWER)
    # The user's other token still works: a new one is added, none replaced.
    assert await authenticate(world.viewer.token) is not None
    assert await User.all().count() == 3


@pytest.mark.parametrize(
    ("workspace", "email", "says"),
    [
        ("Acme", "nobody@acme.test", "No user with the email nobody@acme.test"),
        ("Nowhere", "viewer@acme.test", "There is no workspace 'Nowhere'"),
    ],
)
async def test_create_token_for_someone_unknown_fails_and_makes_no_token(
    world: World, database: str, tmp_path: Path, workspace: str, email: str, says: str
) -> None:
    tokens_before = await ApiToken.all().count()
    ran = await contacts_server(
        "--database-url", database, "create-token", "--workspace", workspace, "--email", email,
        cwd=tmp_path,
    )  # fmt: skip
    assert ran.code == 1
    assert ran.stdout == ""
    assert says in ran.stderr
    assert_one_clean_line(ran)
    assert await ApiToken.all().count() == tokens_before
    assert await Workspace.all().count() == 1


# ---------------------------------------------------------------- serve


async def read_until_token(process: asyncio.subprocess.Process) -> list[str]:
    """The lines `serve` prints before it starts serving, up to the token."""
    assert process.stdout is not None
    lines: list[str] = []
    while True:
        raw = await asyncio.wait_for(process.stdout.readline(), TIMEOUT)
        if not raw:
            stderr = await process.stderr.read() if process.stderr else b""
            raise AssertionError(f"serve ended early: {lines} {stderr.decode()}")
        line = raw.decode().rstrip("\n")
        lines.append(line)
        if line.startswith("cs_") or "create-user" in line:
            if line.startswith("cs_"):
                return lines
            # No token: the address follows.
            lines.append((await asyncio.wait_for(process.stdout.readline(), TIMEOUT)).decode())
            return lines


async def stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        process.terminate()
        try:
            await asyncio.wait_for(process.communicate(), TIMEOUT)
        except TimeoutError:
            process.kill()
            await process.communicate()


async def test_serve_demo_fills_an_empty_database_and_serves_it(
    database: str, tmp_path: Path
) -> None:
    port = free_port()
    process = await start(
        "--database-url", database, "serve", "--demo", "--port", str(port), cwd=tmp_path,
        LOG_LEVEL="WARNING",
    )  # fmt: skip
    try:
        lines = await read_until_token(process)
        address = f"http://127.0.0.1:{port}/graphql"
        assert any(address in line for line in lines), lines
        token = lines[-1]
        viewer = await authenticate(token)
        assert viewer is not None
        assert viewer.role is Role.ADMIN

        query = "{ viewer { name role } audiences { name contactCount } }"
        async with httpx.AsyncClient(timeout=5) as http:
            for _ in range(200):
                try:
                    response = await http.post(
                        address,
                        json={"query": query},
                        headers={"Authorization": f"Bearer {token}"},
                    )
                    break
                except httpx.TransportError:
                    await asyncio.sleep(0.1)
            else:
                raise AssertionError("the server never answered")
        assert response.status_code == 200, response.text
        data = response.json()["data"]
        assert data["viewer"] == {"name": "Demo Admin", "role": "ADMIN"}
        counts = {a["name"]: a["contactCount"] for a in data["audiences"]}
        assert counts["All People"] == CONTACT_COUNT
    finally:
        await stop(process)

    # Again on the same database: no second demo, but a fresh token for its admin.
    process = await start(
        "--database-url", database, "serve", "--demo", "--port", str(port), cwd=tmp_path,
        LOG_LEVEL="WARNING",
    )  # fmt: skip
    try:
        lines = await read_until_token(process)
    finally:
        await stop(process)
    assert any("exists already" in line for line in lines), lines
    assert lines[-1] != token
    again = await authenticate(lines[-1])
    assert again is not None
    assert again.user_id == viewer.user_id
    assert await Workspace.all().count() == 1
    assert await Contact.all().count() == CONTACT_COUNT


async def test_serve_demo_leaves_a_database_with_other_data_alone(
    world: World, database: str, tmp_path: Path
) -> None:
    process = await start(
        "--database-url", database, "serve", "--demo", "--port", str(free_port()), cwd=tmp_path,
        LOG_LEVEL="WARNING",
    )  # fmt: skip
    try:
        lines = await read_until_token(process)
    finally:
        await stop(process)
    text = "\n".join(lines)
    assert "has data already" in text
    assert "contacts-server create-user" in text
    assert "cs_" not in text
    assert await Workspace.all().count() == 1
    assert await Contact.all().count() == 0


async def test_serve_on_a_taken_port_fails_before_it_migrates_or_makes_a_token(
    tmp_path: Path,
) -> None:
    database = tmp_path / "fresh.sqlite3"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        ran = await contacts_server(
            "--database-url", sqlite_url(database), "serve", "--demo", "--port", str(port),
            cwd=tmp_path,
        )  # fmt: skip
    assert ran.code == 1
    assert ran.stdout == ""
    assert f"Port {port} on 127.0.0.1 is in use" in ran.stderr
    assert f"make serve PORT={port + 100}" in ran.stderr
    assert_one_clean_line(ran)
    # Nothing was done: no migration, so no database, so no token.
    assert not database.exists()


# ---------------------------------------------------------------- demo data


async def facts_of(contact: Contact) -> ContactFacts:
    stage = await Stage.get(id=contact.stage_id) if contact.stage_id else None
    return ContactFacts(
        status=ContactStatus(contact.status),
        stage_category=StageCategory(stage.category) if stage else None,
        stage_id=contact.stage_id,
        assignee_id=contact.assignee_id,
        has_email=bool(contact.emails),
        has_phone=bool(contact.phones),
    )


async def test_fill_demo_makes_a_realistic_workspace_that_obeys_the_rules(
    database: str,
) -> None:
    token = await fill_demo()
    viewer = await authenticate(token)
    assert viewer is not None
    assert viewer.role is Role.ADMIN
    admin = await User.get(id=viewer.user_id)
    assert (admin.email, admin.name) == (DEMO_ADMIN_EMAIL, "Demo Admin")

    workspace_id = viewer.workspace_id
    roles = [u.role for u in await User.filter(workspace_id=workspace_id)]
    assert sorted(roles) == sorted([Role.ADMIN, Role.MEMBER, Role.MEMBER, Role.MEMBER, Role.VIEWER])
    members = {u.id for u in await User.filter(workspace_id=workspace_id, role=Role.MEMBER)}
    stages = {
        s.id: StageCategory(s.category) for s in await Stage.filter(workspace_id=workspace_id)
    }

    contacts = await Contact.filter(workspace_id=workspace_id)
    assert len(contacts) == CONTACT_COUNT
    archived = [c for c in contacts if c.archived_at is not None or c.status == "archived"]
    active = [c for c in contacts if c not in archived]
    assert 0.08 * CONTACT_COUNT <= len(archived) <= 0.25 * CONTACT_COUNT

    for contact in archived:
        facts = await facts_of(contact)
        assert facts.status is ContactStatus.ARCHIVED
        assert contact.archived_at is not None
        assert contact.assignee_id is None
        assert facts.stage_category not in ARCHIVE_BLOCKING_CATEGORIES
        # archive_blockers is empty for any archived contact; it must be for the same
        # contact were it active too, or it could never have been archived.
        assert archive_blockers(facts) == []
        assert archive_blockers(facts._replace(status=ContactStatus.ACTIVE)) == []

    for contact in active:
        assert contact.status == ContactStatus.ACTIVE
        assert contact.archived_at is None
    assigned = [c for c in active if c.assignee_id is not None]
    assert {c.assignee_id for c in assigned} <= members
    assert 0.2 * CONTACT_COUNT <= len(assigned) <= 0.4 * CONTACT_COUNT
    no_stage = [c for c in contacts if c.stage_id is None]
    assert 0.1 * CONTACT_COUNT <= len(no_stage) <= 0.35 * CONTACT_COUNT
    assert {stages[c.stage_id] for c in active if c.stage_id is not None} == set(StageCategory)

    handles = 0
    for contact in contacts:
        assert contact.emails or contact.phones
        for email in contact.emails:
            assert email == email.lower()
            assert email.endswith(".example")
        for phone in contact.phones:
            assert phone.startswith("+1555")
            assert len(phone) == 12
            assert phone[1:].isdigit()
        name = display_name(contact.first_name, contact.last_name, contact.emails, contact.phones)
        assert contact.sort_name == sort_name(name)
        assert contact.search_text == search_text(
            contact.first_name, contact.last_name, contact.company, contact.emails, contact.phones
        )
        handles += len(contact.emails) + len(contact.phones)
    assert await ContactHandle.filter(workspace_id=workspace_id).count() == handles

    tags = {t.name for t in await Tag.filter(workspace_id=workspace_id)}
    assert tags == set(TAGS)
    assert await ContactTag.filter(contact__workspace_id=workspace_id).count() > CONTACT_COUNT / 2
    buckets = await Bucket.filter(workspace_id=workspace_id)
    assert {b.name for b in buckets} == set(BUCKETS)
    for bucket in buckets:
        assert await ContactBucket.filter(bucket_id=bucket.id).exists()

    interactions = await Interaction.filter(workspace_id=workspace_id)
    assert len(interactions) >= 2 * CONTACT_COUNT
    now = datetime.now(UTC)
    created = {c.id: c.created_at for c in contacts}
    for interaction in interactions:
        assert now - timedelta(days=366) <= interaction.occurred_at <= now
        assert interaction.occurred_at >= created[interaction.contact_id]
        assert interaction.delivery_status is None


async def test_fill_demo_is_deterministic(database: str) -> None:
    async def people(token: str) -> list[tuple[object, ...]]:
        viewer = await authenticate(token)
        assert viewer is not None
        rows = await Contact.filter(workspace_id=viewer.workspace_id).order_by("id")
        return [(c.first_name, c.last_name, c.company, c.emails, c.phones, c.status) for c in rows]

    first = await people(await fill_demo("Demo"))
    second = await people(await fill_demo("Demo again"))
    assert first == second
