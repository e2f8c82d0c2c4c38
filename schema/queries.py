"""The Query root: reads, always within the viewer's workspace."""

from __future__ import annotations

from typing import Annotated

import strawberry

from schema.context import Info
from schema.inputs import ContactFilter, ContactOrder
from schema.listing import Audience, ContactConnection, contact_connection
from schema.permissions import ADMIN
from schema.sources import (
    SUPPRESSED_EMAIL,
    SUPPRESSED_PHONE,
    SuppressionSummary,
    is_suppressed,
    suppression_summary,
)
from schema.types import (
    AFTER,
    BEFORE,
    FILTER,
    FIRST,
    LAST,
    MY_PEOPLE_MEANS,
    ORDER_BY,
    Bucket,
    Contact,
    Node,
    Stage,
    Tag,
    User,
    Workspace,
)
from server import ids
from server import models as m
from server.directory import find_audience, list_audiences


async def load_node(info: Info, global_id: str) -> Node | None:
    """Any object of the viewer's workspace by its global ID; None for anything else."""
    decoded = ids.decode_any(global_id)
    if decoded is None:
        return None
    type_name, key = decoded
    workspace_id = info.context.viewer.workspace_id
    if type_name == "Audience":
        audience = await find_audience(workspace_id, key)
        return Audience.from_value(audience) if audience else None
    pk = ids.decode(global_id, type_name)
    if pk is None:
        return None
    if type_name == "Contact":
        contact = await m.Contact.get_or_none(id=pk, workspace_id=workspace_id)
        return Contact.from_model(contact) if contact else None
    if type_name == "Stage":
        stage = await info.context.loaders.stage.load(pk)
        return Stage.from_model(stage) if stage else None
    if type_name == "User":
        user = await info.context.loaders.user.load(pk)
        return User.from_model(user) if user else None
    if type_name == "Workspace":
        workspace = await info.context.loaders.workspace.load(pk)
        return Workspace.from_model(workspace) if workspace else None
    if type_name == "Tag":
        tag = await m.Tag.get_or_none(id=pk, workspace_id=workspace_id)
        return Tag.from_model(tag) if tag else None
    if type_name == "Bucket":
        bucket = await m.Bucket.get_or_none(id=pk, workspace_id=workspace_id)
        return Bucket.from_model(bucket) if bucket else None
    return None


@strawberry.type
class Query:
    @strawberry.field(
        description=(
            "Any object of the viewer's workspace by its ID; null for an unknown, malformed or "
            "other workspace's ID."
        )
    )
    async def node(
        self, info: Info, id: Annotated[strawberry.ID, strawberry.argument(description="Any ID.")]
    ) -> Node | None:
        return await load_node(info, id)

    @strawberry.field(description="The authenticated user.")
    async def viewer(self, info: Info) -> User:
        user = await info.context.loaders.user.load(info.context.viewer.user_id)
        assert user is not None
        return User.from_model(user)

    @strawberry.field(
        description=(
            "A contact of the viewer's workspace, active or archived; null for an unknown, "
            "malformed, deleted or other workspace's ID."
        )
    )
    async def contact(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="A contact's ID.")],
    ) -> Contact | None:
        pk = ids.decode(id, "Contact")
        if pk is None:
            return None
        row = await m.Contact.get_or_none(id=pk, workspace_id=info.context.viewer.workspace_id)
        return Contact.from_model(row) if row else None

    @strawberry.field(
        description=(
            "Every contact of the workspace, active and archived (All People), in pages; give "
            "filter.status, or read an audience's contacts, for one of them only."
        )
    )
    async def contacts(
        self,
        info: Info,
        filter: Annotated[ContactFilter | None, strawberry.argument(description=FILTER)] = None,
        order_by: Annotated[ContactOrder | None, strawberry.argument(description=ORDER_BY)] = None,
        first: Annotated[int | None, strawberry.argument(description=FIRST)] = None,
        after: Annotated[str | None, strawberry.argument(description=AFTER)] = None,
        last: Annotated[int | None, strawberry.argument(description=LAST)] = None,
        before: Annotated[str | None, strawberry.argument(description=BEFORE)] = None,
    ) -> ContactConnection:
        return await contact_connection(info, (), filter, order_by, first, after, last, before)

    @strawberry.field(
        description=(
            "The built-in audiences (MY_PEOPLE, ARCHIVED_PEOPLE, ALL_PEOPLE) first, "
            "then saved ones. " + MY_PEOPLE_MEANS
        )
    )
    async def audiences(self, info: Info) -> list[Audience]:
        values = await list_audiences(info.context.viewer.workspace_id)
        return [Audience.from_value(value) for value in values]

    @strawberry.field(description="A built-in or saved audience by its ID; null for any other ID.")
    async def audience(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="An audience's ID.")],
    ) -> Audience | None:
        node = await load_node(info, id)
        return node if isinstance(node, Audience) else None

    @strawberry.field(description="The workspace's stages, in pipeline order.")
    async def stages(self, info: Info) -> list[Stage]:
        rows = await m.Stage.filter(workspace_id=info.context.viewer.workspace_id).order_by(
            "position", "id"
        )
        return [Stage.from_model(row) for row in rows]

    @strawberry.field(description="The workspace's tags, by name.")
    async def tags(self, info: Info) -> list[Tag]:
        rows = await m.Tag.filter(workspace_id=info.context.viewer.workspace_id).order_by(
            "name_key", "id"
        )
        return [Tag.from_model(row) for row in rows]

    @strawberry.field(description="The workspace's buckets, by name.")
    async def buckets(self, info: Info) -> list[Bucket]:
        rows = await m.Bucket.filter(workspace_id=info.context.viewer.workspace_id).order_by(
            "name", "id"
        )
        return [Bucket.from_model(row) for row in rows]

    @strawberry.field(
        description="The workspace's users, by name: who contacts can be assigned to."
    )
    async def users(self, info: Info) -> list[User]:
        rows = await m.User.filter(workspace_id=info.context.viewer.workspace_id).order_by(
            "name", "id"
        )
        return [User.from_model(row) for row in rows]

    @strawberry.field(
        permission_classes=ADMIN,
        description=(
            "How many emails, phones and source IDs deletions with preventResync suppress, "
            "and since when; never the addresses. ADMIN only."
        ),
    )
    async def suppressions(self, info: Info) -> SuppressionSummary:
        return await suppression_summary(info)

    @strawberry.field(
        permission_classes=ADMIN,
        description="Whether this email address or phone number (give one) is suppressed.",
    )
    async def is_suppressed(
        self,
        info: Info,
        email: Annotated[str | None, strawberry.argument(description=SUPPRESSED_EMAIL)] = None,
        phone: Annotated[str | None, strawberry.argument(description=SUPPRESSED_PHONE)] = None,
    ) -> bool:
        return await is_suppressed(info, email, phone)
