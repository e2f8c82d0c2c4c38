"""Per-item results: success types, the RuleViolation members, their unions and payloads.

`violation_result` is the one place where a policy violation becomes a GraphQL type.
"""

from __future__ import annotations

from typing import Annotated

import strawberry

from schema.context import Info
from schema.types import Contact, Interaction, Stage, User
from server.csv_import import MAX_ROW_ERRORS
from server.metrics import count_results
from server.policy import Action, Violation, ViolationCode, violation_message
from server.policy import ViolationCode as ViolationCodeEnum


@strawberry.interface(
    description="Why the action was not applied to one contact. Nothing about that contact changed."
)
class RuleViolation:
    contact_id: strawberry.ID = strawberry.field(
        description=(
            "The ID exactly as the client sent it (or the contact's ID for audience selections)."
        )
    )
    code: ViolationCodeEnum
    message: str = strawberry.field(
        description="A sentence a person can act on, e.g. how to make the contact archivable."
    )


@strawberry.type(
    description=(
        "No contact with this ID in the viewer's workspace "
        "(also for IDs of other workspaces and malformed IDs)."
    )
)
class ContactNotFound(RuleViolation):
    pass


@strawberry.type(
    description=(
        "The contact is archived; the action needs an active contact (or it is archived already)."
    )
)
class ContactIsArchived(RuleViolation):
    contact: Contact


@strawberry.type(description="The contact is active; it must be archived first.")
class ContactNotArchived(RuleViolation):
    contact: Contact


@strawberry.type(
    description=(
        "The contact's stage is LEAD, POTENTIAL or ACTIVE: change or remove the stage first."
    )
)
class ArchiveBlockedByStage(RuleViolation):
    contact: Contact
    stage_pk: strawberry.Private[int]

    @strawberry.field
    async def stage(self, info: Info) -> Stage:
        row = await info.context.loaders.stage.load(self.stage_pk)
        assert row is not None
        return Stage.from_model(row)


@strawberry.type(description="The contact is assigned: remove the assignee first.")
class ArchiveBlockedByAssignee(RuleViolation):
    contact: Contact
    assignee_pk: strawberry.Private[int]

    @strawberry.field
    async def assignee(self, info: Info) -> User:
        row = await info.context.loaders.user.load(self.assignee_pk)
        assert row is not None
        return User.from_model(row)


@strawberry.type(
    description="The contact has no email address (for EMAIL) or phone number (for SMS)."
)
class ContactUnreachable(RuleViolation):
    contact: Contact


@strawberry.type
class ContactArchived:
    contact: Contact


@strawberry.type
class ContactUnarchived:
    contact: Contact


@strawberry.type(description="The contact and its history are gone for good.")
class ContactDeleted:
    contact_id: strawberry.ID
    display_name: str


@strawberry.type
class ContactUpdated:
    contact: Contact


@strawberry.type
class MessageQueued:
    contact: Contact
    interaction: Interaction


ArchiveBlocker = Annotated[
    ArchiveBlockedByStage | ArchiveBlockedByAssignee, strawberry.union("ArchiveBlocker")
]

AnyViolation = (
    ContactNotFound
    | ContactIsArchived
    | ContactNotArchived
    | ArchiveBlockedByStage
    | ArchiveBlockedByAssignee
    | ContactUnreachable
)

ArchiveContactResult = Annotated[
    ContactArchived
    | ContactNotFound
    | ContactIsArchived
    | ArchiveBlockedByStage
    | ArchiveBlockedByAssignee,
    strawberry.union("ArchiveContactResult"),
]
UnarchiveContactResult = Annotated[
    ContactUnarchived | ContactNotFound | ContactNotArchived,
    strawberry.union("UnarchiveContactResult"),
]
DeleteContactResult = Annotated[
    ContactDeleted | ContactNotFound | ContactNotArchived,
    strawberry.union("DeleteContactResult"),
]
UpdateContactResult = Annotated[
    ContactUpdated | ContactNotFound | ContactIsArchived,
    strawberry.union("UpdateContactResult"),
]
SendMessageResult = Annotated[
    MessageQueued | ContactNotFound | ContactIsArchived | ContactUnreachable,
    strawberry.union("SendMessageResult"),
]


def violation_result(
    contact_id: str,
    violation: Violation,
    action: Action,
    contact: Contact | None,
    stage_name: str | None = None,
) -> AnyViolation:
    """The union member for a violation: the one mapping from policy codes to types."""
    code = violation.code
    message = violation_message(violation, action, stage_name)
    common = {"contact_id": strawberry.ID(contact_id), "code": code, "message": message}
    if code is ViolationCode.CONTACT_NOT_FOUND or contact is None:
        return ContactNotFound(
            contact_id=strawberry.ID(contact_id),
            code=ViolationCode.CONTACT_NOT_FOUND,
            message=violation_message(Violation(ViolationCode.CONTACT_NOT_FOUND), action),
        )
    if code is ViolationCode.CONTACT_ARCHIVED:
        return ContactIsArchived(contact=contact, **common)  # type: ignore[arg-type]
    if code is ViolationCode.CONTACT_NOT_ARCHIVED:
        return ContactNotArchived(contact=contact, **common)  # type: ignore[arg-type]
    if code is ViolationCode.ARCHIVE_BLOCKED_BY_STAGE:
        assert violation.stage_id is not None
        return ArchiveBlockedByStage(
            contact=contact,
            stage_pk=violation.stage_id,
            **common,  # type: ignore[arg-type]
        )
    if code is ViolationCode.ARCHIVE_BLOCKED_BY_ASSIGNEE:
        assert violation.assignee_id is not None
        return ArchiveBlockedByAssignee(
            contact=contact,
            assignee_pk=violation.assignee_id,
            **common,  # type: ignore[arg-type]
        )
    return ContactUnreachable(contact=contact, **common)  # type: ignore[arg-type]


def blocker_result(
    contact: Contact, violation: Violation, stage_name: str | None = None
) -> ArchiveBlockedByStage | ArchiveBlockedByAssignee:
    result = violation_result(contact.id, violation, Action.ARCHIVE, contact, stage_name)
    assert isinstance(result, ArchiveBlockedByStage | ArchiveBlockedByAssignee)
    return result


# ---------------------------------------------------------------- payloads


@strawberry.type
class ArchiveContactsPayload:
    results: list[ArchiveContactResult]
    succeeded: int = strawberry.field(
        description="Contacts archived (or that would be, on a dry run)."
    )
    failed: int
    dry_run: bool

    def __post_init__(self) -> None:
        count_results("ArchiveContactsPayload", self.results, dry_run=self.dry_run)


@strawberry.type
class UnarchiveContactsPayload:
    results: list[UnarchiveContactResult]
    succeeded: int
    failed: int
    dry_run: bool

    def __post_init__(self) -> None:
        count_results("UnarchiveContactsPayload", self.results, dry_run=self.dry_run)


@strawberry.type
class DeleteContactsPayload:
    results: list[DeleteContactResult]
    succeeded: int
    failed: int
    dry_run: bool

    def __post_init__(self) -> None:
        count_results("DeleteContactsPayload", self.results, dry_run=self.dry_run)


@strawberry.type
class UpdateContactsPayload:
    results: list[UpdateContactResult]
    succeeded: int
    failed: int

    def __post_init__(self) -> None:
        count_results("UpdateContactsPayload", self.results)


@strawberry.type
class SendMessagePayload:
    results: list[SendMessageResult]
    succeeded: int
    failed: int

    def __post_init__(self) -> None:
        count_results("SendMessagePayload", self.results)


@strawberry.type(description="One field of the input was rejected; nothing was written.")
class InvalidField:
    field: str = strawberry.field(description="The input field's name, e.g. emails[1].")
    message: str


@strawberry.type
class InvalidContactInput:
    errors: list[InvalidField]


@strawberry.type
class ContactCreated:
    contact: Contact


CreateContactResult = Annotated[
    ContactCreated | InvalidContactInput, strawberry.union("CreateContactResult")
]
EditContactResult = Annotated[
    ContactUpdated | ContactNotFound | ContactIsArchived | InvalidContactInput,
    strawberry.union("EditContactResult"),
]


@strawberry.type
class ImportRowError:
    row: int = strawberry.field(
        description="1-based row (CSV: the header is row 1) or list position."
    )
    errors: list[InvalidField]


@strawberry.type(
    description=(
        "Counts of what an import or sync did. A row matches an existing contact by\n"
        "(source, sourceAccount, externalId), else by any email, else by any phone."
    )
)
class ImportReport:
    created: int = strawberry.field(
        description="New contacts, including ones that had been deleted before."
    )
    updated: int = strawberry.field(
        description="Matched contacts whose fields changed. Archived ones stay archived."
    )
    unchanged: int
    kept_archived: int = strawberry.field(
        description="Rows that matched an archived contact (counted in updated or unchanged too)."
    )
    suppressed: int = strawberry.field(
        description="Rows skipped because a deletion with preventResync covers them."
    )
    row_errors: list[ImportRowError] = strawberry.field(
        description=f"The refused rows, by row number: at most {MAX_ROW_ERRORS:,} of them "
        "(rowErrorsTruncated says when there were more)."
    )
    row_error_count: int = strawberry.field(
        description="Every refused row, those beyond the rowErrors list included."
    )
    row_errors_truncated: bool = strawberry.field(
        description="True when rowErrors lists only some of the refused rows."
    )


@strawberry.type
class InteractionLogged:
    interaction: Interaction
    contact: Contact
    contact_created: bool = strawberry.field(
        description="True when the contact did not exist and was created by this interaction."
    )


@strawberry.type
class InteractionSuppressed:
    reason: str = strawberry.field(
        description=(
            "Nothing was stored: the address belongs to a contact deleted with preventResync."
        )
    )


LogInteractionResult = Annotated[
    InteractionLogged | InteractionSuppressed | InvalidContactInput,
    strawberry.union("LogInteractionResult"),
]
