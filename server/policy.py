"""The rules of the contact lifecycle, in one place.

Pure functions over plain values: no ORM, no GraphQL. Every caller (resolvers, the
`archivable` filter, sync, the CLI) asks these functions; none restates a rule.
A rule is also published as a `Requirement`, so that the data layer can re-check it inside
the very statement that writes (a conditional UPDATE), instead of writing it a second time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum, StrEnum
from typing import NamedTuple


class Role(StrEnum):
    ADMIN = "admin"
    MEMBER = "member"
    VIEWER = "viewer"


class ContactStatus(StrEnum):
    ACTIVE = "active"
    ARCHIVED = "archived"


class StageCategory(StrEnum):
    LEAD = "lead"
    POTENTIAL = "potential"
    ACTIVE = "active"
    PAST = "past"
    LOST = "lost"


ARCHIVE_BLOCKING_CATEGORIES = frozenset(
    {StageCategory.LEAD, StageCategory.POTENTIAL, StageCategory.ACTIVE}
)

DEFAULT_STAGES: tuple[tuple[str, StageCategory], ...] = (
    ("Lead", StageCategory.LEAD),
    ("Potential", StageCategory.POTENTIAL),
    ("Active", StageCategory.ACTIVE),
    ("Past", StageCategory.PAST),
    ("Lost", StageCategory.LOST),
)


def stage_blocks_archive(category: StageCategory | None) -> bool:
    return category in ARCHIVE_BLOCKING_CATEGORIES


class ViolationCode(Enum):
    CONTACT_NOT_FOUND = "contact_not_found"
    CONTACT_ARCHIVED = "contact_archived"
    CONTACT_NOT_ARCHIVED = "contact_not_archived"
    ARCHIVE_BLOCKED_BY_STAGE = "archive_blocked_by_stage"
    ARCHIVE_BLOCKED_BY_ASSIGNEE = "archive_blocked_by_assignee"
    CONTACT_UNREACHABLE = "contact_unreachable"


class Action(StrEnum):
    ARCHIVE = "archive"
    UNARCHIVE = "unarchive"
    DELETE = "delete"
    EDIT = "edit"
    MESSAGE_EMAIL = "message_email"
    MESSAGE_SMS = "message_sms"


class MessageChannel(StrEnum):
    EMAIL = "email"
    SMS = "sms"


class SourceKind(StrEnum):
    PHONE = "phone"
    EMAIL = "email"
    CSV = "csv"


class ContactFacts(NamedTuple):
    """What the rules need to know about one contact (one is made per selected contact, so a
    NamedTuple: immutable, and cheaper to build than a frozen dataclass)."""

    status: ContactStatus
    stage_category: StageCategory | None = None
    stage_id: int | None = None
    assignee_id: int | None = None
    has_email: bool = False
    has_phone: bool = False


@dataclass(frozen=True, slots=True)
class Violation:
    """Why an action may not apply to a contact; carries what the client needs to act."""

    code: ViolationCode
    stage_id: int | None = None
    assignee_id: int | None = None


@dataclass(frozen=True, slots=True)
class Requirement:
    """The state a contact must be in for an action, as data the data layer can enforce."""

    status: ContactStatus
    stage_must_not_block: bool = False
    must_be_unassigned: bool = False
    needs_email: bool = False
    needs_phone: bool = False


REQUIREMENTS: dict[Action, Requirement] = {
    Action.ARCHIVE: Requirement(
        ContactStatus.ACTIVE, stage_must_not_block=True, must_be_unassigned=True
    ),
    Action.UNARCHIVE: Requirement(ContactStatus.ARCHIVED),
    Action.DELETE: Requirement(ContactStatus.ARCHIVED),
    Action.EDIT: Requirement(ContactStatus.ACTIVE),
    Action.MESSAGE_EMAIL: Requirement(ContactStatus.ACTIVE, needs_email=True),
    Action.MESSAGE_SMS: Requirement(ContactStatus.ACTIVE, needs_phone=True),
}

_WRONG_STATUS: dict[ContactStatus, ViolationCode] = {
    # The contact must be active but is archived, or must be archived but is active.
    ContactStatus.ACTIVE: ViolationCode.CONTACT_ARCHIVED,
    ContactStatus.ARCHIVED: ViolationCode.CONTACT_NOT_ARCHIVED,
}


def violations(action: Action, facts: ContactFacts) -> list[Violation]:
    """Every reason `action` may not apply to this contact, in the contract's order."""
    requirement = REQUIREMENTS[action]
    if facts.status is not requirement.status:
        return [Violation(_WRONG_STATUS[requirement.status])]
    found: list[Violation] = []
    if requirement.stage_must_not_block and stage_blocks_archive(facts.stage_category):
        found.append(Violation(ViolationCode.ARCHIVE_BLOCKED_BY_STAGE, stage_id=facts.stage_id))
    if requirement.must_be_unassigned and facts.assignee_id is not None:
        found.append(
            Violation(ViolationCode.ARCHIVE_BLOCKED_BY_ASSIGNEE, assignee_id=facts.assignee_id)
        )
    if (requirement.needs_email and not facts.has_email) or (
        requirement.needs_phone and not facts.has_phone
    ):
        found.append(Violation(ViolationCode.CONTACT_UNREACHABLE))
    return found


def check(action: Action, facts: ContactFacts | None) -> Violation | None:
    """The first reason `action` may not apply, or None when it may.

    `facts` is None when no such contact exists in the viewer's workspace.
    """
    if facts is None:
        return Violation(ViolationCode.CONTACT_NOT_FOUND)
    found = violations(action, facts)
    return found[0] if found else None


def archive_blockers(facts: ContactFacts) -> list[Violation]:
    """What stops an active contact from being archived now; empty when archived already."""
    if facts.status is ContactStatus.ARCHIVED:
        return []
    return violations(Action.ARCHIVE, facts)


def is_archivable(facts: ContactFacts) -> bool:
    return check(Action.ARCHIVE, facts) is None


def message_action(channel: MessageChannel) -> Action:
    return Action.MESSAGE_EMAIL if channel is MessageChannel.EMAIL else Action.MESSAGE_SMS


# ---------------------------------------------------------------- permissions


class Permission(StrEnum):
    READ = "read"
    WRITE = "write"
    DELETE = "delete"
    ADMINISTER = "administer"


_GRANTS: dict[Role, frozenset[Permission]] = {
    Role.ADMIN: frozenset(Permission),
    Role.MEMBER: frozenset({Permission.READ, Permission.WRITE}),
    Role.VIEWER: frozenset({Permission.READ}),
}


def may(role: Role, permission: Permission) -> bool:
    return permission in _GRANTS[role]


def may_change_audience(role: Role, user_id: int, owner_id: int | None) -> bool:
    """A saved audience is the workspace's to read, and its owner's (or an admin's) to
    rename, refilter or delete; one whose owner has left is an admin's."""
    if role is Role.ADMIN:
        return True
    return may(role, Permission.WRITE) and owner_id is not None and owner_id == user_id


# ---------------------------------------------------------------- messages


def violation_message(violation: Violation, action: Action, stage_name: str | None = None) -> str:
    """A sentence a person can act on."""
    code = violation.code
    if code is ViolationCode.CONTACT_NOT_FOUND:
        return "No contact with this ID exists in your workspace."
    if code is ViolationCode.CONTACT_ARCHIVED:
        if action is Action.ARCHIVE:
            return "The contact is archived already."
        return "The contact is archived: unarchive it before changing or messaging it."
    if code is ViolationCode.CONTACT_NOT_ARCHIVED:
        if action is Action.DELETE:
            return "Only archived contacts can be deleted: archive the contact first."
        return "The contact is not archived."
    if code is ViolationCode.ARCHIVE_BLOCKED_BY_STAGE:
        label = f" '{stage_name}'" if stage_name else ""
        return (
            f"The contact is in the stage{label}, which keeps it from being archived: "
            "move it to a Past or Lost stage, or remove its stage, first."
        )
    if code is ViolationCode.ARCHIVE_BLOCKED_BY_ASSIGNEE:
        return "The contact is assigned: remove the assignee before archiving it."
    if action is Action.MESSAGE_SMS:
        return "The contact has no phone number to send an SMS to."
    return "The contact has no email address to send an email to."


def decide(
    action: Action, facts_by_id: dict[int, ContactFacts], ids: Sequence[int | None]
) -> list[Violation | None]:
    """`check` for a whole selection, in its order (None ids are not-found)."""
    return [check(action, facts_by_id.get(i) if i is not None else None) for i in ids]


# ---------------------------------------------------------------- sources


class Origin(StrEnum):
    """Who brings a contact in: an automatic source, or a person's explicit act."""

    SYNC = "sync"  # syncContacts: a phone's or a mailbox's address book
    INTERACTION = "interaction"  # logInteraction: someone the user talked to
    MANUAL = "manual"  # createContact
    CSV = "csv"  # importContactsCsv and `contacts-server import`


class Incoming(Enum):
    """What a source does with one incoming contact."""

    CREATE = "create"  # no match: a new contact (also one that had been deleted)
    UPDATE = "update"  # a match takes the incoming data and keeps its status
    SKIP = "skip"  # nothing at all: a deletion with preventResync covers it


@dataclass(frozen=True, slots=True)
class SourceRule:
    """One row of the contract's sources table."""

    # A person's explicit act; else an automatic source.
    explicit: bool
    # Looks for an existing contact (source ID, emails, phones) before creating one.
    matches: bool
    # Whether a matched archived contact becomes active: no source does that.
    unarchives: bool = False


SOURCE_RULES: dict[Origin, SourceRule] = {
    Origin.SYNC: SourceRule(explicit=False, matches=True),
    Origin.INTERACTION: SourceRule(explicit=False, matches=True),
    Origin.MANUAL: SourceRule(explicit=True, matches=False),
    Origin.CSV: SourceRule(explicit=True, matches=True),
}

# The source kinds syncContacts takes; CSV files come through the import.
SYNC_SOURCES = frozenset({SourceKind.PHONE, SourceKind.EMAIL})


def source_is_automatic(origin: Origin) -> bool:
    return not SOURCE_RULES[origin].explicit


def source_may_recreate(origin: Origin, suppressed: bool) -> bool:
    """May this source create a contact that is gone (deleted, or deleted with preventResync)?

    A deleted contact comes back from any source; a suppressed one only by a person's act.
    """
    return not suppressed or SOURCE_RULES[origin].explicit


def source_lifts_suppression(origin: Origin) -> bool:
    """A person's explicit act brings a suppressed contact back and forgets its suppression."""
    return SOURCE_RULES[origin].explicit


def status_after_match(origin: Origin, status: ContactStatus) -> ContactStatus:
    """A matched contact's status afterwards: unchanged, so an archived one stays archived."""
    if status is ContactStatus.ARCHIVED and SOURCE_RULES[origin].unarchives:
        return ContactStatus.ACTIVE
    return status


def incoming_decision(origin: Origin, match: ContactStatus | None, suppressed: bool) -> Incoming:
    """What `origin` does with one incoming contact.

    `match` is the status of the existing contact it matches (None: no match, e.g. because
    the contact was deleted); `suppressed` says whether any of its emails, phones or its
    source ID is covered by a deletion with preventResync. A match is updated whatever its
    status, and keeps it; suppression only keeps automatic sources from creating a contact.
    """
    if match is not None and SOURCE_RULES[origin].matches:
        return Incoming.UPDATE
    return Incoming.CREATE if source_may_recreate(origin, suppressed) else Incoming.SKIP
