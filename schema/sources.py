"""Sync, CSV import, logged interactions and suppressions: translation only, no decisions."""

from __future__ import annotations

from typing import Any

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
from server import csv_import, interactions, sync
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
