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
    code: ViolationCodeEnum = strawberry.field(
        description="Which rule refused it, as an enum: one code per RuleViolation type."
    )
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
    contact: Contact = strawberry.field(description="The contact, as it is now.")


@strawberry.type(description="The contact is active; it must be archived first.")
class ContactNotArchived(RuleViolation):
    contact: Contact = strawberry.field(description="The contact, as it is now.")


@strawberry.type(
    description=(
        "The contact's stage is LEAD, POTENTIAL or ACTIVE: change or remove the stage first."
    )
)
class ArchiveBlockedByStage(RuleViolation):
    contact: Contact = strawberry.field(description="The contact, as it is now.")
    stage_pk: strawberry.Private[int]

    @strawberry.field(description="The stage that blocks: set another one, or none, first.")
    async def stage(self, info: Info) -> Stage:
        row = await info.context.loaders.stage.load(self.stage_pk)
        assert row is not None
        return Stage.from_model(row)


@strawberry.type(description="The contact is assigned: remove the assignee first.")
class ArchiveBlockedByAssignee(RuleViolation):
    contact: Contact = strawberry.field(description="The contact, as it is now.")
    assignee_pk: strawberry.Private[int]

    @strawberry.field(
        description="The user it is assigned to: assignContacts with no assignee first."
    )
    async def assignee(self, info: Info) -> User:
        row = await info.context.loaders.user.load(self.assignee_pk)
        assert row is not None
        return User.from_model(row)


@strawberry.type(
    description="The contact has no email address (for EMAIL) or phone number (for SMS)."
)
class ContactUnreachable(RuleViolation):
    contact: Contact = strawberry.field(description="The contact, as it is now.")


@strawberry.type(
    description="The contact was archived (on a dry run: it would be, and nothing changed)."
)
class ContactArchived:
    contact: Contact = strawberry.field(
        description="The contact afterwards (on a dry run: as it is, still active)."
    )


@strawberry.type(
    description="The contact is active again (on a dry run: it would be, and nothing changed)."
)
class ContactUnarchived:
    contact: Contact = strawberry.field(
        description="The contact afterwards (on a dry run: as it is, still archived)."
    )


@strawberry.type(
    description=(
        "The contact and its history are gone for good "
        "(on a dry run: they would be, and nothing changed)."
    )
)
class ContactDeleted:
    contact_id: strawberry.ID = strawberry.field(
        description="The ID exactly as the client sent it (or the contact's ID for audiences)."
    )
    display_name: str = strawberry.field(
        description="The contact's display name, e.g. for an 'Ann Lee was deleted' notice."
    )


@strawberry.type(description="The change was applied to this contact.")
class ContactUpdated:
    contact: Contact = strawberry.field(description="The contact afterwards.")


@strawberry.type(
    description=(
        "The message was queued for this contact as an outbound interaction; "
        "it is delivered later, not by this request."
    )
)
class MessageQueued:
    contact: Contact = strawberry.field(description="The contact the message is for.")
    interaction: Interaction = strawberry.field(
        description="The interaction that holds the message, in the contact's history."
    )


ArchiveBlocker = Annotated[
    ArchiveBlockedByStage | ArchiveBlockedByAssignee,
    strawberry.union(
        "ArchiveBlocker", description="Something that keeps an active contact from being archived."
    ),
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
    strawberry.union(
        "ArchiveContactResult",
        description=(
            "One contact's outcome: archived, or why not (not found, archived already, "
            "blocked by its stage, blocked by its assignee; checked in that order)."
        ),
    ),
]
UnarchiveContactResult = Annotated[
    ContactUnarchived | ContactNotFound | ContactNotArchived,
    strawberry.union(
        "UnarchiveContactResult",
        description="One contact's outcome: unarchived, or why not (not found, not archived).",
    ),
]
DeleteContactResult = Annotated[
    ContactDeleted | ContactNotFound | ContactNotArchived,
    strawberry.union(
        "DeleteContactResult",
        description=(
            "One contact's outcome: deleted, or why not (not found, not archived: "
            "only archived contacts can be deleted)."
        ),
    ),
]
UpdateContactResult = Annotated[
    ContactUpdated | ContactNotFound | ContactIsArchived,
    strawberry.union(
        "UpdateContactResult",
        description=(
            "One contact's outcome: updated, or why not (not found, archived: only active "
            "contacts change)."
        ),
    ),
]
SendMessageResult = Annotated[
    MessageQueued | ContactNotFound | ContactIsArchived | ContactUnreachable,
    strawberry.union(
        "SendMessageResult",
        description=(
            "One contact's outcome: queued, or why not (not found, archived, no email "
            "address or phone number for the channel)."
        ),
    ),
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


@strawberry.type(
    description=(
        "What archiveContacts did: one result per distinct selected contact, in the selection's "
        "order, and the counts. Contacts that fail do not stop the others."
    )
)
class ArchiveContactsPayload:
    results: list[ArchiveContactResult] = strawberry.field(
        description="One per distinct contact, in the order of ids or of the audience."
    )
    succeeded: int = strawberry.field(
        description="Contacts archived (or that would be, on a dry run)."
    )
    failed: int = strawberry.field(description="Results that are RuleViolations.")
    dry_run: bool = strawberry.field(
        description="True when nothing was changed: the results say what would happen."
    )

    def __post_init__(self) -> None:
        count_results("ArchiveContactsPayload", self.results, dry_run=self.dry_run)


@strawberry.type(
    description=(
        "What unarchiveContacts did: one result per distinct selected contact, in the selection's "
        "order, and the counts. Contacts that fail do not stop the others."
    )
)
class UnarchiveContactsPayload:
    results: list[UnarchiveContactResult] = strawberry.field(
        description="One per distinct contact, in the order of ids or of the audience."
    )
    succeeded: int = strawberry.field(description="Results that are successes.")
    failed: int = strawberry.field(description="Results that are RuleViolations.")
    dry_run: bool = strawberry.field(
        description="True when nothing was changed: the results say what would happen."
    )

    def __post_init__(self) -> None:
        count_results("UnarchiveContactsPayload", self.results, dry_run=self.dry_run)


@strawberry.type(
    description=(
        "What deleteContacts did: one result per distinct selected contact, in the selection's "
        "order, and the counts. Contacts that fail do not stop the others."
    )
)
class DeleteContactsPayload:
    results: list[DeleteContactResult] = strawberry.field(
        description="One per distinct contact, in the order of ids or of the audience."
    )
    succeeded: int = strawberry.field(description="Results that are successes.")
    failed: int = strawberry.field(description="Results that are RuleViolations.")
    dry_run: bool = strawberry.field(
        description="True when nothing was changed: the results say what would happen."
    )

    def __post_init__(self) -> None:
        count_results("DeleteContactsPayload", self.results, dry_run=self.dry_run)


@strawberry.type(
    description=(
        "What an edit of a selection (stage, assignee, tags, bucket) did: one result per "
        "distinct selected contact, in the selection's order, and the counts. Contacts that "
        "fail do not stop the others."
    )
)
class UpdateContactsPayload:
    results: list[UpdateContactResult] = strawberry.field(
        description="One per distinct contact, in the order of ids or of the audience."
    )
    succeeded: int = strawberry.field(description="Results that are successes.")
    failed: int = strawberry.field(description="Results that are RuleViolations.")

    def __post_init__(self) -> None:
        count_results("UpdateContactsPayload", self.results)


@strawberry.type(
    description=(
        "What sendMessage did: one result per distinct selected contact, in the selection's "
        "order, and the counts. Contacts that fail do not stop the others."
    )
)
class SendMessagePayload:
    results: list[SendMessageResult] = strawberry.field(
        description="One per distinct contact, in the order of ids or of the audience."
    )
    succeeded: int = strawberry.field(description="Results that are successes.")
    failed: int = strawberry.field(description="Results that are RuleViolations.")

    def __post_init__(self) -> None:
        count_results("SendMessagePayload", self.results)


@strawberry.type(description="One field of the input was rejected; nothing was written.")
class InvalidField:
    field: str = strawberry.field(description="The input field's name, e.g. emails[1].")
    message: str = strawberry.field(
        description="What is wrong, in a sentence to show next to the field."
    )


@strawberry.type(description="The input was refused as a whole; nothing was written.")
class InvalidContactInput:
    errors: list[InvalidField] = strawberry.field(description="Every rejected field at once.")


@strawberry.type(description="The contact was created (active).")
class ContactCreated:
    contact: Contact = strawberry.field(description="The new contact.")


CreateContactResult = Annotated[
    ContactCreated | InvalidContactInput,
    strawberry.union(
        "CreateContactResult",
        description="Created, or InvalidContactInput with every field that was refused.",
    ),
]
EditContactResult = Annotated[
    ContactUpdated | ContactNotFound | ContactIsArchived | InvalidContactInput,
    strawberry.union(
        "EditContactResult",
        description=(
            "Updated, or why not: not found, archived (only active contacts can be edited), "
            "or InvalidContactInput with every field that was refused."
        ),
    ),
]


@strawberry.type(description="A row that was not imported; the other rows were.")
class ImportRowError:
    row: int = strawberry.field(
        description="1-based row (CSV: the header is row 1) or list position."
    )
    errors: list[InvalidField] = strawberry.field(description="Every rejected field of the row.")


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
    unchanged: int = strawberry.field(
        description="Matched contacts that the row left as they were."
    )
    kept_archived: int = strawberry.field(
        description="Rows that matched an archived contact (counted in updated or unchanged too)."
    )
    suppressed: int = strawberry.field(
        description="Rows skipped because a deletion with preventResync covers them."
    )
    row_errors: list[ImportRowError] = strawberry.field(
        description=(
            f"The refused rows, by row number: at most {MAX_ROW_ERRORS:,} of them "
            "(rowErrorsTruncated says when there were more). They do not stop the other rows."
        )
    )
    row_error_count: int = strawberry.field(
        description="Every refused row, those beyond the rowErrors list included."
    )
    row_errors_truncated: bool = strawberry.field(
        description="True when rowErrors lists only some of the refused rows."
    )


@strawberry.type(description="The interaction was stored in the contact's history.")
class InteractionLogged:
    interaction: Interaction = strawberry.field(description="The stored interaction.")
    contact: Contact = strawberry.field(
        description=(
            "The contact it was matched to by email or phone (an archived one stays archived), "
            "or the one created for it."
        )
    )
    contact_created: bool = strawberry.field(
        description="True when the contact did not exist and was created by this interaction."
    )


@strawberry.type(description="The interaction was not stored, and no contact was created.")
class InteractionSuppressed:
    reason: str = strawberry.field(
        description=(
            "Nothing was stored: the address belongs to a contact deleted with preventResync."
        )
    )


LogInteractionResult = Annotated[
    InteractionLogged | InteractionSuppressed | InvalidContactInput,
    strawberry.union(
        "LogInteractionResult",
        description=(
            "Logged, suppressed (nothing stored), or InvalidContactInput (e.g. no usable "
            "email or phone)."
        ),
    ),
]
