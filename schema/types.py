"""The object types of the API. Each wraps a model row; relations resolve through loaders."""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Final, Literal

import strawberry

from schema.context import Info
from schema.loaders import Label
from server import ids
from server import models as m
from server.contact_text import display_name
from server.directory import AudienceKind, OrderField
from server.lifecycle import facts_of
from server.policy import (
    ContactStatus,
    MessageChannel,
    Role,
    SourceKind,
    StageCategory,
    ViolationCode,
    archive_blockers,
    stage_blocks_archive,
)

if TYPE_CHECKING:
    from schema.results import ArchiveBlocker

# The domain's enums, registered as GraphQL enums under the contract's names (in place:
# the schema uses the very same classes as the domain).
for _enum, _name in (
    (Role, "Role"),
    (StageCategory, "StageCategory"),
    (ContactStatus, "ContactStatus"),
    (ViolationCode, "ViolationCode"),
    (AudienceKind, "AudienceKind"),
    (OrderField, "ContactOrderField"),
    (m.InteractionKind, "InteractionKind"),
    (m.Direction, "Direction"),
    (MessageChannel, "MessageChannel"),
    (SourceKind, "ContactSourceKind"),
):
    strawberry.enum(_enum, name=_name)


@strawberry.enum
class OrderDirection(Enum):
    ASC = "asc"
    DESC = "desc"


@strawberry.interface(description="An object with a globally unique, opaque ID (Relay).")
class Node:
    id: strawberry.ID


@strawberry.type
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


@strawberry.type
class Workspace(Node):
    name: str

    @classmethod
    def from_model(cls, row: m.Workspace) -> Workspace:
        return cls(id=strawberry.ID(ids.encode("Workspace", row.id)), name=row.name)


@strawberry.type
class User(Node):
    name: str
    email: str
    role: Role
    workspace_id: strawberry.Private[int]

    @strawberry.field
    async def workspace(self, info: Info) -> Workspace:
        row = await info.context.loaders.workspace.load(self.workspace_id)
        assert row is not None
        return Workspace.from_model(row)

    @classmethod
    def from_model(cls, row: m.User) -> User:
        return cls(
            id=strawberry.ID(ids.encode("User", row.id)),
            name=row.name,
            email=row.email,
            role=Role(row.role),
            workspace_id=row.workspace_id,
        )


@strawberry.type(
    description=(
        "Pipeline stages. A workspace may label them its own way (Lead may read\n"
        '"Warm", Potential "Hot", Active "In Contract", Past "Inactive"); the rules\n'
        "key on the category, never on the label."
    )
)
class Stage(Node):
    name: str
    category: StageCategory

    @strawberry.field(
        description=(
            "True for LEAD, POTENTIAL and ACTIVE: a contact in this stage cannot be archived."
        )
    )
    def blocks_archive(self) -> bool:
        return stage_blocks_archive(self.category)

    @classmethod
    def from_model(cls, row: m.Stage) -> Stage:
        return cls(
            id=strawberry.ID(ids.encode("Stage", row.id)),
            name=row.name,
            category=StageCategory(row.category),
        )


@strawberry.type
class Tag(Node):
    name: str

    @classmethod
    def from_model(cls, row: m.Tag | Label) -> Tag:
        return cls(id=strawberry.ID(ids.encode("Tag", row.id)), name=row.name)


@strawberry.type
class Bucket(Node):
    name: str
    pk: strawberry.Private[int]

    @strawberry.field
    async def contact_count(self, info: Info) -> int:
        return await info.context.loaders.bucket_size.load(self.pk)

    @classmethod
    def from_model(cls, row: m.Bucket | Label) -> Bucket:
        return cls(id=strawberry.ID(ids.encode("Bucket", row.id)), name=row.name, pk=row.id)


@strawberry.type
class Interaction(Node):
    kind: m.InteractionKind
    direction: m.Direction
    occurred_at: datetime
    subject: str | None

    @classmethod
    def from_model(cls, row: m.Interaction) -> Interaction:
        return cls(
            id=strawberry.ID(ids.encode("Interaction", row.id)),
            kind=m.InteractionKind(row.kind),
            direction=m.Direction(row.direction),
            occurred_at=row.occurred_at,
            subject=row.subject,
        )


@strawberry.type
class InteractionEdge:
    cursor: str
    node: Interaction


@strawberry.type
class InteractionConnection:
    edges: list[InteractionEdge]
    page_info: PageInfo
    total_count: int


ArchiveBlockerType = Annotated["ArchiveBlocker", strawberry.lazy("schema.results")]


class _Unloaded(Enum):
    UNLOADED = "unloaded"


UNLOADED: Final = _Unloaded.UNLOADED
Unloaded = Literal[_Unloaded.UNLOADED]


@dataclass(frozen=True, slots=True)
class Preloaded:
    """Relations a list fetched for its whole page at once; UNLOADED ones go through loaders.

    A page's contacts then resolve these fields without a coroutine each."""

    stage: Stage | Unloaded | None = UNLOADED
    assignee: User | Unloaded | None = UNLOADED
    tags: list[Tag] | Unloaded = UNLOADED
    buckets: list[Bucket] | Unloaded = UNLOADED


NOTHING_PRELOADED: Final = Preloaded()


@strawberry.type
class Contact(Node):
    first_name: str | None
    last_name: str | None
    company: str | None
    title: str | None
    emails: list[str] = strawberry.field(description="Normalized: lower-cased addresses.")
    phones: list[str] = strawberry.field(
        description="Normalized to E.164 where the number can be parsed."
    )
    status: ContactStatus
    archived_at: datetime | None
    created_at: datetime
    updated_at: datetime
    row: strawberry.Private[m.Contact]
    preloaded: strawberry.Private[Preloaded] = NOTHING_PRELOADED

    @strawberry.field(
        description="Never empty: the name, else the first email, else the first phone."
    )
    def display_name(self) -> str:
        return display_name(self.first_name, self.last_name, self.emails, self.phones)

    # Plain resolvers: a list's contacts answer from `preloaded` without a coroutine each
    # (graphql-core awaits what they return when it is the loader's awaitable instead).
    @strawberry.field(description="Null when the contact has no stage.", graphql_type=Stage | None)
    def stage(self, info: Info) -> Stage | Awaitable[Stage | None] | None:
        known = self.preloaded.stage
        if known is not UNLOADED:
            return known
        return self._load_stage(info)

    @strawberry.field(graphql_type=User | None)
    def assignee(self, info: Info) -> User | Awaitable[User | None] | None:
        known = self.preloaded.assignee
        if known is not UNLOADED:
            return known
        return self._load_assignee(info)

    @strawberry.field(graphql_type=list[Tag])
    def tags(self, info: Info) -> list[Tag] | Awaitable[list[Tag]]:
        known = self.preloaded.tags
        if known is not UNLOADED:
            return known
        return self._load_tags(info)

    @strawberry.field(graphql_type=list[Bucket])
    def buckets(self, info: Info) -> list[Bucket] | Awaitable[list[Bucket]]:
        known = self.preloaded.buckets
        if known is not UNLOADED:
            return known
        return self._load_buckets(info)

    async def _load_stage(self, info: Info) -> Stage | None:
        if self.row.stage_id is None:
            return None
        row = await info.context.loaders.stage.load(self.row.stage_id)
        return Stage.from_model(row) if row else None

    async def _load_assignee(self, info: Info) -> User | None:
        if self.row.assignee_id is None:
            return None
        row = await info.context.loaders.user.load(self.row.assignee_id)
        return User.from_model(row) if row else None

    async def _load_tags(self, info: Info) -> list[Tag]:
        return [Tag.from_model(row) for row in await info.context.loaders.tags_of.load(self.row.id)]

    async def _load_buckets(self, info: Info) -> list[Bucket]:
        rows = await info.context.loaders.buckets_of.load(self.row.id)
        return [Bucket.from_model(row) for row in rows]

    @strawberry.field(
        description=(
            "What would stop archiving this contact now; "
            "empty when it can be archived or is archived."
        )
    )
    async def archive_blockers(self, info: Info) -> list[ArchiveBlockerType]:
        from schema.results import blocker_result

        category: dict[int, StageCategory] = {}
        stage_name = None
        if self.row.stage_id is not None:
            stage = await info.context.loaders.stage.load(self.row.stage_id)
            if stage is not None:
                category[stage.id] = StageCategory(stage.category)
                stage_name = stage.name
        facts = facts_of(self.row, category)
        return [
            blocker_result(self, violation, stage_name) for violation in archive_blockers(facts)
        ]

    @strawberry.field(
        description="The contact's history, newest first. Archiving keeps it; deleting removes it."
    )
    async def interactions(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> InteractionConnection:
        from schema.history import interaction_page

        return await interaction_page(info, self.row.id, first, after)

    @classmethod
    def from_model(cls, row: m.Contact, *, preloaded: Preloaded = NOTHING_PRELOADED) -> Contact:
        return cls(
            id=strawberry.ID(ids.encode("Contact", row.id)),
            first_name=row.first_name,
            last_name=row.last_name,
            company=row.company,
            title=row.title,
            emails=list(row.emails),
            phones=list(row.phones),
            status=ContactStatus(row.status),
            archived_at=row.archived_at,
            created_at=row.created_at,
            updated_at=row.updated_at,
            row=row,
            preloaded=preloaded,
        )


@strawberry.type
class ContactEdge:
    cursor: str
    node: Contact
