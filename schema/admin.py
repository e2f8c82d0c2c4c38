"""What admins see and do beyond contacts: the audit trail and API tokens."""

from __future__ import annotations

from datetime import datetime
from enum import Enum

import strawberry

from schema.context import Info
from schema.permissions import ADMIN
from schema.types import PageInfo, User
from server import ids, tokens
from server import models as m
from server.directory import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from server.errors import BadUserInput


@strawberry.enum
class AuditAction(Enum):
    ARCHIVE = "archive"
    UNARCHIVE = "unarchive"
    DELETE = "delete"


@strawberry.type(
    description=(
        "One archive, unarchive or delete: who, when and which contacts. "
        "For deleted contacts only their IDs remain."
    )
)
class AuditEntry:
    id: strawberry.ID
    action: AuditAction
    occurred_at: datetime
    contact_ids: list[strawberry.ID]
    contact_count: int
    prevent_resync: bool
    actor_pk: strawberry.Private[int | None]

    @strawberry.field
    async def actor(self, info: Info) -> User | None:
        if self.actor_pk is None:
            return None
        row = await info.context.loaders.user.load(self.actor_pk)
        return User.from_model(row) if row else None

    @classmethod
    def from_model(cls, row: m.AuditEntry) -> AuditEntry:
        return cls(
            id=strawberry.ID(ids.encode("AuditEntry", row.id)),
            action=AuditAction(row.action),
            occurred_at=row.occurred_at,
            contact_ids=[strawberry.ID(ids.encode("Contact", pk)) for pk in row.contact_ids],
            contact_count=row.contact_count,
            prevent_resync=row.prevent_resync,
            actor_pk=row.actor_id,
        )


@strawberry.type
class AuditEntryEdge:
    cursor: str
    node: AuditEntry


@strawberry.type
class AuditEntryConnection:
    edges: list[AuditEntryEdge]
    page_info: PageInfo


@strawberry.type(description="An API token; its secret is shown only once, when it is created.")
class ApiToken:
    id: strawberry.ID
    name: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None
    user: User

    @classmethod
    def from_model(cls, row: m.ApiToken) -> ApiToken:
        return cls(
            id=strawberry.ID(ids.encode("ApiToken", row.id)),
            name=row.name,
            created_at=row.created_at,
            last_used_at=row.last_used_at,
            revoked_at=row.revoked_at,
            user=User.from_model(row.user),
        )


@strawberry.type
class AdminQuery:
    @strawberry.field(
        permission_classes=ADMIN,
        description="Archives, unarchives and deletions, newest first. ADMIN only.",
    )
    async def audit_trail(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> AuditEntryConnection:
        size = DEFAULT_PAGE_SIZE if first is None else first
        if not 0 <= size <= MAX_PAGE_SIZE:
            raise BadUserInput(f"'first' must be between 0 and {MAX_PAGE_SIZE}.")
        query = m.AuditEntry.filter(workspace_id=info.context.viewer.workspace_id)
        if after is not None:
            after_pk = ids.decode(after, "AuditEntry")
            if after_pk is None:
                raise BadUserInput("The cursor is not valid for this list.")
            query = query.filter(id__lt=after_pk)
        rows = await query.order_by("-id").limit(size + 1)
        entries = [AuditEntry.from_model(row) for row in rows[:size]]
        return AuditEntryConnection(
            edges=[AuditEntryEdge(cursor=entry.id, node=entry) for entry in entries],
            page_info=PageInfo(
                has_next_page=len(rows) > size,
                has_previous_page=after is not None,
                start_cursor=entries[0].id if entries else None,
                end_cursor=entries[-1].id if entries else None,
            ),
        )

    @strawberry.field(permission_classes=ADMIN, description="The workspace's API tokens.")
    async def api_tokens(self, info: Info) -> list[ApiToken]:
        rows = await tokens.workspace_tokens(info.context.viewer.workspace_id)
        return [ApiToken.from_model(row) for row in rows]


@strawberry.type
class AdminMutation:
    @strawberry.mutation(
        permission_classes=ADMIN,
        description="Revoke an API token: requests with it are refused from now on.",
    )
    async def revoke_api_token(self, info: Info, id: strawberry.ID) -> ApiToken:
        pk = ids.decode(id, "ApiToken")
        if pk is None:
            raise BadUserInput(f"'{id}' is not an API token ID.")
        row = await tokens.revoke(info.context.viewer.workspace_id, pk)
        await row.fetch_related("user")
        return ApiToken.from_model(row)
