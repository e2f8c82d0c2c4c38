"""The lifecycle rules of `server.policy`, as pure functions: no database, no GraphQL.

Expected outcomes are written out here from CONTRACT.md's rules table, never derived from the
policy's own constants, so that a change to a rule makes a test fail.
"""

from __future__ import annotations

import itertools

import pytest

from server.policy import (
    REQUIREMENTS,
    Action,
    ContactFacts,
    ContactStatus,
    MessageChannel,
    Permission,
    Requirement,
    Role,
    StageCategory,
    Violation,
    ViolationCode,
    archive_blockers,
    check,
    decide,
    is_archivable,
    may,
    may_change_audience,
    message_action,
    stage_blocks_archive,
    violation_message,
    violations,
)

STAGE_ID = 11
ASSIGNEE_ID = 22

# The contract: "active, with no stage or a PAST/LOST stage, and no assignee".
BLOCKING_STAGES = (StageCategory.LEAD, StageCategory.POTENTIAL, StageCategory.ACTIVE)
HARMLESS_STAGES = (StageCategory.PAST, StageCategory.LOST)
ANY_STAGE: tuple[StageCategory | None, ...] = (None, *StageCategory)


def facts(
    status: ContactStatus = ContactStatus.ACTIVE,
    stage: StageCategory | None = None,
    *,
    assigned: bool = False,
    email: bool = False,
    phone: bool = False,
) -> ContactFacts:
    return ContactFacts(
        status=status,
        stage_category=stage,
        stage_id=STAGE_ID if stage is not None else None,
        assignee_id=ASSIGNEE_ID if assigned else None,
        has_email=email,
        has_phone=phone,
    )


def code_of(violation: Violation | None) -> ViolationCode | None:
    return violation.code if violation is not None else None


def expected_archive_codes(
    status: ContactStatus, stage: StageCategory | None, assigned: bool
) -> list[ViolationCode]:
    """The contract's order: ContactIsArchived, then ArchiveBlockedByStage, then ...Assignee."""
    if status is ContactStatus.ARCHIVED:
        return [ViolationCode.CONTACT_ARCHIVED]
    codes = []
    if stage in BLOCKING_STAGES:
        codes.append(ViolationCode.ARCHIVE_BLOCKED_BY_STAGE)
    if assigned:
        codes.append(ViolationCode.ARCHIVE_BLOCKED_BY_ASSIGNEE)
    return codes


ARCHIVE_CASES = [
    pytest.param(status, stage, assigned, id=f"{status}-{stage or 'no_stage'}-{assigned=}")
    for status, stage, assigned in itertools.product(ContactStatus, ANY_STAGE, (False, True))
]


# ---------------------------------------------------------------- archive


@pytest.mark.parametrize(("status", "stage", "assigned"), ARCHIVE_CASES)
def test_archive_is_refused_for_the_first_reason_in_the_contracts_order(
    status: ContactStatus, stage: StageCategory | None, assigned: bool
) -> None:
    expected = expected_archive_codes(status, stage, assigned)

    violation = check(Action.ARCHIVE, facts(status, stage, assigned=assigned))

    assert code_of(violation) == (expected[0] if expected else None)
    assert is_archivable(facts(status, stage, assigned=assigned)) is (not expected)


@pytest.mark.parametrize(("status", "stage", "assigned"), ARCHIVE_CASES)
def test_every_reason_against_archiving_is_listed_in_the_contracts_order(
    status: ContactStatus, stage: StageCategory | None, assigned: bool
) -> None:
    found = violations(Action.ARCHIVE, facts(status, stage, assigned=assigned))

    assert [v.code for v in found] == expected_archive_codes(status, stage, assigned)


@pytest.mark.parametrize("stage", BLOCKING_STAGES)
def test_an_active_unassigned_contact_in_a_lead_potential_or_active_stage_cannot_be_archived(
    stage: StageCategory,
) -> None:
    assert check(Action.ARCHIVE, facts(stage=stage)) == Violation(
        ViolationCode.ARCHIVE_BLOCKED_BY_STAGE, stage_id=STAGE_ID
    )


@pytest.mark.parametrize("stage", [None, *HARMLESS_STAGES])
def test_an_active_unassigned_contact_with_no_stage_or_a_past_or_lost_stage_can_be_archived(
    stage: StageCategory | None,
) -> None:
    assert check(Action.ARCHIVE, facts(stage=stage)) is None


def test_an_assigned_contact_cannot_be_archived_and_the_violation_names_the_assignee() -> None:
    assert check(Action.ARCHIVE, facts(stage=StageCategory.PAST, assigned=True)) == Violation(
        ViolationCode.ARCHIVE_BLOCKED_BY_ASSIGNEE, assignee_id=ASSIGNEE_ID
    )


def test_a_blocking_stage_is_reported_before_the_assignee() -> None:
    assert check(Action.ARCHIVE, facts(stage=StageCategory.LEAD, assigned=True)) == Violation(
        ViolationCode.ARCHIVE_BLOCKED_BY_STAGE, stage_id=STAGE_ID
    )


@pytest.mark.parametrize("stage", ANY_STAGE)
def test_an_archived_contact_is_reported_as_archived_whatever_its_stage_and_assignee(
    stage: StageCategory | None,
) -> None:
    archived = facts(ContactStatus.ARCHIVED, stage, assigned=True)

    assert check(Action.ARCHIVE, archived) == Violation(ViolationCode.CONTACT_ARCHIVED)


@pytest.mark.parametrize(
    ("category", "blocks"),
    [
        (StageCategory.LEAD, True),
        (StageCategory.POTENTIAL, True),
        (StageCategory.ACTIVE, True),
        (StageCategory.PAST, False),
        (StageCategory.LOST, False),
        (None, False),
    ],
)
def test_only_lead_potential_and_active_stages_block_archiving(
    category: StageCategory | None, blocks: bool
) -> None:
    assert stage_blocks_archive(category) is blocks


# ---------------------------------------------------------------- archive blockers


def test_archive_blockers_list_the_stage_and_the_assignee_at_once_stage_first() -> None:
    blockers = archive_blockers(facts(stage=StageCategory.POTENTIAL, assigned=True))

    assert blockers == [
        Violation(ViolationCode.ARCHIVE_BLOCKED_BY_STAGE, stage_id=STAGE_ID),
        Violation(ViolationCode.ARCHIVE_BLOCKED_BY_ASSIGNEE, assignee_id=ASSIGNEE_ID),
    ]


@pytest.mark.parametrize(("status", "stage", "assigned"), ARCHIVE_CASES)
def test_archive_blockers_are_empty_for_an_archived_contact_and_else_every_blocker(
    status: ContactStatus, stage: StageCategory | None, assigned: bool
) -> None:
    expected = (
        [] if status is ContactStatus.ARCHIVED else expected_archive_codes(status, stage, assigned)
    )

    blockers = archive_blockers(facts(status, stage, assigned=assigned))

    assert [b.code for b in blockers] == expected


def test_an_archivable_contact_has_no_archive_blockers() -> None:
    assert archive_blockers(facts(stage=StageCategory.LOST)) == []


# ---------------------------------------------------------------- unarchive and delete


@pytest.mark.parametrize("action", [Action.UNARCHIVE, Action.DELETE])
@pytest.mark.parametrize("stage", ANY_STAGE)
@pytest.mark.parametrize("assigned", [False, True])
def test_an_archived_contact_can_be_unarchived_or_deleted_whatever_its_stage_and_assignee(
    action: Action, stage: StageCategory | None, assigned: bool
) -> None:
    assert check(action, facts(ContactStatus.ARCHIVED, stage, assigned=assigned)) is None


@pytest.mark.parametrize("action", [Action.UNARCHIVE, Action.DELETE])
@pytest.mark.parametrize("stage", ANY_STAGE)
def test_an_active_contact_cannot_be_unarchived_or_deleted_because_it_is_not_archived(
    action: Action, stage: StageCategory | None
) -> None:
    assert check(action, facts(ContactStatus.ACTIVE, stage)) == Violation(
        ViolationCode.CONTACT_NOT_ARCHIVED
    )


# ---------------------------------------------------------------- edit


@pytest.mark.parametrize("stage", ANY_STAGE)
@pytest.mark.parametrize("assigned", [False, True])
def test_an_active_contact_can_be_edited_whatever_its_stage_and_assignee(
    stage: StageCategory | None, assigned: bool
) -> None:
    assert check(Action.EDIT, facts(ContactStatus.ACTIVE, stage, assigned=assigned)) is None


@pytest.mark.parametrize("stage", ANY_STAGE)
def test_an_archived_contact_cannot_be_edited(stage: StageCategory | None) -> None:
    assert check(Action.EDIT, facts(ContactStatus.ARCHIVED, stage)) == Violation(
        ViolationCode.CONTACT_ARCHIVED
    )


# ---------------------------------------------------------------- messages


@pytest.mark.parametrize(
    ("channel", "email", "phone", "expected"),
    [
        (MessageChannel.EMAIL, True, False, None),
        (MessageChannel.EMAIL, True, True, None),
        (MessageChannel.EMAIL, False, True, ViolationCode.CONTACT_UNREACHABLE),
        (MessageChannel.EMAIL, False, False, ViolationCode.CONTACT_UNREACHABLE),
        (MessageChannel.SMS, False, True, None),
        (MessageChannel.SMS, True, True, None),
        (MessageChannel.SMS, True, False, ViolationCode.CONTACT_UNREACHABLE),
        (MessageChannel.SMS, False, False, ViolationCode.CONTACT_UNREACHABLE),
    ],
)
def test_an_active_contact_can_be_emailed_with_an_email_and_texted_with_a_phone(
    channel: MessageChannel, email: bool, phone: bool, expected: ViolationCode | None
) -> None:
    active = facts(stage=StageCategory.LEAD, assigned=True, email=email, phone=phone)

    assert code_of(check(message_action(channel), active)) is expected


@pytest.mark.parametrize("channel", list(MessageChannel))
@pytest.mark.parametrize("reachable", [False, True])
def test_an_archived_contact_cannot_be_messaged_and_is_reported_archived_before_unreachable(
    channel: MessageChannel, reachable: bool
) -> None:
    archived = facts(ContactStatus.ARCHIVED, email=reachable, phone=reachable)

    assert check(message_action(channel), archived) == Violation(ViolationCode.CONTACT_ARCHIVED)


def test_the_email_channel_is_the_email_message_action_and_sms_the_sms_one() -> None:
    assert message_action(MessageChannel.EMAIL) is Action.MESSAGE_EMAIL
    assert message_action(MessageChannel.SMS) is Action.MESSAGE_SMS


# ---------------------------------------------------------------- not found


@pytest.mark.parametrize("action", list(Action))
def test_every_action_on_a_contact_that_does_not_exist_is_contact_not_found(
    action: Action,
) -> None:
    assert check(action, None) == Violation(ViolationCode.CONTACT_NOT_FOUND)


def test_a_whole_selection_is_decided_in_its_order_with_unknown_ids_not_found() -> None:
    known = {
        1: facts(),
        2: facts(stage=StageCategory.ACTIVE),
        3: facts(ContactStatus.ARCHIVED),
    }

    decided = decide(Action.ARCHIVE, known, [3, None, 1, 99, 2])

    assert [code_of(v) for v in decided] == [
        ViolationCode.CONTACT_ARCHIVED,
        ViolationCode.CONTACT_NOT_FOUND,
        None,
        ViolationCode.CONTACT_NOT_FOUND,
        ViolationCode.ARCHIVE_BLOCKED_BY_STAGE,
    ]


# ---------------------------------------------------------------- the data layer's re-check


def satisfies(requirement: Requirement, contact: ContactFacts) -> bool:
    """A requirement read literally, the way a conditional UPDATE would apply it."""
    return (
        contact.status is requirement.status
        and not (requirement.stage_must_not_block and contact.stage_category in BLOCKING_STAGES)
        and not (requirement.must_be_unassigned and contact.assignee_id is not None)
        and not (requirement.needs_email and not contact.has_email)
        and not (requirement.needs_phone and not contact.has_phone)
    )


EVERY_FACT = [
    facts(status, stage, assigned=assigned, email=email, phone=phone)
    for status, stage, assigned, email, phone in itertools.product(
        ContactStatus, ANY_STAGE, (False, True), (False, True), (False, True)
    )
]


@pytest.mark.parametrize("action", list(Action))
def test_the_requirement_the_database_rechecks_admits_exactly_the_contacts_the_policy_allows(
    action: Action,
) -> None:
    requirement = REQUIREMENTS[action]

    disagreements = [
        each for each in EVERY_FACT if satisfies(requirement, each) != (check(action, each) is None)
    ]

    assert disagreements == []


# ---------------------------------------------------------------- permissions


@pytest.mark.parametrize(
    ("role", "permission", "allowed"),
    [
        (Role.ADMIN, Permission.READ, True),
        (Role.ADMIN, Permission.WRITE, True),
        (Role.ADMIN, Permission.DELETE, True),
        (Role.MEMBER, Permission.READ, True),
        (Role.MEMBER, Permission.WRITE, True),
        (Role.MEMBER, Permission.DELETE, False),
        (Role.VIEWER, Permission.READ, True),
        (Role.VIEWER, Permission.WRITE, False),
        (Role.VIEWER, Permission.DELETE, False),
    ],
)
def test_admins_may_do_everything_members_all_but_delete_and_viewers_only_read(
    role: Role, permission: Permission, allowed: bool
) -> None:
    assert may(role, permission) is allowed


# ---------------------------------------------------------------- messages people read


def test_a_refused_deletion_tells_the_user_to_archive_first() -> None:
    message = violation_message(Violation(ViolationCode.CONTACT_NOT_ARCHIVED), Action.DELETE)

    assert "archive" in message.lower()


def test_a_stage_blocker_message_names_the_stage_as_the_workspace_labels_it() -> None:
    violation = Violation(ViolationCode.ARCHIVE_BLOCKED_BY_STAGE, stage_id=STAGE_ID)

    assert "Warm" in violation_message(violation, Action.ARCHIVE, stage_name="Warm")


@pytest.mark.parametrize(
    ("violation", "action"),
    [
        (Violation(ViolationCode.CONTACT_NOT_FOUND), Action.ARCHIVE),
        (Violation(ViolationCode.CONTACT_ARCHIVED), Action.ARCHIVE),
        (Violation(ViolationCode.CONTACT_ARCHIVED), Action.EDIT),
        (Violation(ViolationCode.CONTACT_NOT_ARCHIVED), Action.UNARCHIVE),
        (Violation(ViolationCode.CONTACT_NOT_ARCHIVED), Action.DELETE),
        (Violation(ViolationCode.ARCHIVE_BLOCKED_BY_STAGE, stage_id=1), Action.ARCHIVE),
        (Violation(ViolationCode.ARCHIVE_BLOCKED_BY_ASSIGNEE, assignee_id=1), Action.ARCHIVE),
        (Violation(ViolationCode.CONTACT_UNREACHABLE), Action.MESSAGE_EMAIL),
        (Violation(ViolationCode.CONTACT_UNREACHABLE), Action.MESSAGE_SMS),
    ],
)
def test_every_violation_has_a_sentence_a_person_can_read(
    violation: Violation, action: Action
) -> None:
    message = violation_message(violation, action)

    assert message[0].isupper()
    assert message.endswith(".")


@pytest.mark.parametrize(
    ("role", "owner_id", "allowed"),
    [
        (Role.ADMIN, 2, True),
        (Role.ADMIN, None, True),
        (Role.MEMBER, 1, True),
        (Role.MEMBER, 2, False),
        (Role.MEMBER, None, False),
        (Role.VIEWER, 1, False),
    ],
)
def test_a_saved_audience_is_its_owners_or_an_admins_to_change(
    role: Role, owner_id: int | None, allowed: bool
) -> None:
    assert may_change_audience(role, user_id=1, owner_id=owner_id) is allowed
