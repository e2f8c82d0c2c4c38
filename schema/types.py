"""The object types of the API. Each wraps a model row; relations resolve through loaders."""

from __future__ import annotations

from collections.abc import Awaitable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Final, Literal

import strawberry
from strawberry.types.enum import has_enum_definition

from schema.context import Info
from schema.loaders import Label
from server import ids
from server import models as m
from server.contact_text import display_name
from server.directory import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, AudienceKind, OrderField
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

MY_PEOPLE_MEANS = (
    '"My People" is every active (not archived) contact of the workspace, whoever is '
    'assigned to it, or nobody; it does not mean "assigned to me" (for that, filter by '
    "assigneeId)."
)


def _register(enum: type[Enum], name: str, description: str, values: Mapping[str, str]) -> None:
    """Register a domain enum as a GraphQL enum under the contract's name, in place (the
    schema uses the very same class as the domain), with a description for every value.

    The domain's enums carry no GraphQL, so the values' descriptions are set here; a value
    without one, or one the enum lacks, fails at import."""
    strawberry.enum(enum, name=name, description=description)
    assert has_enum_definition(enum)
    definition = enum.__strawberry_definition__
    members = {value.name for value in definition.values}
    if members != set(values):
        raise TypeError(f"{name}: describe exactly {sorted(members)}, not {sorted(values)}")
    for value in definition.values:
        value.description = values[value.name]


_register(
    Role,
    "Role",
    "What a user may do. Every user belongs to one workspace and sees only its data.",
    {
        "ADMIN": "Everything, including permanent deletion and workspace settings.",
        "MEMBER": "Reads and changes contacts; cannot delete them permanently.",
        "VIEWER": "Reads only: every mutation is refused with FORBIDDEN.",
    },
)
_register(
    StageCategory,
    "StageCategory",
    (
        "What a stage means to the rules, whatever the workspace calls it. LEAD, POTENTIAL "
        "and ACTIVE keep a contact from being archived; PAST and LOST do not."
    ),
    {
        "LEAD": "Called Lead in a new workspace. Blocks archiving.",
        "POTENTIAL": "Called Potential in a new workspace. Blocks archiving.",
        "ACTIVE": "Called Active in a new workspace. Blocks archiving.",
        "PAST": "Called Past in a new workspace. Does not block archiving.",
        "LOST": "Called Lost in a new workspace. Does not block archiving.",
    },
)
_register(
    ContactStatus,
    "ContactStatus",
    "Whether a contact is in use (ACTIVE) or put out of the way (ARCHIVED).",
    {
        "ACTIVE": (
            "In use: the only status in which a contact can be edited, tagged, put in a "
            "bucket, assigned, given a stage, messaged or archived."
        ),
        "ARCHIVED": (
            "Out of the way, with its data and history kept. It can only be unarchived or "
            "deleted (ADMIN); every other action returns ContactIsArchived for it."
        ),
    },
)
_register(
    ViolationCode,
    "ViolationCode",
    "Why an action was not applied to one contact; each code has its own RuleViolation type.",
    {
        "CONTACT_NOT_FOUND": (
            "No such contact in the viewer's workspace (also other workspaces' and malformed "
            "IDs): ContactNotFound."
        ),
        "CONTACT_ARCHIVED": (
            "The action needs an active contact, or the contact is archived already: "
            "ContactIsArchived."
        ),
        "CONTACT_NOT_ARCHIVED": (
            "Unarchiving and deleting need an archived contact: ContactNotArchived."
        ),
        "ARCHIVE_BLOCKED_BY_STAGE": (
            "The contact's stage is LEAD, POTENTIAL or ACTIVE: ArchiveBlockedByStage."
        ),
        "ARCHIVE_BLOCKED_BY_ASSIGNEE": ("The contact has an assignee: ArchiveBlockedByAssignee."),
        "CONTACT_UNREACHABLE": (
            "No email address (EMAIL) or phone number (SMS) to send to: ContactUnreachable."
        ),
    },
)
_register(
    AudienceKind,
    "AudienceKind",
    "Which list an audience is: one of the three built-in ones, or a saved filter. "
    + MY_PEOPLE_MEANS,
    {
        "MY_PEOPLE": ("Active contacts: the primary view. " + MY_PEOPLE_MEANS),
        "ARCHIVED_PEOPLE": (
            "Archived contacts, out of the way; the only place contacts can be deleted from."
        ),
        "ALL_PEOPLE": "Every contact, active or archived.",
        "SAVED": (
            "A filter saved by a user (saveAudience); it applies to every contact, active or "
            "archived, unless the filter gives a status."
        ),
    },
)
_register(
    OrderField,
    "ContactOrderField",
    "What a list of contacts is sorted by; ties are broken by the contact's ID, so pages "
    "never repeat or skip a contact.",
    {
        "NAME": "The display name, case-insensitively (the default).",
        "CREATED_AT": "When the contact was created.",
        "UPDATED_AT": "When the contact last changed.",
        "ARCHIVED_AT": (
            "When the contact was archived; contacts never archived come after the archived "
            "ones in ascending order (before them in descending order)."
        ),
    },
)
_register(
    m.InteractionKind,
    "InteractionKind",
    "What kind of exchange an interaction records.",
    {
        "EMAIL": "An email (sendMessage with channel EMAIL queues one).",
        "CALL": "A phone call.",
        "MESSAGE": "A text message (sendMessage with channel SMS queues one).",
        "MEETING": "A meeting.",
        "NOTE": "A note written about the contact.",
    },
)
_register(
    m.Direction,
    "Direction",
    "Who started an interaction.",
    {
        "INBOUND": "From the contact to the workspace.",
        "OUTBOUND": "From the workspace to the contact (every message sendMessage queues).",
    },
)
_register(
    MessageChannel,
    "MessageChannel",
    "How sendMessage reaches a contact.",
    {
        "EMAIL": (
            "Queued as an outbound EMAIL interaction; a contact without an email address "
            "gets ContactUnreachable."
        ),
        "SMS": (
            "Queued as an outbound MESSAGE interaction; a contact without a phone number "
            "gets ContactUnreachable."
        ),
    },
)
_register(
    SourceKind,
    "ContactSourceKind",
    "Where synced or imported contacts come from.",
    {
        "PHONE": "A phone's address book (syncContacts).",
        "EMAIL": "A mailbox's address book (syncContacts).",
        "CSV": "A CSV file (importContactsCsv); syncContacts refuses it.",
    },
)


@strawberry.enum(description="Ascending or descending.")
class OrderDirection(Enum):
    ASC = strawberry.enum_value("asc", description="Smallest first: A to Z, oldest first.")
    DESC = strawberry.enum_value("desc", description="Largest first: Z to A, newest first.")


@strawberry.interface(description="An object with a globally unique, opaque ID (Relay).")
class Node:
    id: strawberry.ID = strawberry.field(
        description=(
            "Opaque and stable: store it, pass it back (node, contact, ...), never parse it."
        )
    )


@strawberry.type(
    description=(
        "Where a page sits in its list (Relay). Cursors are opaque and stay valid while "
        "items are added or removed, but only for the same list and order."
    )
)
class PageInfo:
    has_next_page: bool = strawberry.field(
        description="True when a next page exists: pass endCursor as `after` to read it."
    )
    has_previous_page: bool = strawberry.field(
        description="True when an earlier page exists: pass startCursor as `before` to read it."
    )
    start_cursor: str | None = strawberry.field(
        description="The cursor of the page's first edge; null when the page is empty."
    )
    end_cursor: str | None = strawberry.field(
        description="The cursor of the page's last edge; null when the page is empty."
    )


@strawberry.type(
    description="A team's own contacts, stages, tags and buckets; users see only their own."
)
class Workspace(Node):
    name: str = strawberry.field(description="Unique across the server.")

    @classmethod
    def from_model(cls, row: m.Workspace) -> Workspace:
        return cls(id=strawberry.ID(ids.encode("Workspace", row.id)), name=row.name)


@strawberry.type(
    description="A person of the workspace who uses the API; can be a contact's assignee."
)
class User(Node):
    name: str = strawberry.field(description="The user's full name, as shown to others.")
    email: str = strawberry.field(description="The user's email address.")
    role: Role = strawberry.field(description="What the user may do.")
    workspace_id: strawberry.Private[int]

    @strawberry.field(description="The workspace the user belongs to.")
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
    name: str = strawberry.field(
        description="The workspace's own label (renameStage changes it); unique in the workspace."
    )
    category: StageCategory = strawberry.field(
        description="What the stage means to the rules; it never changes."
    )

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


@strawberry.type(
    description=(
        "A label on contacts. tagContacts creates tags as needed; names are unique in the "
        "workspace, compared case-insensitively."
    )
)
class Tag(Node):
    name: str = strawberry.field(description="E.g. VIP; 1 to 100 characters.")

    @classmethod
    def from_model(cls, row: m.Tag | Label) -> Tag:
        return cls(id=strawberry.ID(ids.encode("Tag", row.id)), name=row.name)


@strawberry.type(
    description=(
        "A named group of contacts (createBucket). Only active contacts can be added or "
        "removed; archived ones stay in their buckets."
    )
)
class Bucket(Node):
    name: str = strawberry.field(description="1 to 100 characters.")
    pk: strawberry.Private[int]

    @strawberry.field(description="Contacts in the bucket, active and archived.")
    async def contact_count(self, info: Info) -> int:
        return await info.context.loaders.bucket_size.load(self.pk)

    @classmethod
    def from_model(cls, row: m.Bucket | Label) -> Bucket:
        return cls(id=strawberry.ID(ids.encode("Bucket", row.id)), name=row.name, pk=row.id)


@strawberry.type(
    description=(
        "One entry of a contact's history: logged (logInteraction) or a message queued by "
        "sendMessage. Deleting the contact deletes it."
    )
)
class Interaction(Node):
    kind: m.InteractionKind = strawberry.field(description="What kind of exchange it was.")
    direction: m.Direction = strawberry.field(description="Who started it.")
    occurred_at: datetime = strawberry.field(description="When it happened, in UTC.")
    subject: str | None = strawberry.field(description="Null when none was given.")

    @classmethod
    def from_model(cls, row: m.Interaction) -> Interaction:
        return cls(
            id=strawberry.ID(ids.encode("Interaction", row.id)),
            kind=m.InteractionKind(row.kind),
            direction=m.Direction(row.direction),
            occurred_at=row.occurred_at,
            subject=row.subject,
        )


@strawberry.type(description="One interaction of a page, with its cursor.")
class InteractionEdge:
    cursor: str = strawberry.field(
        description="Pass it as `after` to read the interactions after this one."
    )
    node: Interaction = strawberry.field(description="The interaction.")


@strawberry.type(description="A page of a contact's interactions, newest first (Relay).")
class InteractionConnection:
    edges: list[InteractionEdge] = strawberry.field(description="The page, newest first.")
    page_info: PageInfo = strawberry.field(description="How to read the next page.")
    total_count: int = strawberry.field(description="All the contact's interactions.")


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

# The paging arguments' descriptions, shared by every connection.
FIRST = f"Page size, 0 to {MAX_PAGE_SIZE} (default {DEFAULT_PAGE_SIZE}); more is BAD_USER_INPUT."
AFTER = "An endCursor (or edge cursor) of this list: the page starts after it."
LAST = (
    f"Read backwards: the last 0 to {MAX_PAGE_SIZE} contacts (default {DEFAULT_PAGE_SIZE}) "
    "before `before`; with first it is BAD_USER_INPUT."
)
BEFORE = "A startCursor (or edge cursor) of this list: the page ends before it."
FILTER = "Only contacts that match it; all of them when null."
ORDER_BY = "The order of the list, and of its cursors: NAME, ascending, when null."


@strawberry.type(
    description=(
        "A person in the workspace. Active contacts can be changed, messaged and archived; "
        "archived ones keep their data and history and can only be unarchived or deleted."
    )
)
class Contact(Node):
    first_name: str | None = strawberry.field(description="Null when not known.")
    last_name: str | None = strawberry.field(description="Null when not known.")
    company: str | None = strawberry.field(description="Null when not known.")
    title: str | None = strawberry.field(
        description="The job title, e.g. CTO; null when not known."
    )
    emails: list[str] = strawberry.field(description="Normalized: lower-cased addresses.")
    phones: list[str] = strawberry.field(
        description="Normalized to E.164 where the number can be parsed."
    )
    status: ContactStatus = strawberry.field(
        description="ACTIVE, or ARCHIVED: out of the way, kept until an ADMIN deletes it."
    )
    archived_at: datetime | None = strawberry.field(
        description="When the contact was archived; null while it is active."
    )
    created_at: datetime = strawberry.field(description="When the contact was created, in UTC.")
    updated_at: datetime = strawberry.field(
        description=(
            "When the contact last changed, in UTC: its fields, status, stage, assignee, "
            "tags or buckets."
        )
    )
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

    @strawberry.field(
        description=(
            "The user responsible for the contact; null when unassigned. "
            "An assigned contact cannot be archived."
        ),
        graphql_type=User | None,
    )
    def assignee(self, info: Info) -> User | Awaitable[User | None] | None:
        known = self.preloaded.assignee
        if known is not UNLOADED:
            return known
        return self._load_assignee(info)

    @strawberry.field(description="Sorted by name.", graphql_type=list[Tag])
    def tags(self, info: Info) -> list[Tag] | Awaitable[list[Tag]]:
        known = self.preloaded.tags
        if known is not UNLOADED:
            return known
        return self._load_tags(info)

    @strawberry.field(description="Sorted by name.", graphql_type=list[Bucket])
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
        self,
        info: Info,
        first: Annotated[int | None, strawberry.argument(description=FIRST)] = None,
        after: Annotated[str | None, strawberry.argument(description=AFTER)] = None,
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


@strawberry.type(description="One contact of a page, with its cursor.")
class ContactEdge:
    cursor: str = strawberry.field(
        description=(
            "Pass it as `after` (or `before`) with the same filter and order to read on "
            "from this contact."
        )
    )
    node: Contact = strawberry.field(description="The contact.")
