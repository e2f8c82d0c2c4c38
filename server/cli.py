"""The `contacts-server` command: serve, migrate, create-user, create-token, export-schema, ...

Configuration comes from the environment (and `.env`); `--database-url` overrides
DATABASE_URL for the command and for the server it starts. Failures are one line on
stderr and a non-zero exit code: 1 when the work failed, 2 when the command line or the
configuration is wrong.
"""

from __future__ import annotations

import asyncio
import errno
import os
import socket
import sys
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import click
from pydantic import ValidationError

from server.errors import DomainError
from server.policy import DEFAULT_STAGES, Role
from server.settings import Settings, get_settings

T = TypeVar("T")

EXIT_FAILED = 1
EXIT_USAGE = 2

TOKEN_HINT = "Send it as 'Authorization: Bearer <token>'."  # noqa: S105 (not a secret)
CREATE_USER_EXAMPLE = (
    "contacts-server create-user --workspace Acme --email ada@acme.example "
    "--name 'Ada Lovelace' --role admin"
)


class Failed(click.ClickException):
    """The work failed: one line on stderr, exit code 1."""

    exit_code = EXIT_FAILED


class BadConfiguration(click.ClickException):
    """The configuration is wrong: one line on stderr, exit code 2."""

    exit_code = EXIT_USAGE


# ---------------------------------------------------------------- settings


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _describe(error: ValidationError) -> str:
    problems = []
    for detail in error.errors():
        name = str(detail["loc"][0]).upper() if detail["loc"] else "configuration"
        message = str(detail["msg"]).removeprefix("Value error, ")
        problems.append(message if name in message else f"{name}: {message}")
    return "Invalid configuration: " + "; ".join(problems)


def load_settings(database_url: str | None) -> Settings:
    """The settings from the environment, with `--database-url` over DATABASE_URL."""
    try:
        settings = get_settings() if database_url is None else Settings(database_url=database_url)
    except ValidationError as error:
        raise BadConfiguration(_one_line(_describe(error))) from None
    if database_url is not None:
        # The server (and its worker processes) reads the environment: make the override
        # theirs too, and forget settings read before it.
        os.environ["DATABASE_URL"] = settings.database_url
        get_settings.cache_clear()
    return settings


# ---------------------------------------------------------------- running async work


def _database_failure(error: Exception) -> Failed:
    message = _one_line(str(error)) or type(error).__name__
    lowered = message.lower()
    if "no such table" in lowered or ("relation" in lowered and "does not exist" in lowered):
        return Failed(
            f"The database is not set up: run `contacts-server migrate` first ({message})."
        )
    return Failed(f"Database error: {message}")


def run(work: Coroutine[Any, Any, T]) -> T:
    """Run async work; expected failures become one clear line, never a traceback."""
    from tortoise.exceptions import BaseORMException

    try:
        return asyncio.run(work)
    except click.ClickException:
        raise
    except DomainError as error:
        raise Failed(error.message) from None
    except ValidationError as error:
        raise BadConfiguration(_one_line(_describe(error))) from None
    except BaseORMException as error:
        raise _database_failure(error) from None
    except OSError as error:
        raise Failed(f"Cannot reach the database: {_one_line(str(error))}") from None
    except Exception as error:
        detail = _one_line(str(error))
        raise Failed(
            f"{type(error).__name__}: {detail}" if detail else type(error).__name__
        ) from None


async def connected(database_url: str, work: Callable[[], Awaitable[T]]) -> T:
    """`work` with the database connected, and the connections closed afterwards."""
    from server import db

    try:
        await db.connect(database_url)
        return await work()
    finally:
        await db.disconnect()


async def apply_migrations(database_url: str, *, lock_timeout: float | None = None) -> list[str]:
    """Apply pending migrations under the migration lock, waiting up to `lock_timeout`
    seconds (MIGRATION_LOCK_TIMEOUT when None) for another process's; returns the ones
    applied. Every command that migrates comes here, so that they all take the lock."""
    from server import db
    from server.migration_lock import MigrationLockTimeout

    if lock_timeout is None:
        lock_timeout = get_settings().migration_lock_timeout

    def waiting(lock: str) -> None:
        # Said at once, so that a deploy that seems to hang shows what it waits for.
        click.echo(f"Waiting for another process's migrations ({lock}).")

    try:
        return await db.migrate(database_url, lock_timeout, on_wait=waiting)
    except MigrationLockTimeout as error:
        raise Failed(str(error)) from None


def echo_migrations(applied: list[str]) -> None:
    if applied:
        click.echo(f"Applied {len(applied)} migration(s): {', '.join(applied)}.")
    else:
        click.echo("The database is up to date: no migration to apply.")


# ---------------------------------------------------------------- commands


class _Commands(click.Group):
    """Click's group, with anything unexpected as one line on stderr instead of a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Exception as error:
            detail = _one_line(str(error))
            raise Failed(
                f"{type(error).__name__}: {detail}" if detail else type(error).__name__
            ) from None


@click.group(
    cls=_Commands,
    context_settings={"help_option_names": ["-h", "--help"]},
    epilog="Example: contacts-server --database-url sqlite://./data/contacts.sqlite3 serve --demo",
)
@click.option(
    "--database-url",
    metavar="URL",
    default=None,
    help="Overrides DATABASE_URL (sqlite://PATH or postgres://USER:PASSWORD@HOST/DB).",
)
@click.version_option(package_name="contacts-server")
@click.pass_context
def main(ctx: click.Context, database_url: str | None) -> None:
    """contacts-server: a GraphQL API for a CRM's address book.

    Configuration comes from the environment and a .env file: DATABASE_URL,
    ENVIRONMENT, CORS_ORIGINS, MAX_SELECTION, MAX_UPLOAD_MB, LOG_LEVEL.
    """
    ctx.obj = database_url


@main.command(epilog="Example: contacts-server serve --host 0.0.0.0 --port 8000 --workers 4")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port", default=8000, show_default=True, type=click.IntRange(1, 65535), help="Port."
)
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(min=1),
    help="Worker processes.",
)
@click.option(
    "--demo",
    is_flag=True,
    help="Fill an empty database with a demo workspace and print an ADMIN token.",
)
@click.pass_obj
def serve(database_url: str | None, host: str, port: int, workers: int, demo: bool) -> None:
    """Apply pending migrations, then serve the API (POST/GET /graphql, /healthz, /readyz)."""
    settings = load_settings(database_url)
    url = settings.database_url
    address = f"http://{f'[{host}]' if ':' in host else host}:{port}/graphql"
    # Before any migration or token: a token printed by a server that then cannot listen
    # would be one the user copies for nothing.
    _check_can_listen(host, port)

    async def prepare() -> None:
        echo_migrations(await apply_migrations(url, lock_timeout=settings.migration_lock_timeout))
        if demo:
            await connected(url, lambda: _demo(settings, address))

    run(prepare())

    import uvicorn

    from server.shared_metrics import shared_metrics

    # Before uvicorn starts the workers, which inherit the directory from the environment.
    with shared_metrics(workers):
        uvicorn.run(
            "server.app:create_app",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_level=settings.log_level.lower(),
            # The app logs one JSON line per request itself (server.observability).
            log_config=None,
            access_log=False,
            # On SIGTERM, requests in flight get this long to finish.
            timeout_graceful_shutdown=30,
        )


def _check_can_listen(host: str, port: int) -> None:
    """Fail, with what to do instead, when nothing could listen on host:port."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        # As uvicorn binds: a port left in TIME_WAIT by a server just stopped is free.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                raise Failed(
                    f"Port {port} on {host} is in use by another program: stop it, or choose "
                    f"another port (--port {port + 100}; with make: make serve PORT={port + 100})."
                ) from None
            raise Failed(f"Cannot listen on {host}:{port}: {error.strerror}.") from None


async def _demo(settings: Settings, address: str) -> None:
    from server.auth import issue_token
    from server.demo import DEMO_ADMIN_EMAIL, DEMO_WORKSPACE, fill_demo
    from server.models import Contact, User, Workspace

    where = "Playground" if settings.playground_enabled else "GraphQL endpoint"
    if not await Workspace.exists():
        token = await fill_demo(DEMO_WORKSPACE)
        contacts = await Contact.filter(workspace__name=DEMO_WORKSPACE).count()
        click.echo(f"Created the demo workspace '{DEMO_WORKSPACE}' with {contacts} contacts.")
    else:
        admin = await User.get_or_none(
            workspace__name=DEMO_WORKSPACE, email=DEMO_ADMIN_EMAIL, role=Role.ADMIN
        )
        if admin is None:
            click.echo("The database has data already, so no demo data was added.")
            click.echo(f"Get an API token with: {CREATE_USER_EXAMPLE}")
            click.echo(f"{where}: {address}")
            return
        token = await issue_token(admin, name="demo")
        click.echo(f"The demo workspace '{DEMO_WORKSPACE}' exists already: a new token for it.")
    click.echo(f"{where}: {address}")
    click.echo(f"ADMIN token for {DEMO_ADMIN_EMAIL}. {TOKEN_HINT}")
    click.echo(token)


@main.command(epilog="Example: contacts-server --database-url postgres://crm@localhost/crm migrate")
@click.pass_obj
def migrate(database_url: str | None) -> None:
    """Apply pending database migrations and exit."""
    settings = load_settings(database_url)
    echo_migrations(
        run(apply_migrations(settings.database_url, lock_timeout=settings.migration_lock_timeout))
    )


def _echo_new_token(what: str, token: str) -> None:
    """What was done, then the token alone on the last line, where scripts take it from."""
    click.echo(what)
    click.echo(f"API token (shown only once). {TOKEN_HINT}")
    click.echo(token)


@main.command("create-user", epilog=f"Example: {CREATE_USER_EXAMPLE}")
@click.option("--workspace", required=True, help="Workspace name; created if it is new.")
@click.option("--email", required=True, help="The user's email address.")
@click.option("--name", required=True, help="The user's name.")
@click.option(
    "--role",
    required=True,
    type=click.Choice([role.value for role in Role], case_sensitive=False),
    help="What the user may do.",
)
@click.pass_obj
def create_user(database_url: str | None, workspace: str, email: str, name: str, role: str) -> None:
    """Create a user (and its workspace, if new) with an API token.

    The token is printed alone on the last line; it is shown only this once.
    """
    settings = load_settings(database_url)

    async def work() -> tuple[str, str]:
        from server import auth
        from server.models import Workspace

        new_workspace = not await Workspace.exists(name=workspace.strip())
        user, token = await auth.create_user(workspace, email, name, Role(role.lower()))
        what = (
            f"Created {user.role.value} {user.name} <{user.email}>"
            f" in workspace '{workspace.strip()}'"
        )
        if new_workspace:
            stages = ", ".join(label for label, _ in DEFAULT_STAGES)
            what += f" (a new workspace, with the stages {stages})"
        return what + ".", token

    _echo_new_token(*run(connected(settings.database_url, work)))


CREATE_TOKEN_EXAMPLE = "contacts-server create-token --workspace Demo --email sam@demo.example"  # noqa: S105


@main.command("create-token", epilog=f"Example: {CREATE_TOKEN_EXAMPLE}")
@click.option("--workspace", required=True, help="The user's workspace.")
@click.option("--email", required=True, help="The user's email address.")
@click.pass_obj
def create_token(database_url: str | None, workspace: str, email: str) -> None:
    """Print a new API token for an existing user; the user's other tokens stay valid.

    The token is printed alone on the last line; it is shown only this once.
    """
    settings = load_settings(database_url)

    async def work() -> tuple[str, str]:
        from server import auth

        user, token = await auth.create_token(workspace, email)
        return f"A new token for {user.role.value} {user.name} <{user.email}>.", token

    _echo_new_token(*run(connected(settings.database_url, work)))


@main.command("export-schema", epilog="Example: contacts-server export-schema > schema.graphql")
@click.pass_obj
def export_schema(database_url: str | None) -> None:
    """Print the GraphQL schema (SDL). Needs no database."""
    load_settings(database_url)  # the schema package reads the settings when imported
    try:
        from schema import schema
    except ValidationError as error:
        raise BadConfiguration(_one_line(_describe(error))) from None
    click.echo(schema.as_str())


# ---------------------------------------------------------------- revoke-token, stats

REVOKE_EXAMPLE = 'contacts-server revoke-token "$TOKEN"'
STATS_EXAMPLE = "contacts-server stats --workspace Demo   (or --json for scripts)"


@main.command("revoke-token", epilog=f"Example: {REVOKE_EXAMPLE}")
@click.argument("token")
@click.pass_obj
def revoke_token(database_url: str | None, token: str) -> None:
    """Revoke the API token TOKEN; with '-', the token is read from standard input.

    Reading it from standard input keeps it out of the process list and the shell's
    history: printf '%s' "$TOKEN" | contacts-server revoke-token -

    Only the token's SHA-256 hash is looked up, as the server stores no token itself.
    Exit code 0: the token no longer authenticates (revoked now, or revoked before, as the
    message says). Exit code 1: no token matches, so whichever token was meant still works.
    """
    import sys

    settings = load_settings(database_url)
    from_stdin = token == "-"  # noqa: S105 (the argument that means standard input)
    value = (sys.stdin.read() if from_stdin else token).strip()
    if not value:
        raise click.UsageError("No token given.")

    async def work() -> str:
        from server.auth import hash_token
        from server.models import ApiToken
        from server.tokens import revoke_by_value

        token_hash = hash_token(value)
        revoked_now = await revoke_by_value(token_hash)
        row = (
            await ApiToken.filter(token_hash=token_hash)
            .select_related("user", "user__workspace")
            .first()
        )
        if row is None:
            raise Failed(
                "No API token matches the one given (check for a typo): nothing was revoked."
            )
        whose = (
            f"the API token '{row.name}' of {row.user.email} "
            f"in workspace '{row.user.workspace.name}'"
        )
        if revoked_now:
            return f"Revoked {whose}."
        when = row.revoked_at.strftime("%Y-%m-%d %H:%M UTC") if row.revoked_at else "before"
        return f"Nothing to do: {whose} was revoked already ({when})."

    click.echo(run(connected(settings.database_url, work)))


@main.command(epilog=f"Example: {STATS_EXAMPLE}")
@click.option("--workspace", required=True, help="The workspace's name.")
@click.option("--json", "as_json", is_flag=True, help="Print the numbers as one JSON object.")
@click.pass_obj
def stats(database_url: str | None, workspace: str, as_json: bool) -> None:
    """Count a workspace's contacts per status and per stage.

    Stages are listed in the workspace's order, by their label and category, with the
    contacts that have no stage last. Exit code 1 when there is no such workspace.
    """
    from server.policy import ContactStatus, StageCategory

    settings = load_settings(database_url)

    async def work() -> tuple[str, list[tuple[str, str | None, dict[str, int]]]]:
        from tortoise.functions import Count

        from server.models import Contact, Stage, Workspace

        name = workspace.strip()
        found = await Workspace.get_or_none(name=name)
        if found is None:
            known = await Workspace.all().order_by("name").limit(11).values_list("name", flat=True)
            listed = ", ".join(f"'{n}'" for n in known[:10]) + (", …" if len(known) > 10 else "")
            raise Failed(
                f"No workspace is called '{name}'"
                + (f" (there are: {listed})." if known else " (there are none yet).")
            )
        rows = (
            await Contact.filter(workspace_id=found.id)
            .annotate(count=Count("id"))
            .group_by("status", "stage_id")
            .values("status", "stage_id", "count")
        )
        counts: dict[int | None, dict[str, int]] = {}
        for row in rows:
            status = str(ContactStatus(row["status"]).value)
            per_status = counts.setdefault(row["stage_id"], {})
            per_status[status] = per_status.get(status, 0) + int(row["count"])
        stages = await Stage.filter(workspace_id=found.id).order_by("position", "id")
        table: list[tuple[str, str | None, dict[str, int]]] = [
            (stage.name, StageCategory(stage.category).name, counts.get(stage.id, {}))
            for stage in stages
        ]
        table.append(("(no stage)", None, counts.get(None, {})))
        return found.name, table

    name, table = run(connected(settings.database_url, work))
    statuses = [status.value for status in ContactStatus]
    totals = {status: sum(row.get(status, 0) for _, _, row in table) for status in statuses}
    if as_json:
        import json

        click.echo(
            json.dumps(
                {
                    "workspace": name,
                    "total": sum(totals.values()),
                    "byStatus": totals,
                    "byStage": [
                        {
                            "stage": label,
                            "category": category,
                            **{status: row.get(status, 0) for status in statuses},
                            "total": sum(row.values()),
                        }
                        for label, category, row in table
                    ],
                }
            )
        )
        return

    click.echo(f"Workspace '{name}': {sum(totals.values())} contacts")
    click.echo()
    labels = [f"{label} ({category})" if category else label for label, category, _ in table]
    width = max(len("Stage"), *(len(label) for label in labels))
    columns = [status.title() for status in statuses] + ["Total"]
    header = "Stage".ljust(width) + "".join(f"  {column:>8}" for column in columns)
    click.echo(header)
    click.echo("-" * len(header))
    for label, (_, _, row) in zip(labels, table, strict=True):
        cells = [row.get(status, 0) for status in statuses] + [sum(row.values())]
        click.echo(label.ljust(width) + "".join(f"  {cell:>8}" for cell in cells))
    click.echo("-" * len(header))
    cells = [totals[status] for status in statuses] + [sum(totals.values())]
    click.echo("Total".ljust(width) + "".join(f"  {cell:>8}" for cell in cells))


@main.command(epilog="Example: contacts-server --database-url postgres://crm@localhost/crm recount")
@click.pass_obj
def recount(database_url: str | None) -> None:
    """Rebuild PostgreSQL's tally of contacts per workspace and status from the contacts.

    Audience counts on PostgreSQL read a tally that triggers keep up to date. Data loaded
    with triggers disabled (pg_restore --disable-triggers, session_replication_role =
    replica) bypasses them: run this once afterwards. Writers wait while it runs; readers
    do not. On SQLite counts are always counted, so there is nothing to do.
    """
    settings = load_settings(database_url)

    async def work() -> str:
        from server import db, tallies

        if not db.is_postgres():
            return "Nothing to do: SQLite counts contacts directly and keeps no tally."
        contacts, workspaces = await tallies.recount()
        return f"Recounted {contacts:,} contacts in {workspaces:,} workspace(s)."

    click.echo(run(connected(settings.database_url, work)))


# ---------------------------------------------------------------- import

IMPORT_EXAMPLE = "contacts-server import contacts.csv --workspace Acme"


@main.command("import", epilog=f"Example: {IMPORT_EXAMPLE}")
@click.argument("file", metavar="FILE.csv", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--workspace", required=True, help="The workspace's name.")
@click.pass_obj
def import_file(database_url: str | None, file: Path, workspace: str) -> None:
    """Import FILE.csv into a workspace, as an upload with importContactsCsv would.

    A header row names the columns (first_name, last_name, email, phone, company, title,
    tags; case-insensitive; others are ignored); several emails, phones or tags in a cell
    are separated by ';'. Rows that match a contact (by email, else by phone) update it,
    archived ones stay archived; the others create contacts, also ones deleted before,
    with preventResync or not. The file is checked whole before anything is written, and
    then written 1,000 rows per transaction: importing it again is always safe.

    Exit code 0 when the file was imported, also when some rows were refused (they are
    listed); 1 when the file cannot be imported (nothing of it was written) or the work
    failed.
    """
    from server import csv_import
    from server.sync import ImportResult

    settings = load_settings(database_url)
    try:
        size = file.stat().st_size
    except OSError as error:
        raise Failed(f"Cannot read {file}: {error.strerror or error}.") from None

    async def work() -> ImportResult:
        from server.models import Workspace

        found = await Workspace.get_or_none(name=workspace.strip())
        if found is None:
            raise Failed(f"No workspace is called '{workspace.strip()}'.")
        with click.progressbar(
            length=max(size, 1), label=f"Importing {file.name}", file=sys.stderr
        ) as bar:

            def advance(progress: csv_import.Progress) -> None:
                bar.update(progress.bytes_read - bar.pos)

            # No size limit here: MAX_UPLOAD_MB is for uploads; memory stays flat anyway.
            return await csv_import.import_csv(
                found.id,
                csv_import.file_source(file),
                max_bytes=None,
                total_bytes=size,
                on_progress=advance,
            )

    result = run(connected(settings.database_url, work))
    counts = result.counts
    click.echo(
        f"Imported {file.name} into '{workspace.strip()}': {counts.created} created, "
        f"{counts.updated} updated, {counts.unchanged} unchanged, "
        f"{result.row_error_count} row(s) refused."
    )
    if counts.kept_archived:
        click.echo(f"{counts.kept_archived} of the contacts it matched are archived, and stay so.")
    for refused in result.row_errors:
        problems = "; ".join(f"{e.field}: {e.message}" for e in refused.errors)
        click.echo(f"Row {refused.row}: {problems}")
    if result.row_errors_unlisted:
        click.echo(f"... and {result.row_errors_unlisted} more refused row(s), not listed.")


if __name__ == "__main__":
    main(prog_name="contacts-server")
