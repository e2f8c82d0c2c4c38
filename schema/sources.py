"""Sync, CSV import, logged interactions and suppressions: translation only, no decisions."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any

import strawberry
from strawberry.permission import BasePermission

from schema.context import Info
from schema.inputs import LogInteractionInput, SyncContactsInput
from schema.permissions import CanWrite
from schema.results import (
    ImportReport,
    ImportRowError,
    InteractionLogged,
    InteractionSuppressed,
    InvalidContactInput,
    InvalidField,
    LogInteractionResult,
)
from schema.types import Contact, Interaction
from server import csv_import, interactions, suppression_admin, sync
from server.csv_import import MB
from server.editing import InvalidInput
from server.errors import BadUserInput
from server.sync import ImportResult


class CanWriteUpload(CanWrite):
    """CanWrite for a field with an upload: a refused request closes the file itself.

    The multipart parser spooled the upload to a temporary file, and only the resolver
    closes it; when the resolver does not run, it would stay open until collected.
    """

    async def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:  # type: ignore[override]
        if super().has_permission(source, info, **kwargs):
            return True
        for value in kwargs.values():
            close = getattr(value, "close", None)
            if callable(close) and callable(getattr(value, "read", None)):
                await close()
        return False


UPLOAD_WRITE: list[type[BasePermission]] = [CanWriteUpload]

SYNCED_FIELDS = ("external_id", "first_name", "last_name", "company", "title", "emails", "phones")


def import_report(result: ImportResult) -> ImportReport:
    counts = result.counts
    return ImportReport(
        created=counts.created,
        updated=counts.updated,
        unchanged=counts.unchanged,
        kept_archived=counts.kept_archived,
        suppressed=counts.suppressed,
        row_errors=[
            ImportRowError(
                row=error.row,
                errors=[InvalidField(field=e.field, message=e.message) for e in error.errors],
            )
            for error in result.row_errors
        ],
        row_error_count=result.row_error_count,
        row_errors_truncated=result.row_errors_unlisted > 0,
    )


async def sync_contacts(info: Info, input: SyncContactsInput) -> ImportReport:
    contacts = [{name: getattr(item, name) for name in SYNCED_FIELDS} for item in input.contacts]
    result = await sync.sync_contacts(
        info.context.viewer.workspace_id,
        input.source,
        input.source_account,
        contacts,
        max_contacts=info.context.settings.max_sync_contacts,
    )
    return import_report(result)


async def import_contacts_csv(info: Info, file: Any) -> ImportReport:
    """`file` is the upload (Starlette's UploadFile, spooled to disk by the multipart parser)."""
    if not all(callable(getattr(file, name, None)) for name in ("read", "seek", "close")):
        raise BadUserInput("Send the CSV file as a GraphQL multipart upload.")
    size = getattr(file, "size", None)
    try:
        result = await csv_import.import_csv(
            info.context.viewer.workspace_id,
            csv_import.upload_source(file),
            max_bytes=info.context.settings.max_upload_mb * MB,
            total_bytes=size if isinstance(size, int) else None,
        )
    finally:
        # The multipart parser spooled it to a temporary file that nothing else closes.
        await file.close()
    return import_report(result)


async def log_interaction(info: Info, input: LogInteractionInput) -> LogInteractionResult:
    try:
        outcome = await interactions.log_interaction(
            info.context.viewer.workspace_id,
            email=input.email,
            phone=input.phone,
            kind=input.kind,
            direction=input.direction,
            occurred_at=input.occurred_at,
            subject=input.subject,
        )
    except InvalidInput as error:
        return InvalidContactInput(
            errors=[InvalidField(field=e.field, message=e.message) for e in error.errors]
        )
    if isinstance(outcome, interactions.Suppressed):
        return InteractionSuppressed(reason=outcome.reason)
    return InteractionLogged(
        interaction=Interaction.from_model(outcome.interaction),
        contact=Contact.from_model(outcome.contact),
        contact_created=outcome.contact_created,
    )


# ---------------------------------------------------------------- suppressions (ADMIN)


SUPPRESSED_EMAIL = "An email address, compared once normalized; give it or phone, not both."
SUPPRESSED_PHONE = (
    "A phone number, compared once normalized (E.164 where it parses); give it or email, not both."
)


@strawberry.enum(description="What a suppression entry is the one-way hash of.")
class SuppressionKind(Enum):
    EMAIL = strawberry.enum_value("email", description="An email address.")
    PHONE = strawberry.enum_value("phone", description="A phone number.")
    SOURCE_ID = strawberry.enum_value(
        "origin", description="A contact's ID in a source (source, account and externalId)."
    )


@strawberry.type(description="How many suppression entries there are of one kind.")
class SuppressionKindCount:
    kind: SuppressionKind = strawberry.field(description="What the entries are hashes of.")
    count: int = strawberry.field(description="Entries of this kind.")


@strawberry.type(
    description=(
        "What deletions with preventResync keep from coming back, without the addresses: "
        "only one-way hashes are stored."
    )
)
class SuppressionSummary:
    count: int = strawberry.field(description="Suppressed emails, phones and source IDs.")
    kinds: list[SuppressionKindCount] = strawberry.field(
        description="The count of each kind, 0 included."
    )
    first_created_at: datetime | None = strawberry.field(
        description="When the oldest entry was made; null when there are none."
    )
    last_created_at: datetime | None = strawberry.field(
        description="When the newest entry was made; null when there are none."
    )


@strawberry.type(description="What liftSuppression did.")
class SuppressionLifted:
    lifted: int = strawberry.field(
        description="Suppression entries lifted: 0 when the address was not suppressed."
    )


async def suppression_summary(info: Info) -> SuppressionSummary:
    found = await suppression_admin.summary(info.context.viewer.workspace_id)
    return SuppressionSummary(
        count=found.count,
        kinds=[
            SuppressionKindCount(kind=SuppressionKind(kind), count=count)
            for kind, count in found.by_kind.items()
        ],
        first_created_at=found.first_created_at,
        last_created_at=found.last_created_at,
    )


async def is_suppressed(info: Info, email: str | None, phone: str | None) -> bool:
    return await suppression_admin.is_suppressed(
        info.context.viewer.workspace_id, email=email, phone=phone
    )


async def lift_suppression(info: Info, email: str | None, phone: str | None) -> SuppressionLifted:
    lifted = await suppression_admin.lift(
        info.context.viewer.workspace_id, email=email, phone=phone
    )
    return SuppressionLifted(lifted=lifted)
