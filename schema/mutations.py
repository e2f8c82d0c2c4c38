"""The Mutation root: translate input, call a use case, map its outcomes. Decides nothing."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Annotated, Any

import strawberry
from strawberry.file_uploads import Upload
from strawberry.types.nodes import SelectedField, Selection

from schema import sources
from schema.context import Info
from schema.inputs import (
    ArchiveContactsInput,
    AssignContactsInput,
    BucketContactsInput,
    ContactInput,
    DeleteContactsInput,
    LogInteractionInput,
    SaveAudienceInput,
    SendMessageInput,
    SetStageInput,
    SyncContactsInput,
    TagContactsInput,
    UnarchiveContactsInput,
    UpdateAudienceInput,
    UpdateContactInput,
    criteria_from,
    decode_id,
)
from schema.listing import Audience
from schema.permissions import ADMIN, DELETE, WRITE
from schema.results import (
    ArchiveContactResult,
    ArchiveContactsPayload,
    ContactArchived,
    ContactCreated,
    ContactDeleted,
    ContactUnarchived,
    ContactUpdated,
    CreateContactResult,
    DeleteContactResult,
    DeleteContactsPayload,
    EditContactResult,
    ImportReport,
    InvalidContactInput,
    InvalidField,
    LogInteractionResult,
    MessageQueued,
    SendMessagePayload,
    SendMessageResult,
    UnarchiveContactResult,
    UnarchiveContactsPayload,
    UpdateContactResult,
    UpdateContactsPayload,
    violation_result,
)
from schema.selection import resolve_selection
from schema.sources import SuppressionLifted
from schema.types import Bucket, Contact, Interaction, Stage
from server import editing, ids, lifecycle
from server.directory import Criteria, Target, distinct_targets
from server.editing import InvalidInput
from server.errors import BadUserInput
from server.lifecycle import BulkOutcome, Outcome
from server.policy import Action, MessageChannel
from server.settings import Settings

CSV_FILE = (
    "The CSV file, at most MAX_UPLOAD_MB megabytes "
    f"({Settings.model_construct().max_upload_mb} by default): a header row, then one "
    "contact per row (see the contract's CSV format)."
)


class _ContactID(Contact):
    """A `Contact` that holds only its ID, for results whose selection reads nothing else.

    Reading any other field fails loudly rather than answering from a row never loaded.
    """

    def __init__(self, global_id: str) -> None:
        self.id = strawberry.ID(global_id)


def _contact(outcome: Outcome) -> Contact | None:
    if outcome.contact is not None:
        return Contact.from_model(outcome.contact)
    # IDs are canonical (a selection never matches another spelling), so the selected ID is
    # the contact's own: no need to encode it again for each of thousands of results.
    return _ContactID(outcome.contact_id) if outcome.locked is not None else None


_ID_FIELDS = frozenset({"id", "__typename"})


def _reads_contacts_beyond_id(selections: Iterable[Selection]) -> bool:
    """Whether any `contact` field in these selections (at any depth) asks for more than IDs."""
    for selection in selections:
        if isinstance(selection, SelectedField) and selection.name == "contact":
            if any(
                not isinstance(inner, SelectedField) or inner.name not in _ID_FIELDS
                for inner in selection.selections
            ):
                return True
        elif _reads_contacts_beyond_id(selection.selections):
            return True
    return False


def _needs_rows(info: Info) -> bool:
    return _reads_contacts_beyond_id(info.selected_fields)


def _refusal(outcome: Outcome, action: Action, stage_names: Mapping[int, str] | None = None) -> Any:
    violation = outcome.violation
    assert violation is not None
    stage_name = (stage_names or {}).get(violation.stage_id or 0)
    return violation_result(outcome.contact_id, violation, action, _contact(outcome), stage_name)


async def _stage_names(info: Info, outcomes: Sequence[Outcome]) -> dict[int, str]:
    """The workspace's own labels of the stages that blocked, for actionable messages."""
    stage_ids = sorted(
        {o.violation.stage_id for o in outcomes if o.violation and o.violation.stage_id}
    )
    stages = await info.context.loaders.stage.load_many(stage_ids)
    return {stage.id: stage.name for stage in stages if stage is not None}


def _edit_results(result: BulkOutcome) -> UpdateContactsPayload:
    results: list[UpdateContactResult] = []
    for outcome in result.outcomes:
        contact = _contact(outcome)
        if outcome.violation is None and contact is not None:
            results.append(ContactUpdated(contact=contact))
        else:
            results.append(_refusal(outcome, Action.EDIT))
    return UpdateContactsPayload(results=results, succeeded=result.succeeded, failed=result.failed)


def _invalid(error: InvalidInput) -> InvalidContactInput:
    return InvalidContactInput(
        errors=[InvalidField(field=e.field, message=e.message) for e in error.errors]
    )


def _given(patch: ContactInput) -> dict[str, Any]:
    """The fields the client sent (null included, to clear), with IDs decoded."""
    given = {name: value for name, value in vars(patch).items() if value is not strawberry.UNSET}
    if given.get("stage_id") is not None:
        given["stage_id"] = decode_id(given["stage_id"], "Stage", "stage")
    if given.get("assignee_id") is not None:
        given["assignee_id"] = decode_id(given["assignee_id"], "User", "user")
    return given


def _editor(info: Info) -> editing.Editor:
    return editing.Editor(user_id=info.context.viewer.user_id, role=info.context.viewer.role)


def _audience_key(global_id: str) -> str:
    decoded = ids.decode_any(global_id)
    if decoded is None or decoded[0] != "Audience":
        raise BadUserInput("No saved audience with this ID in your workspace.")
    return decoded[1]


def _one_target(raw_id: str) -> Sequence[Target]:
    return distinct_targets([raw_id], [ids.decode(raw_id, "Contact")])


@strawberry.type
class Mutation:
    @strawberry.mutation(
        permission_classes=WRITE,
        description=(
            "Archive contacts. Only active contacts with no stage or a PAST/LOST stage, "
            "and no assignee, can be archived. Each contact gets its own result; with dryRun "
            "nothing changes. MEMBER or ADMIN."
        ),
    )
    async def archive_contacts(
        self,
        info: Info,
        input: Annotated[
            ArchiveContactsInput,
            strawberry.argument(description="Which contacts, and whether only to try."),
        ],
    ) -> ArchiveContactsPayload:
        targets = await resolve_selection(info, input.selection)
        result = await lifecycle.change_status(
            info.context.viewer.workspace_id,
            Action.ARCHIVE,
            targets,
            dry_run=input.dry_run,
            actor_id=info.context.viewer.user_id,
            with_rows=_needs_rows(info),
        )
        results: list[ArchiveContactResult] = []
        stage_names = await _stage_names(info, result.outcomes)
        for outcome in result.outcomes:
            contact = _contact(outcome)
            if outcome.violation is None and contact is not None:
                results.append(ContactArchived(contact=contact))
            else:
                results.append(_refusal(outcome, Action.ARCHIVE, stage_names))
        return ArchiveContactsPayload(
            results=results,
            succeeded=result.succeeded,
            failed=result.failed,
            dry_run=result.dry_run,
        )

    @strawberry.mutation(
        permission_classes=WRITE,
        description=(
            "Restore archived contacts to active; active ones get ContactNotArchived. "
            "With dryRun nothing changes. MEMBER or ADMIN."
        ),
    )
    async def unarchive_contacts(
        self,
        info: Info,
        input: Annotated[
            UnarchiveContactsInput,
            strawberry.argument(description="Which contacts, and whether only to try."),
        ],
    ) -> UnarchiveContactsPayload:
        targets = await resolve_selection(info, input.selection)
        result = await lifecycle.change_status(
            info.context.viewer.workspace_id,
            Action.UNARCHIVE,
            targets,
            dry_run=input.dry_run,
            actor_id=info.context.viewer.user_id,
            with_rows=_needs_rows(info),
        )
        results: list[UnarchiveContactResult] = []
        for outcome in result.outcomes:
            contact = _contact(outcome)
            if outcome.violation is None and contact is not None:
                results.append(ContactUnarchived(contact=contact))
            else:
                results.append(_refusal(outcome, Action.UNARCHIVE))
        return UnarchiveContactsPayload(
            results=results,
            succeeded=result.succeeded,
            failed=result.failed,
            dry_run=result.dry_run,
        )

    @strawberry.mutation(
        permission_classes=DELETE,
        description=(
            "Permanently delete archived contacts and their history. ADMIN only. Active "
            "contacts get ContactNotArchived: archive them first. With dryRun nothing changes."
        ),
    )
    async def delete_contacts(
        self,
        info: Info,
        input: Annotated[
            DeleteContactsInput,
            strawberry.argument(
                description=(
                    "Which contacts, whether only to try, and whether to keep them from "
                    "coming back."
                )
            ),
        ],
    ) -> DeleteContactsPayload:
        targets = await resolve_selection(info, input.selection)
        result = await lifecycle.delete(
            info.context.viewer.workspace_id,
            targets,
            dry_run=input.dry_run,
            prevent_resync=input.prevent_resync,
            actor_id=info.context.viewer.user_id,
            with_rows=_needs_rows(info),
        )
        results: list[DeleteContactResult] = []
        for outcome in result.outcomes:
            if outcome.violation is None and outcome.locked is not None:
                results.append(
                    ContactDeleted(
                        contact_id=strawberry.ID(outcome.contact_id),
                        display_name=lifecycle.deleted_display_name(outcome.locked),
                    )
                )
            else:
                results.append(_refusal(outcome, Action.DELETE))
        return DeleteContactsPayload(
            results=results,
            succeeded=result.succeeded,
            failed=result.failed,
            dry_run=result.dry_run,
        )

    @strawberry.mutation(
        permission_classes=WRITE,
        description=(
            "Create an active contact. It is not matched against existing ones; a contact "
            "deleted with preventResync comes back and its suppression is lifted. MEMBER or ADMIN."
        ),
    )
    async def create_contact(
        self,
        info: Info,
        input: Annotated[
            ContactInput, strawberry.argument(description="The new contact's fields.")
        ],
    ) -> CreateContactResult:
        try:
            row = await editing.create_contact(info.context.viewer.workspace_id, _given(input))
        except InvalidInput as error:
            return _invalid(error)
        return ContactCreated(contact=Contact.from_model(row))

    @strawberry.mutation(
        permission_classes=WRITE,
        description=(
            "Change the given fields of an active contact; an archived one gets "
            "ContactIsArchived. MEMBER or ADMIN."
        ),
    )
    async def update_contact(
        self,
        info: Info,
        input: Annotated[
            UpdateContactInput,
            strawberry.argument(description="The contact and the fields to change."),
        ],
    ) -> EditContactResult:
        try:
            outcome = await editing.update_contact(
                info.context.viewer.workspace_id, _one_target(input.id)[0], _given(input.patch)
            )
        except InvalidInput as error:
            return _invalid(error)
        contact = _contact(outcome)
        if outcome.violation is None and contact is not None:
            return ContactUpdated(contact=contact)
        return _refusal(outcome, Action.EDIT)  # type: ignore[no-any-return]

    @strawberry.mutation(
        permission_classes=WRITE,
        description=(
            "Set or remove the stage of active contacts. A LEAD, POTENTIAL or ACTIVE stage "
            "keeps a contact from being archived. An unknown stage is BAD_USER_INPUT. "
            "MEMBER or ADMIN."
        ),
    )
    async def set_contact_stage(
        self,
        info: Info,
        input: Annotated[
            SetStageInput, strawberry.argument(description="The contacts and the stage.")
        ],
    ) -> UpdateContactsPayload:
        stage_id = (
            decode_id(input.stage_id, "Stage", "stage") if input.stage_id is not None else None
        )
        targets = await resolve_selection(info, input.selection)
        return _edit_results(
            await editing.set_stage(info.context.viewer.workspace_id, targets, stage_id)
        )

    @strawberry.mutation(
        permission_classes=WRITE,
        description=(
            "Assign active contacts to a user, or unassign them. An assigned contact cannot "
            "be archived. An unknown user is BAD_USER_INPUT. MEMBER or ADMIN."
        ),
    )
    async def assign_contacts(
        self,
        info: Info,
        input: Annotated[
            AssignContactsInput, strawberry.argument(description="The contacts and the assignee.")
        ],
    ) -> UpdateContactsPayload:
        user_id = (
            decode_id(input.assignee_id, "User", "user") if input.assignee_id is not None else None
        )
        targets = await resolve_selection(info, input.selection)
        return _edit_results(
            await editing.assign(info.context.viewer.workspace_id, targets, user_id)
        )

    @strawberry.mutation(
        permission_classes=WRITE,
        description=(
            "Add tags to contacts, creating the tags that do not exist yet. Only active "
            "contacts can be tagged. MEMBER or ADMIN."
        ),
    )
    async def tag_contacts(
        self,
        info: Info,
        input: Annotated[
            TagContactsInput, strawberry.argument(description="The contacts and the tags.")
        ],
    ) -> UpdateContactsPayload:
        targets = await resolve_selection(info, input.selection)
        return _edit_results(
            await editing.tag(info.context.viewer.workspace_id, targets, input.tag_names)
        )

    @strawberry.mutation(
        permission_classes=WRITE,
        description=(
            "Remove tags from contacts. Only active contacts can be untagged. MEMBER or ADMIN."
        ),
    )
    async def untag_contacts(
        self,
        info: Info,
        input: Annotated[
            TagContactsInput, strawberry.argument(description="The contacts and the tags.")
        ],
    ) -> UpdateContactsPayload:
        targets = await resolve_selection(info, input.selection)
        return _edit_results(
            await editing.untag(info.context.viewer.workspace_id, targets, input.tag_names)
        )

    @strawberry.mutation(
        permission_classes=WRITE,
        description="Only active contacts can be placed in a bucket. MEMBER or ADMIN.",
    )
    async def add_contacts_to_bucket(
        self,
        info: Info,
        input: Annotated[
            BucketContactsInput, strawberry.argument(description="The contacts and the bucket.")
        ],
    ) -> UpdateContactsPayload:
        bucket_id = decode_id(input.bucket_id, "Bucket", "bucket")
        targets = await resolve_selection(info, input.selection)
        return _edit_results(
            await editing.add_to_bucket(info.context.viewer.workspace_id, targets, bucket_id)
        )

    @strawberry.mutation(
        permission_classes=WRITE,
        description=(
            "Take contacts out of a bucket. Only active contacts can be taken out. MEMBER or ADMIN."
        ),
    )
    async def remove_contacts_from_bucket(
        self,
        info: Info,
        input: Annotated[
            BucketContactsInput, strawberry.argument(description="The contacts and the bucket.")
        ],
    ) -> UpdateContactsPayload:
        bucket_id = decode_id(input.bucket_id, "Bucket", "bucket")
        targets = await resolve_selection(info, input.selection)
        return _edit_results(
            await editing.remove_from_bucket(info.context.viewer.workspace_id, targets, bucket_id)
        )

    @strawberry.mutation(
        permission_classes=WRITE, description="Create an empty bucket. MEMBER or ADMIN."
    )
    async def create_bucket(
        self,
        info: Info,
        name: Annotated[
            str,
            strawberry.argument(
                description="1 to 100 characters, no control characters; else BAD_USER_INPUT."
            ),
        ],
    ) -> Bucket:
        return Bucket.from_model(
            await editing.create_bucket(info.context.viewer.workspace_id, name)
        )

    @strawberry.mutation(
        permission_classes=WRITE,
        description=(
            "Only active contacts can be messaged. "
            "The message is queued as an outbound interaction. MEMBER or ADMIN."
        ),
    )
    async def send_message(
        self,
        info: Info,
        input: Annotated[
            SendMessageInput,
            strawberry.argument(description="The contacts, the channel and the message."),
        ],
    ) -> SendMessagePayload:
        targets = await resolve_selection(info, input.selection)
        channel = MessageChannel(input.channel)
        sent = await editing.send_message(
            info.context.viewer.workspace_id, targets, channel, input.subject, input.body
        )
        results: list[SendMessageResult] = []
        for item in sent:
            contact = _contact(item.outcome)
            if item.interaction is not None and contact is not None:
                results.append(
                    MessageQueued(
                        contact=contact, interaction=Interaction.from_model(item.interaction)
                    )
                )
            else:
                results.append(
                    _refusal(
                        item.outcome,
                        Action.MESSAGE_EMAIL
                        if channel is MessageChannel.EMAIL
                        else Action.MESSAGE_SMS,
                    )
                )
        succeeded = sum(1 for item in sent if item.interaction is not None)
        return SendMessagePayload(
            results=results, succeeded=succeeded, failed=len(sent) - succeeded
        )

    @strawberry.mutation(
        permission_classes=WRITE,
        description=(
            "Phone and email sync. Archived contacts stay archived; "
            "deleted ones come back unless suppressed. One transaction per call. "
            "MEMBER or ADMIN."
        ),
    )
    async def sync_contacts(
        self,
        info: Info,
        input: Annotated[
            SyncContactsInput, strawberry.argument(description="The source and its contacts.")
        ],
    ) -> ImportReport:
        return await sources.sync_contacts(info, input)

    @strawberry.mutation(
        permission_classes=sources.UPLOAD_WRITE,
        description=(
            "Upload a CSV file (GraphQL multipart request). "
            "Brings back deleted contacts and lifts their suppression. MEMBER or ADMIN."
        ),
    )
    async def import_contacts_csv(
        self,
        info: Info,
        file: Annotated[Upload, strawberry.argument(description=CSV_FILE)],
    ) -> ImportReport:
        return await sources.import_contacts_csv(info, file)

    @strawberry.mutation(
        permission_classes=WRITE,
        description=(
            "Record an interaction with the person of this email or phone: stored with the "
            "matching contact (an archived one stays archived), or with a new contact, unless "
            "the address is suppressed. MEMBER or ADMIN."
        ),
    )
    async def log_interaction(
        self,
        info: Info,
        input: Annotated[
            LogInteractionInput,
            strawberry.argument(description="The interaction and who it was with."),
        ],
    ) -> LogInteractionResult:
        return await sources.log_interaction(info, input)

    @strawberry.mutation(
        permission_classes=WRITE,
        description=(
            "Save a filter as an audience of the workspace, listed after the built-in ones. "
            "IDs in the filter that are not the workspace's are BAD_USER_INPUT. MEMBER or ADMIN."
        ),
    )
    async def save_audience(
        self,
        info: Info,
        input: Annotated[
            SaveAudienceInput, strawberry.argument(description="The audience's name and filter.")
        ],
    ) -> Audience:
        from server.directory import saved_audience

        row = await editing.save_audience(
            info.context.viewer.workspace_id,
            info.context.viewer.user_id,
            input.name,
            criteria_from(input.filter) or Criteria(),
        )
        return Audience.from_value(saved_audience(row))

    @strawberry.mutation(
        permission_classes=WRITE,
        description=(
            "Rename a saved audience or give it a new filter. Its owner (whoever saved it) or "
            "an ADMIN; anyone else gets FORBIDDEN. A built-in audience or an unknown ID is "
            "BAD_USER_INPUT. Nothing changes on an error."
        ),
    )
    async def update_audience(
        self,
        info: Info,
        input: Annotated[
            UpdateAudienceInput,
            strawberry.argument(description="The audience, and its new name or filter."),
        ],
    ) -> Audience:
        from server.directory import saved_audience

        row = await editing.update_audience(
            info.context.viewer.workspace_id,
            _editor(info),
            _audience_key(input.id),
            input.name,
            criteria_from(input.filter),
        )
        return Audience.from_value(saved_audience(row))

    @strawberry.mutation(
        permission_classes=WRITE,
        description=(
            "Delete a saved audience; its contacts stay as they are. Its owner or an ADMIN; "
            "anyone else gets FORBIDDEN. A built-in audience or an unknown ID is "
            "BAD_USER_INPUT. Returns the deleted audience's ID."
        ),
    )
    async def delete_audience(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The saved audience.")],
    ) -> strawberry.ID:
        await editing.delete_audience(
            info.context.viewer.workspace_id, _editor(info), _audience_key(id)
        )
        return id

    @strawberry.mutation(
        permission_classes=ADMIN,
        description=(
            'Relabel a stage (e.g. Lead as "Warm"). ADMIN only. Its category, and so every '
            "rule about it, stays as it is."
        ),
    )
    async def rename_stage(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The stage's ID.")],
        name: Annotated[
            str,
            strawberry.argument(
                description=(
                    "The new label: 1 to 100 characters, unique in the workspace "
                    "(case-insensitively)."
                )
            ),
        ],
    ) -> Stage:
        stage_id = decode_id(id, "Stage", "stage")
        row = await editing.rename_stage(info.context.viewer.workspace_id, stage_id, name)
        return Stage.from_model(row)

    @strawberry.mutation(
        permission_classes=ADMIN,
        description=(
            "Lift the suppression of an email address or a phone number (give one), so that "
            "sync and logged interactions may create its contact again. ADMIN only."
        ),
    )
    async def lift_suppression(
        self,
        info: Info,
        email: Annotated[
            str | None, strawberry.argument(description=sources.SUPPRESSED_EMAIL)
        ] = None,
        phone: Annotated[
            str | None, strawberry.argument(description=sources.SUPPRESSED_PHONE)
        ] = None,
    ) -> SuppressionLifted:
        return await sources.lift_suppression(info, email, phone)
