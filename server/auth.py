"""API tokens, users and the viewer a request acts for."""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from server.db import Parameters, connection, row_decoder, transaction
from server.errors import BadUserInput
from server.models import ApiToken, Stage, User, Workspace
from server.policy import DEFAULT_STAGES, Permission, Role, may

TOKEN_PREFIX = "cs_"  # noqa: S105 (a marker that makes leaked tokens easy to scan for)
# Writing last_used_at on every request would turn each read into a write.
LAST_USED_RESOLUTION = timedelta(minutes=1)


@functools.cache
def _token_columns() -> Callable[[Sequence[Any]], tuple[Any, ...]]:
    # Made on first use: the decoder reads Tortoise's zone, which Tortoise.init sets.
    return row_decoder(ApiToken, ("id", "token_hash", "last_used_at"))


@dataclass(frozen=True, slots=True)
class Viewer:
    user_id: int
    workspace_id: int
    role: Role
    token_id: int

    def may(self, permission: Permission) -> bool:
        return may(self.role, permission)


def new_token() -> str:
    """A random token of 256 bits; only its hash is ever stored."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


async def authenticate(token: str) -> Viewer | None:
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    # Looked up by its hash, so an index timing reveals nothing about valid tokens; the final
    # comparison is constant-time all the same.
    digest = hash_token(token)
    # From the replica when the request reads from it: server/app.py asks the primary again
    # when the replica does not know the token (it may be younger than the replica's lag).
    rows = await _token_rows(connection(for_read=True), digest)
    if not rows:
        return None
    token_id, token_hash, last_used_at = _token_columns()(tuple(rows[0])[:3])
    user_id, workspace_id, role = tuple(rows[0])[3:]
    if not hmac.compare_digest(token_hash, digest):
        return None
    now = datetime.now(UTC)
    if last_used_at is None or now - last_used_at > LAST_USED_RESOLUTION:
        # A write, so on the primary even for a request that reads from the replica (the
        # router sends every write there; the standby would refuse it). Until the replica
        # replays it, it still shows the old time, so a replica lagging more than
        # LAST_USED_RESOLUTION behind writes this on each request: a row, by its key.
        await ApiToken.filter(id=token_id).update(last_used_at=now)
    return Viewer(user_id=user_id, workspace_id=workspace_id, role=Role(role), token_id=token_id)


async def _token_rows(client: BaseDBAsyncClient, digest: str) -> list[Any]:
    # Written out: every request asks, and building the query cost more than running it.
    p = Parameters(client)
    sql = (
        'SELECT t."id", t."token_hash", t."last_used_at", '  # noqa: S608 - a placeholder only
        'u."id", u."workspace_id", u."role" '
        'FROM "api_token" AS t JOIN "app_user" AS u ON u."id" = t."user_id" '
        f'WHERE t."token_hash" = {p(digest)} AND t."revoked_at" IS NULL'
    )
    _, rows = await client.execute_query(sql, p.values)
    return list(rows)


async def ensure_workspace(name: str) -> Workspace:
    """The workspace called `name`, created with the five default stages if it is new."""
    name = name.strip()
    if not name:
        raise BadUserInput("A workspace needs a name.")
    async with transaction():
        workspace = await Workspace.get_or_none(name=name)
        if workspace is None:
            workspace = await Workspace.create(name=name, secret=secrets.token_hex(32))
            await Stage.bulk_create(
                [
                    Stage(workspace=workspace, name=label, category=category, position=index)
                    for index, (label, category) in enumerate(DEFAULT_STAGES)
                ]
            )
    return workspace


async def create_user(workspace_name: str, email: str, name: str, role: Role) -> tuple[User, str]:
    """Create a user (and its workspace if new) with an API token; returns the token."""
    email = email.strip().lower()
    if "@" not in email:
        raise BadUserInput(f"'{email}' is not an email address.")
    if not name.strip():
        raise BadUserInput("A user needs a name.")
    async with transaction():
        workspace = await ensure_workspace(workspace_name)
        if await User.exists(workspace=workspace, email=email):
            raise BadUserInput(f"A user with the email {email} exists in this workspace already.")
        user = await User.create(workspace=workspace, email=email, name=name.strip(), role=role)
        token = await issue_token(user)
    return user, token


async def create_token(workspace_name: str, email: str) -> tuple[User, str]:
    """A new API token for the user with `email` in the named workspace; its others stay valid."""
    workspace_name, email = workspace_name.strip(), email.strip().lower()
    user = await User.get_or_none(workspace__name=workspace_name, email=email)
    if user is None:
        if not await Workspace.exists(name=workspace_name):
            raise BadUserInput(f"There is no workspace '{workspace_name}'.")
        raise BadUserInput(
            f"No user with the email {email} in workspace '{workspace_name}': "
            "create one with `contacts-server create-user`."
        )
    return user, await issue_token(user)


async def issue_token(user: User, name: str = "api") -> str:
    token = new_token()
    await ApiToken.create(user=user, token_hash=hash_token(token), name=name)
    return token
