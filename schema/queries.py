"""The Query root: reads, always within the viewer's workspace."""

from __future__ import annotations

import strawberry

from schema.context import Info
from schema.inputs import ContactFilter, ContactOrder
from schema.listing import Audience, ContactConnection, contact_connection
from schema.permissions import ADMIN
from schema.sources import SuppressionSummary, is_suppressed, suppression_summary
from schema.types import Bucket, Contact, Node, Stage, Tag, User, Workspace
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
    @strawberry.field
    async def node(self, info: Info, id: strawberry.ID) -> Node | None:
        return await load_node(info, id)

    @strawberry.field(description="The authenticated user.")
    async def viewer(self, info: Info) -> User:
        user = await info.context.loaders.user.load(info.context.viewer.user_id)
        assert user is not None
        return User.from_model(user)

    @strawberry.field
    async def contact(self, info: Info, id: strawberry.ID) -> Contact | None:
        pk = ids.decode(id, "Contact")
        if pk is None:
            return None
        row = await m.Contact.get_or_none(id=pk, workspace_id=info.context.viewer.workspace_id)
        return Contact.from_model(row) if row else None

    @strawberry.field
    async def contacts(
        self,
        info: Info,
        filter: ContactFilter | None = None,
        order_by: ContactOrder | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> ContactConnection:
        return await contact_connection(info, (), filter, order_by, first, after, last, before)

    @strawberry.field(
        description=(
            "The built-in audiences (MY_PEOPLE, ARCHIVED_PEOPLE, ALL_PEOPLE) first, "
            "then saved ones."
        )
    )
    async def audiences(self, info: Info) -> list[Audience]:
        values = await list_audiences(info.context.viewer.workspace_id)
        return [Audience.from_value(value) for value in values]

    @strawberry.field
    async def audience(self, info: Info, id: strawberry.ID) -> Audience | None:
        node = await load_node(info, id)
        return node if isinstance(node, Audience) else None

    @strawberry.field
    async def stages(self, info: Info) -> list[Stage]:
        rows = await m.Stage.filter(workspace_id=info.context.viewer.workspace_id).order_by(
            "position", "id"
        )
        return [Stage.from_model(row) for row in rows]

    @strawberry.field
    async def tags(self, info: Info) -> list[Tag]:
        rows = await m.Tag.filter(workspace_id=info.context.viewer.workspace_id).order_by(
            "name_key", "id"
        )
        return [Tag.from_model(row) for row in rows]

    @strawberry.field
    async def buckets(self, info: Info) -> list[Bucket]:
        rows = await m.Bucket.filter(workspace_id=info.context.viewer.workspace_id).order_by(
            "name", "id"
        )
        return [Bucket.from_model(row) for row in rows]

    @strawberry.field
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
        self, info: Info, email: str | None = None, phone: str | None = None
    ) -> bool:
        return await is_suppressed(info, email, phone)
