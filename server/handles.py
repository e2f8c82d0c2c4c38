"""The index of contacts' emails and phones, kept in step with the contacts themselves."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence

from server.db import chunks, insert_rows, one_of, values_of
from server.models import Contact, ContactHandle

EMAIL = "email"
PHONE = "phone"
_COLUMNS = ("workspace_id", "contact_id", "kind", "value")


def handles_of(contact: Contact) -> list[tuple[str, str]]:
    return [(EMAIL, e) for e in contact.emails] + [(PHONE, p) for p in contact.phones]


async def reindex(workspace_id: int, contacts: Sequence[Contact], *, fresh: bool = False) -> None:
    """Make the handle index match these contacts (`fresh`: they have no handles yet)."""
    if not contacts:
        return
    if not fresh:
        for ids in chunks([c.id for c in contacts]):
            await ContactHandle.filter(contact_id__in=ids).delete()
    # Rows of plain values, as sync._insert writes contacts: a model instance per handle and
    # bulk_create's conversions cost more than the database's own work.
    rows = [[workspace_id, c.id, kind, value] for c in contacts for kind, value in handles_of(c)]
    # The transaction's connection, when there is one.
    await insert_rows(ContactHandle._meta.db, ContactHandle, _COLUMNS, rows)


async def owners(workspace_id: int, kind: str, values: Iterable[str]) -> dict[str, list[int]]:
    """For each value, the contacts that have it (oldest first); one statement."""
    found: dict[str, list[int]] = defaultdict(list)
    wanted = list(set(values))
    if not wanted:
        return found
    rows = (
        await ContactHandle.filter(one_of("value", wanted), workspace_id=workspace_id, kind=kind)
        .order_by("contact_id")
        .values_list("value", "contact_id")
    )
    for value, contact_id in rows:
        found[str(value)].append(int(contact_id))
    return found


async def contact_ids_with(workspace_id: int, kind: str, value: str) -> list[int]:
    return [
        int(pk)
        for pk in await values_of(
            ContactHandle.filter(workspace_id=workspace_id, kind=kind, value=value), "contact_id"
        )
    ]
