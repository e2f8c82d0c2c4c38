"""What admins see and do beyond contacts: the audit trail and API tokens."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Annotated

import strawberry

from schema.context import Info
from schema.permissions import ADMIN
from schema.types import AFTER, FIRST, PageInfo, User
from server import ids, tokens
from server import models as m
from server.directory import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from server.errors import BadUserInput


@strawberry.enum(description="What an audit entry records.")
class AuditAction(Enum):
    ARCHIVE = strawberry.enum_value("archive", description="Contacts were archived.")
    UNARCHIVE = strawberry.enum_value("unarchive", description="Contacts were unarchived.")
    DELETE = strawberry.enum_value("delete", description="Contacts were deleted for good.")


@strawberry.type(
    description=(
        "One archive, unarchive or delete: who, when and which contacts. "
        "For deleted contacts only their IDs remain. Dry runs are not recorded."
    )
)
class AuditEntry:
    id: strawberry.ID = strawberry.field(description="Opaque; also the entry's cursor.")
    action: AuditAction = strawberry.field(description="What was done.")
    occurred_at: datetime = strawberry.field(description="When, in UTC.")
    contact_ids: list[strawberry.ID] = strawberry.field(
        description="The contacts it applied to (only those that succeeded)."
    )
    contact_count: int = strawberry.field(description="How many contacts: contactIds' length.")
    prevent_resync: bool = strawberry.field(
        description=(
            "For DELETE: whether the deletion keeps automatic sources from re-creating them."
        )
    )
    actor_pk: strawberry.Private[int | None]

    @strawberry.field(description="Who did it; null when not known (e.g. the user was removed).")
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


@strawberry.type(description="One audit entry of a page, with its cursor.")
class AuditEntryEdge:
    cursor: str = strawberry.field(description="Pass it as `after` to read older entries.")
    node: AuditEntry = strawberry.field(description="The entry.")


@strawberry.type(description="A page of the audit trail, newest first (Relay).")
class AuditEntryConnection:
    edges: list[AuditEntryEdge] = strawberry.field(description="The page, newest first.")
    page_info: PageInfo = strawberry.field(description="How to read the next page.")


@strawberry.type(description="An API token; its secret is shown only once, when it is created.")
class ApiToken:
    id: strawberry.ID = strawberry.field(description="Opaque; pass it to revokeApiToken.")
    name: str = strawberry.field(description="What the token was made for, as named at creation.")
    created_at: datetime = strawberry.field(description="When it was created, in UTC.")
    last_used_at: datetime | None = strawberry.field(
        description="When a request last used it; null when none has."
    )
    revoked_at: datetime | None = strawberry.field(
        description="When it was revoked; null while it is valid."
    )
    user: User = strawberry.field(description="Whose token it is: requests act as this user.")

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
        self,
        info: Info,
        first: Annotated[int | None, strawberry.argument(description=FIRST)] = None,
        after: Annotated[str | None, strawberry.argument(description=AFTER)] = None,
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
        description=(
            "Revoke an API token: requests with it are refused (UNAUTHENTICATED) from now on. "
            "ADMIN only."
        ),
    )
    async def revoke_api_token(
        self,
        info: Info,
        id: Annotated[
            strawberry.ID, strawberry.argument(description="An API token's ID (apiTokens).")
        ],
    ) -> ApiToken:
        pk = ids.decode(id, "ApiToken")
        if pk is None:
            raise BadUserInput(f"'{id}' is not an API token ID.")
        row = await tokens.revoke(info.context.viewer.workspace_id, pk)
        await row.fetch_related("user")
        return ApiToken.from_model(row)
