"""Test harness: one migrated database per run (SQLite or PostgreSQL), emptied per test.

`pytest --db=sqlite` (default) uses a file under a temporary directory; `pytest --db=postgres`
uses TEST_DATABASE_URL, or a throwaway PostgreSQL cluster (tests/pgcluster.py). A run that
cannot reach PostgreSQL fails; it never skips.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from pgcluster import postgres_database

from server import db, handles, ids
from server.app import create_app
from server.auth import create_user, ensure_workspace
from server.contact_text import display_name, search_text, sort_name
from server.models import Contact, ContactBucket, ContactTag, Stage, Tag, User, Workspace
from server.policy import ContactStatus, Role, StageCategory
from server.settings import Environment, Settings

TABLES = (
    "interaction",
    "contact_tag",
    "contact_handle",
    "contact_bucket",
    "contact",
    "saved_audience",
    "audit_entry",
    "suppression",
    "tag",
    "bucket",
    "api_token",
    "app_user",
    "stage",
    "workspace",
)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--db",
        choices=("sqlite", "postgres"),
        default="sqlite",
        help="the database the suite runs on",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    other, reason = (
        ("sqlite_only", "runs in the SQLite pass (make test)")
        if config.getoption("--db") == "postgres"
        else ("postgres_only", "runs in the PostgreSQL pass (make test)")
    )
    for item in items:
        if item.get_closest_marker(other):
            item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="session")
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    if request.config.getoption("--db") == "postgres":
        with postgres_database() as url:
            yield url
    else:
        path = Path(tmp_path_factory.mktemp("sqlite")) / "contacts.sqlite3"
        yield f"sqlite://{path}"


@pytest.fixture(scope="session")
async def database(database_url: str) -> AsyncIterator[str]:
    await db.migrate(database_url)
    await db.connect(database_url)
    try:
        yield database_url
    finally:
        await db.disconnect()


@pytest.fixture(autouse=True)
async def empty_database(database: str) -> AsyncIterator[None]:
    yield
    connection = db.connection()
    if db.is_postgres():
        await connection.execute_script(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE;")
    else:
        await connection.execute_script("".join(f"DELETE FROM {table};" for table in TABLES))  # noqa: S608


@pytest.fixture
def settings(database: str) -> Settings:
    # Rate limits have their own tests; elsewhere they would only make tests flaky.
    return Settings(database_url=database, environment=Environment.TEST, rate_limit_per_minute=0)


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, manage_database=False)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


# ---------------------------------------------------------------- people and data


@dataclass
class Person:
    user: User
    token: str

    @property
    def id(self) -> str:
        return ids.encode("User", self.user.id)


@dataclass
class World:
    """A workspace with an admin, a member and a viewer, and helpers to fill it."""

    workspace: Workspace
    admin: Person
    member: Person
    viewer: Person
    stages: dict[StageCategory, Stage]

    def stage_id(self, category: StageCategory) -> str:
        return ids.encode("Stage", self.stages[category].id)

    async def contact(
        self,
        first_name: str | None = "Ada",
        last_name: str | None = "Lovelace",
        *,
        emails: list[str] | None = None,
        phones: list[str] | None = None,
        company: str | None = None,
        stage: StageCategory | None = None,
        assignee: Person | None = None,
        archived: bool = False,
        tags: list[str] | None = None,
    ) -> Contact:
        emails = emails or []
        phones = phones or []
        now = datetime.now(UTC)
        contact = await Contact.create(
            workspace=self.workspace,
            first_name=first_name,
            last_name=last_name,
            company=company,
            emails=emails,
            phones=phones,
            sort_name=sort_name(display_name(first_name, last_name, emails, phones)),
            search_text=search_text(first_name, last_name, company, emails, phones),
            status=ContactStatus.ARCHIVED if archived else ContactStatus.ACTIVE,
            archived_at=now if archived else None,
            stage=self.stages[stage] if stage else None,
            assignee=assignee.user if assignee else None,
            created_at=now,
            updated_at=now,
        )
        await handles.reindex(self.workspace.id, [contact], fresh=True)
        for name in tags or []:
            tag, _ = await Tag.get_or_create(
                workspace=self.workspace, name_key=name.casefold(), defaults={"name": name}
            )
            await ContactTag.create(contact=contact, tag=tag)
        return contact


async def make_world(name: str = "Acme") -> World:
    workspace = await ensure_workspace(name)
    people = {}
    for role in Role:
        user, token = await create_user(
            name, f"{role.value}@{name.lower()}.test", f"{role.value.title()} {name}", role
        )
        people[role] = Person(user, token)
    stages = {
        StageCategory(stage.category): stage for stage in await Stage.filter(workspace=workspace)
    }
    return World(workspace, people[Role.ADMIN], people[Role.MEMBER], people[Role.VIEWER], stages)


@pytest.fixture
async def world(database: str) -> World:
    return await make_world("Acme")


@pytest.fixture
async def other_world(database: str) -> World:
    return await make_world("Globex")


# ---------------------------------------------------------------- GraphQL


@dataclass
class GraphQL:
    http: httpx.AsyncClient

    async def raw(
        self, query: str, variables: dict[str, Any] | None = None, token: str | None = None
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return await self.http.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
        )

    async def __call__(
        self, query: str, variables: dict[str, Any] | None = None, *, as_: Person
    ) -> dict[str, Any]:
        """The `data` of a successful operation; fails the test on any error."""
        response = await self.raw(query, variables, as_.token)
        body = response.json()
        assert response.status_code == 200, body
        assert "errors" not in body, body["errors"]
        data: dict[str, Any] = body["data"]
        return data

    async def error(
        self, query: str, variables: dict[str, Any] | None = None, *, as_: Person
    ) -> tuple[str, str, dict[str, Any] | None]:
        """(code, message, data) of an operation that must fail."""
        response = await self.raw(query, variables, as_.token)
        body = response.json()
        assert response.status_code == 200, body
        assert body.get("errors"), body
        error = body["errors"][0]
        return error["extensions"]["code"], error["message"], body.get("data")


@pytest.fixture
def gql(client: httpx.AsyncClient) -> GraphQL:
    return GraphQL(client)


def gid(contact: Contact) -> str:
    return ids.encode("Contact", contact.id)


# ---------------------------------------------------------------- counting statements


@dataclass
class StatementLog:
    statements: list[str]

    @property
    def count(self) -> int:
        return len(self.statements)


STATEMENT_VERBS = frozenset({"SELECT", "INSERT", "UPDATE", "DELETE", "WITH"})


class _Collector(logging.Handler):
    def __init__(self, log: StatementLog) -> None:
        super().__init__(logging.DEBUG)
        self.log = log

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage().lstrip()
        if text.split(" ", 1)[0].upper() in STATEMENT_VERBS:
            self.log.statements.append(text)


@contextlib.contextmanager
def count_statements() -> Iterator[StatementLog]:
    """Every SQL statement Tortoise sends while the block runs."""
    logger = logging.getLogger("tortoise.db_client")
    log = StatementLog([])
    handler = _Collector(log)
    previous = logger.level
    logger.setLevel(logging.DEBUG)
    logger.addHandler(handler)
    try:
        yield log
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)


async def refetch(contact: Contact) -> Contact | None:
    return await Contact.get_or_none(id=contact.id)


async def bucket_of(world: World, name: str, *contacts: Contact) -> str:
    from server.models import Bucket

    bucket = await Bucket.create(workspace=world.workspace, name=name)
    for contact in contacts:
        await ContactBucket.create(contact=contact, bucket=bucket)
    return ids.encode("Bucket", bucket.id)
