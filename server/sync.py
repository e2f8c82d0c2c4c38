"""Bringing contacts in from a source, in sets: the engine of syncContacts and the CSV import.

`bring_in` takes a batch of validated rows from one source and, in one transaction, reads
every possible match at once (by source ID, then through the handle index by email and by
phone), asks the policy what to do with each row, and writes in sets: one bulk insert for
the new contacts, one bulk update for the contacts that changed, the handle index and tags in
step. The number of statements depends on the batch size only through fixed-size chunks.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

from tortoise.backends.base.client import BaseDBAsyncClient

from server import claims, handles
from server.db import Parameters, chunks, insert_rows, is_postgres, transaction, update_rows
from server.editing import (
    CONTROL_MESSAGE,
    FieldError,
    InvalidInput,
    checked_fields,
    derived_columns,
    ensure_tags,
    has_control,
)
from server.errors import BadUserInput
from server.lifecycle import lock_rows
from server.models import Contact, ContactTag, Suppression, Workspace
from server.policy import (
    SYNC_SOURCES,
    ContactStatus,
    Incoming,
    Origin,
    SourceKind,
    incoming_decision,
    source_lifts_suppression,
    status_after_match,
)
from server.suppression import contact_digests

MAX_SOURCE_TEXT = 200
TEXT_COLUMNS = ("first_name", "last_name", "company", "title")
# Columns a match may change: the fields, the denormalized ones, and the adopted source ID
# (updated_at too, when the change is one a person can see: see `_update`).
UPDATED_COLUMNS = (
    *TEXT_COLUMNS,
    "emails",
    "phones",
    "sort_name",
    "search_text",
    "source",
    "source_account",
    "external_id",
    "status",
    "archived_at",
)
IDENTITY_MESSAGE = "Give at least a name, an email address or a phone number."
# CSV rows have no source ID; one without an email or a phone gets one from its name, so that
# importing the same file again finds it (see `name_key`).
CSV_ACCOUNT = "csv"


@dataclass(frozen=True, slots=True)
class IncomingContact:
    """One validated row: normalized values, ready to match and merge."""

    position: int
    external_id: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    company: str | None = None
    title: str | None = None
    emails: tuple[str, ...] = ()
    phones: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()

    def at(self, position: int) -> IncomingContact:
        """The same row at another position (a remembered sync row, say)."""
        # Field by field: dataclasses.replace takes twice as long, and a sync does this per row.
        return IncomingContact(
            position,
            self.external_id,
            self.first_name,
            self.last_name,
            self.company,
            self.title,
            self.emails,
            self.phones,
            self.tags,
        )


@dataclass(frozen=True, slots=True)
class Source:
    """Where a batch comes from: the policy's origin, and what new contacts record."""

    origin: Origin
    kind: SourceKind
    account: str | None


@dataclass(frozen=True, slots=True)
class RowError:
    """A rejected row: its number (CSV: the header is row 1) or list position, and why."""

    row: int
    errors: list[FieldError]


@dataclass
class Counts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    kept_archived: int = 0
    suppressed: int = 0

    def add(self, other: Counts) -> None:
        self.created += other.created
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.kept_archived += other.kept_archived
        self.suppressed += other.suppressed


@dataclass
class ImportResult:
    counts: Counts = field(default_factory=Counts)
    row_errors: list[RowError] = field(default_factory=list)
    # Refused rows beyond those listed in row_errors (a CSV import lists MAX_ROW_ERRORS).
    row_errors_unlisted: int = 0

    @property
    def row_error_count(self) -> int:
        return len(self.row_errors) + self.row_errors_unlisted


# ---------------------------------------------------------------- validation


def _renamed(errors: Iterable[FieldError], names: Mapping[str, str]) -> list[FieldError]:
    """The errors with their field names as the client knows them (e.g. CSV columns)."""
    renamed = []
    for error in errors:
        head, bracket, rest = error.field.partition("[")
        renamed.append(FieldError(names.get(head, head) + bracket + rest, error.message))
    return renamed


def validate_row(
    phone_region: str,
    position: int,
    given: Mapping[str, Any],
    *,
    external_id: str | None = None,
    field_names: Mapping[str, str] | None = None,
    key_by_name: bool = False,
) -> IncomingContact | RowError:
    """One row's fields checked and normalized like createContact's, or why not.

    `given` holds first_name, last_name, company, title, emails, phones and tag_names;
    empty values mean "nothing to say" (a source never clears a field). A row without a
    name, an email or a phone is refused, unless it has a source ID: it may update the
    contact it matches (but it creates none: see `bring_in`). With `key_by_name`, a row
    with neither email nor phone gets a source ID from its name (see `name_key`).
    """
    names = field_names or {}
    errors: list[FieldError] = []
    sent = {key: value for key, value in given.items() if value not in (None, [], "")}
    try:
        values, tags = checked_fields(sent, phone_region, typed=False)
    except InvalidInput as invalid:
        errors.extend(invalid.errors)
        values, tags = {}, None
    emails, phones = values.get("emails") or [], values.get("phones") or []
    identified = values.get("first_name") or values.get("last_name") or emails or phones
    if not errors and not identified and external_id is None:
        errors.append(FieldError("firstName", IDENTITY_MESSAGE))
    if errors:
        return RowError(position, _renamed(errors, names))
    first, last, company = values.get("first_name"), values.get("last_name"), values.get("company")
    if key_by_name and external_id is None and not emails and not phones:
        external_id = name_key(first, last, company)
    return IncomingContact(
        position=position,
        external_id=external_id,
        first_name=first,
        last_name=last,
        company=company,
        title=values.get("title"),
        emails=tuple(emails),
        phones=tuple(phones),
        tags=tuple(tags or ()),
    )


def identified(row: IncomingContact) -> bool:
    """Whether the row names a contact: a name, an email address or a phone number."""
    return bool(row.first_name or row.last_name or row.emails or row.phones)


def name_key(first_name: str | None, last_name: str | None, company: str | None) -> str:
    """A stable source ID for a CSV row that has neither an email nor a phone.

    Importing the same file again finds the contact by it; identical name-only rows of a
    file are one contact.
    """
    text = "\x1f".join((first_name or "", last_name or "", company or "")).casefold()
    return "name:" + hashlib.sha256(text.encode()).hexdigest()[:40]


# ---------------------------------------------------------------- the engine


def _origin(source: Source, row: IncomingContact) -> tuple[str, str, str] | None:
    if source.account is None or row.external_id is None:
        return None
    return (source.kind.value, source.account, row.external_id)


async def _by_origin(
    connection: BaseDBAsyncClient, workspace_id: int, source: Source, external_ids: set[str]
) -> dict[str, int]:
    """The oldest contact with each of these source IDs (of this source and account)."""
    found: dict[str, int] = {}
    if source.account is None or not external_ids:
        return found
    p = Parameters(connection)
    same_origin = (
        f'"workspace_id" = {p(workspace_id)} AND "source" = {p(source.kind.value)} '
        f'AND "source_account" = {p(source.account)}'
    )
    # Only placeholders and fixed identifiers are interpolated.
    if p.numbered:
        # One index probe per ID, whatever the planner knows of the table.
        sql = (
            'SELECT w."v" AS "external_id", c."id" '  # noqa: S608
            f'FROM unnest({p(list(external_ids))}::varchar[]) AS w("v") CROSS JOIN LATERAL '
            f'(SELECT "id" FROM "contact" WHERE {same_origin} AND "external_id" = w."v" '
            'ORDER BY "id" LIMIT 1) AS c'
        )
    else:
        among = p.among('"external_id"', external_ids)
        sql = (
            'SELECT "external_id", "id" FROM "contact" '  # noqa: S608
            f'WHERE {same_origin} AND {among} ORDER BY "id" DESC'
        )
    _, rows = await connection.execute_query(sql, p.values)
    for row in rows:
        # Newest first on SQLite: the last one written is the oldest.
        found[str(row["external_id"])] = int(row["id"])
    return found


async def _suppressed(
    connection: BaseDBAsyncClient, workspace_id: int, digests: set[str]
) -> set[str]:
    """Which of these digests a deletion with preventResync stored."""
    if not digests:
        return set()
    p = Parameters(connection)
    workspace = p(workspace_id)
    # Typed like the (VARCHAR) column, so that the index covers the comparison.
    among = p.among('"digest"', digests, "::varchar[]")
    # Only placeholders and fixed identifiers are interpolated.
    sql = f'SELECT "digest" FROM "suppression" WHERE "workspace_id" = {workspace} AND {among}'  # noqa: S608
    _, rows = await connection.execute_query(sql, p.values)
    return {str(row["digest"]) for row in rows}


async def _digests_to_check(
    workspace: Workspace, source: Source, rows: Sequence[IncomingContact]
) -> list[list[str]]:
    """Each row's suppression digests; none when the workspace has no suppression at all.

    Hashing every address is most of what a re-sync spends on suppression, and most
    workspaces never delete with preventResync: one indexed probe spares it.
    """
    if not await Suppression.exists(workspace_id=workspace.id):
        return [[] for _ in rows]
    return [
        [d for _, d in contact_digests(workspace.secret, r.emails, r.phones, _origin(source, r))]
        for r in rows
    ]


async def _first_owners(
    workspace_id: int, rows: Sequence[IncomingContact]
) -> dict[tuple[str, str], int]:
    """The oldest contact with each of the rows' emails and phones, by (kind, value)."""
    found: dict[tuple[str, str], int] = {}
    for kind, values in (
        (handles.EMAIL, (e for r in rows for e in r.emails)),
        (handles.PHONE, (p for r in rows for p in r.phones)),
    ):
        for value, owners in (await handles.owners(workspace_id, kind, values)).items():
            found[(kind, value)] = owners[0]
    return found


def _listed(value: Any) -> list[str]:
    """A JSON column as read raw: text on SQLite (and asyncpg's default), or decoded."""
    return cast(list[str], json.loads(value) if isinstance(value, str | bytes) else value)


def _identity(
    source: str | None,
    account: str | None,
    external_id: str | None,
    emails: Sequence[str],
    phones: Sequence[str],
) -> tuple[str, ...]:
    """What tells a new contact apart from the others of its batch (see `_insert`)."""
    if external_id:
        return ("origin", str(source), str(account), external_id)
    if emails:
        return ("email", emails[0])
    return ("phone", phones[0])


@dataclass(slots=True, eq=False)
class _Known:
    """A contact a batch knows: one it matched (read and locked: `id` is set) or one it is
    about to insert (`id` is set once inserted).

    Plain attributes named like Contact's, holding only what merging reads and writes: a
    Tortoise model per row (with its datetime parsing) and bulk_create's or bulk_update's
    conversions cost several times what the database itself spends on the same rows.
    """

    id: int | None
    first_name: str | None
    last_name: str | None
    company: str | None
    title: str | None
    emails: list[str]
    phones: list[str]
    source: str | None
    source_account: str | None
    external_id: str | None
    status: ContactStatus = ContactStatus.ACTIVE
    archived_at: datetime | None = None
    # Set when the contact changes in a way a person can see; None keeps the stored time.
    updated_at: datetime | None = None
    # Derived from the fields just before they are written (see `_derive`).
    sort_name: str = ""
    search_text: str = ""


# What a batch reads of the contacts it matched, in _Known's order: never the search text,
# and of the datetimes only archived_at, which is NULL (free to read) unless archived.
MATCHED_COLUMNS = (
    "id",
    *TEXT_COLUMNS,
    "emails",
    "phones",
    "source",
    "source_account",
    "external_id",
    "status",
    "archived_at",
)
INSERTED_COLUMNS = (
    "workspace_id",
    *TEXT_COLUMNS,
    "emails",
    "phones",
    "sort_name",
    "search_text",
    "status",
    "source",
    "source_account",
    "external_id",
    "created_at",
    "updated_at",
)


async def _insert(
    connection: BaseDBAsyncClient, workspace_id: int, created: list[_Known], now: datetime
) -> None:
    """Insert the new contacts in one statement per chunk, then read back their keys.

    Values go through the model's own fields (JSON, datetimes, enums), as bulk_create's do.
    An insert of many rows does not return keys on either database. Within a batch, every
    new contact has a source ID, an email or a phone that no other new contact of the batch
    has (it would have matched that one), and all carry the batch's creation time: that
    finds them again.
    """
    fields = Contact._meta.fields_map
    stamp = fields["created_at"].to_db_value(now, Contact)
    status = fields["status"].to_db_value(ContactStatus.ACTIVE, Contact)
    emails, phones = fields["emails"], fields["phones"]
    none = emails.to_db_value([], Contact)
    values = [
        [
            workspace_id,
            c.first_name,
            c.last_name,
            c.company,
            c.title,
            emails.to_db_value(c.emails, Contact) if c.emails else none,
            phones.to_db_value(c.phones, Contact) if c.phones else none,
            c.sort_name,
            c.search_text,
            status,
            c.source,
            c.source_account,
            c.external_id,
            stamp,
            stamp,
        ]
        for c in created
    ]
    await insert_rows(connection, Contact, INSERTED_COLUMNS, values)
    pending = {
        _identity(c.source, c.source_account, c.external_id, c.emails, c.phones): c for c in created
    }
    p = Parameters(connection)
    sql = (
        'SELECT "id", "source", "source_account", "external_id", "emails", "phones" '  # noqa: S608
        f'FROM "contact" WHERE "workspace_id" = {p(workspace_id)} AND "created_at" = {p(stamp)}'
    )
    _, rows = await connection.execute_query(sql, p.values)
    for row in rows:
        if row["external_id"]:
            identity = _identity(row["source"], row["source_account"], row["external_id"], [], [])
        else:
            identity = _identity(None, None, None, _listed(row["emails"]), _listed(row["phones"]))
        contact = pending.pop(identity, None)
        if contact is not None:
            contact.id = int(row["id"])
    if pending:
        raise RuntimeError("bulk-inserted contacts could not be found again")


async def _update(connection: BaseDBAsyncClient, changed: Sequence[_Known]) -> None:
    """Write the merged contacts in one statement per chunk (see `db.update_rows`).

    Values go through the model's own fields, as in `_insert`. A contact whose change no
    person can see (it adopted a source ID) keeps its stored updated_at.
    """
    fields = Contact._meta.fields_map
    converted = {"emails", "phones", "status", "archived_at", "updated_at"}

    def db_value(column: str, value: Any) -> Any:
        if value is None or column not in converted:
            return value
        return fields[column].to_db_value(value, Contact)

    written = (*UPDATED_COLUMNS, "updated_at")
    values = [
        [*(db_value(column, getattr(c, column)) for column in written), c.id] for c in changed
    ]
    await update_rows(connection, Contact, written, values, unless_null=("updated_at",))


def _derive(contact: _Known) -> None:
    """Bring the denormalized columns (list order, search) in step with the fields."""
    # derived_columns reads only the fields that _Known has too.
    for column, value in derived_columns(cast(Contact, contact)).items():
        setattr(contact, column, value)


class _Batch:
    """The state of one `bring_in` call: matches found so far, and what to write."""

    def __init__(self, source: Source, now: datetime) -> None:
        self.source = source
        self.now = now
        self.counts = Counts()
        self.by_origin: dict[str, _Known] = {}
        self.by_email: dict[str, _Known] = {}
        self.by_phone: dict[str, _Known] = {}
        self.created: list[_Known] = []
        self.changed: dict[int, _Known] = {}  # existing contacts to update, by key
        self.reindex: dict[int, _Known] = {}  # existing contacts whose emails/phones changed
        self.links: list[tuple[_Known, int]] = []  # (contact, tag id) to link
        self.linked: set[tuple[int, int]] = set()  # (contact key, tag id) present already

    def match(self, row: IncomingContact) -> _Known | None:
        if row.external_id is not None and row.external_id in self.by_origin:
            return self.by_origin[row.external_id]
        for email in row.emails:
            if email in self.by_email:
                return self.by_email[email]
        for phone in row.phones:
            if phone in self.by_phone:
                return self.by_phone[phone]
        return None

    def remember(self, contact: _Known, row: IncomingContact) -> None:
        """Later rows of the batch find this contact too (first owner wins, as in the index)."""
        if row.external_id is not None:
            self.by_origin.setdefault(row.external_id, contact)
        for email in contact.emails:
            self.by_email.setdefault(email, contact)
        for phone in contact.phones:
            self.by_phone.setdefault(phone, contact)

    def create(self, row: IncomingContact) -> _Known:
        contact = _Known(
            id=None,
            first_name=row.first_name,
            last_name=row.last_name,
            company=row.company,
            title=row.title,
            emails=list(row.emails),
            phones=list(row.phones),
            source=self.source.kind.value,
            source_account=self.source.account if row.external_id is not None else None,
            external_id=row.external_id,
            updated_at=self.now,
        )
        self.created.append(contact)
        return contact

    def merge(self, contact: _Known, row: IncomingContact) -> bool:
        """Give the contact the row's non-empty fields and the union of addresses.

        True when a field a person can see changed. A contact without a source ID adopts
        the row's, so that the next sync finds it by that (no visible change).
        """
        changed = False
        for column in TEXT_COLUMNS:
            value = getattr(row, column)
            if value and getattr(contact, column) != value:
                setattr(contact, column, value)
                changed = True
        addresses_changed = False
        for column, values in (("emails", row.emails), ("phones", row.phones)):
            current: list[str] = list(getattr(contact, column))
            extra = [value for value in values if value not in current]
            if extra:
                setattr(contact, column, current + extra)
                addresses_changed = True
        adopted = False
        if row.external_id is not None and not contact.external_id:
            contact.source = self.source.kind.value
            contact.source_account = self.source.account
            contact.external_id = row.external_id
            adopted = True
        changed = changed or addresses_changed
        after = status_after_match(self.source.origin, contact.status)
        if after is not contact.status:
            contact.status = after
            contact.archived_at = None
            changed = True
        if changed:
            contact.updated_at = self.now
        if contact.id is not None and (changed or adopted):
            self.changed[contact.id] = contact
            if addresses_changed:
                self.reindex[contact.id] = contact
        return changed

    def tag(self, contact: _Known, tag_ids: Iterable[int]) -> bool:
        """Queue the links the contact lacks; True when there are any."""
        added = False
        for tag_id in tag_ids:
            key = (contact.id if contact.id is not None else -id(contact), tag_id)
            if key not in self.linked:
                self.linked.add(key)
                self.links.append((contact, tag_id))
                added = True
        return added


def _match_keys(source: Source, rows: Sequence[IncomingContact]) -> Iterator[tuple[str, ...]]:
    """Every key the rows may match by: source IDs, emails and phones (see `_Batch.match`).

    A contact a batch merges into gains addresses only from its rows, so any two batches
    that could make the same person two contacts share one of these keys.
    """
    for row in rows:
        origin = _origin(source, row)
        if origin is not None:
            yield (claims.ORIGIN, *origin)
        for email in row.emails:
            yield (claims.EMAIL, email)
        for phone in row.phones:
            yield (claims.PHONE, phone)


async def bring_in(
    workspace: Workspace, source: Source, rows: Sequence[IncomingContact]
) -> ImportResult:
    """Match, merge and create the rows' contacts, in one transaction; see the module.

    A row that would create a contact without a name, an email or a phone is refused.
    """
    if not rows:
        return ImportResult()
    async with transaction() as connection:
        # Before any read: a racing request that brings in the same person waits here, then
        # finds this one's contact instead of creating another (see server/claims.py).
        await claims.claim(connection, workspace.id, _match_keys(source, rows))
        if is_postgres():
            # The batch lookups send the same statement text every batch; after five runs a
            # generic plan, costed when the workspace was still empty, would scan all of its
            # handles for each value. Planning for the actual values costs well under 1 ms.
            await connection.execute_script("SET LOCAL plan_cache_mode = force_custom_plan")
        return await _bring_in(connection, workspace, source, rows)


async def _bring_in(
    connection: BaseDBAsyncClient,
    workspace: Workspace,
    source: Source,
    rows: Sequence[IncomingContact],
) -> ImportResult:
    workspace_id = workspace.id
    batch = _Batch(source, datetime.now(UTC))

    # Every possible match, in sets. A row matched by its source ID never looks at its
    # addresses (see `_Batch.match`), so only the other rows' addresses are looked up: an
    # identical re-sync reads no handles at all.
    origins = await _by_origin(
        connection, workspace_id, source, {r.external_id for r in rows if r.external_id is not None}
    )
    first_owner = await _first_owners(
        workspace_id, [r for r in rows if r.external_id not in origins]
    )
    contacts = {
        row[0]: _Known(*row)
        for row in await lock_rows(
            workspace_id, [*origins.values(), *first_owner.values()], MATCHED_COLUMNS
        )
    }
    gone = [r for r in rows if r.external_id in origins and origins[r.external_id] not in contacts]
    if gone:
        # Deleted between the lookup and the lock: these rows match by address after all.
        # This second lock is out of key order with the first, only ever in this race; a
        # deadlock it might meet is PostgreSQL's to break (one transaction fails whole).
        more = {
            key: pk
            for key, pk in (await _first_owners(workspace_id, gone)).items()
            if key not in first_owner
        }
        for values in await lock_rows(workspace_id, more.values(), MATCHED_COLUMNS):
            contacts.setdefault(values[0], _Known(*values))
        first_owner.update(more)
    for external_id, pk in origins.items():
        if pk in contacts:
            batch.by_origin[external_id] = contacts[pk]
    for (kind, value), pk in first_owner.items():
        if pk in contacts:
            (batch.by_email if kind == handles.EMAIL else batch.by_phone)[value] = contacts[pk]

    # What deletions with preventResync cover (read after the locks: see lifecycle.delete).
    digests = await _digests_to_check(workspace, source, rows)
    suppressed = await _suppressed(connection, workspace_id, {d for ds in digests for d in ds})

    # Tags (CSV): the workspace's tags by key, and the links the matched contacts have.
    tag_ids: dict[str, int] = {}
    names = {name.casefold(): name for r in rows for name in r.tags}
    if names:
        tag_ids = {t.name_key: t.id for t in await ensure_tags(workspace_id, list(names.values()))}
        for chunk in chunks(sorted(contacts)):
            batch.linked.update(
                await ContactTag.filter(
                    contact_id__in=chunk, tag_id__in=list(tag_ids.values())
                ).values_list("contact_id", "tag_id")
            )

    lifted: set[str] = set()
    refused: list[RowError] = []
    for row, row_digests in zip(rows, digests, strict=True):
        match = batch.match(row)
        covered = any(d in suppressed for d in row_digests)
        decision = incoming_decision(
            source.origin, match.status if match is not None else None, covered
        )
        if decision is Incoming.SKIP:
            batch.counts.suppressed += 1
            continue
        if covered and source_lifts_suppression(source.origin):
            lifted.update(d for d in row_digests if d in suppressed)
        if (decision is Incoming.CREATE or match is None) and not identified(row):
            refused.append(RowError(row.position, [FieldError("firstName", IDENTITY_MESSAGE)]))
            continue
        row_tags = [tag_ids[name.casefold()] for name in row.tags]
        contact: _Known
        if decision is Incoming.CREATE or match is None:
            contact = batch.create(row)
            batch.tag(contact, row_tags)
            batch.counts.created += 1
        else:
            contact = match
            if contact.status is ContactStatus.ARCHIVED:
                batch.counts.kept_archived += 1
            changed = batch.merge(contact, row)
            if batch.tag(contact, row_tags) and not changed:
                changed = True
                contact.updated_at = batch.now
                if contact.id is not None:
                    batch.changed[contact.id] = contact
            if changed:
                batch.counts.updated += 1
            else:
                batch.counts.unchanged += 1
        batch.remember(contact, row)

    # Writes, in sets.
    if is_postgres():
        # Custom plans were for the lookups above. The writes' foreign-key checks run cached
        # plans of their own: replanned for every row, inserting a first sync's 8,750 handles
        # took 0.44 s instead of 0.15 s.
        await connection.execute_script("SET LOCAL plan_cache_mode TO DEFAULT")
    for contact in (*batch.created, *batch.changed.values()):
        _derive(contact)
    if batch.created:
        await _insert(connection, workspace_id, batch.created, batch.now)
        # The index reads only a contact's key, emails and phones.
        await handles.reindex(workspace_id, cast(list[Contact], batch.created), fresh=True)
    if batch.changed:
        await _update(connection, list(batch.changed.values()))
    if batch.reindex:
        await handles.reindex(workspace_id, cast(list[Contact], list(batch.reindex.values())))
    if batch.links:
        links = [[contact.id, tag_id] for contact, tag_id in batch.links]
        await insert_rows(connection, ContactTag, ("contact_id", "tag_id"), links)
    for lifted_digests in chunks(sorted(lifted)):
        await Suppression.filter(workspace_id=workspace_id, digest__in=lifted_digests).delete()
    return ImportResult(batch.counts, refused)


# ---------------------------------------------------------------- syncContacts

SYNC_FIELDS = (*TEXT_COLUMNS, "emails", "phones")
# A phone sends its whole address book again and again, and checking a row costs ~10 µs
# even when the normalize caches know its addresses: a fifth of an identical re-sync of
# 5,000 contacts. The check is pure (the row and the workspace's phone region in, a frozen
# value out); room for two full syncs, at most ~12 MB.
CACHED_SYNC_ROWS = 10_000


@functools.lru_cache(maxsize=CACHED_SYNC_ROWS)
def _checked_sync_row(
    phone_region: str, external_id: str, fields: tuple[Any, ...]
) -> IncomingContact | RowError:
    """`validate_row` of a sync item with `fields` in SYNC_FIELDS order (lists as tuples), at
    position 0: the caller puts in the item's own position."""
    given = {
        name: list(value) if isinstance(value, tuple) else value
        for name, value in zip(SYNC_FIELDS, fields, strict=True)
    }
    return validate_row(phone_region, 0, given, external_id=external_id)


async def sync_contacts(
    workspace_id: int,
    kind: SourceKind,
    account: str,
    contacts: Sequence[Mapping[str, Any]],
    *,
    max_contacts: int,
) -> ImportResult:
    """A phone's or a mailbox's address book, or part of it: one transaction.

    Each item of `contacts` has external_id and optionally first_name, last_name, company,
    title, emails and phones. Bad items are reported by list position (1-based); the others
    still land.
    """
    if kind not in SYNC_SOURCES:
        raise BadUserInput(
            "syncContacts takes PHONE or EMAIL contacts; upload CSV files with importContactsCsv."
        )
    if len(contacts) > max_contacts:
        raise BadUserInput(
            f"At most {max_contacts:,} contacts per sync ({len(contacts):,} sent): "
            "send the rest in another call."
        )
    account = " ".join(account.split())
    if not account or len(account) > MAX_SOURCE_TEXT:
        raise BadUserInput(f"sourceAccount has 1 to {MAX_SOURCE_TEXT} characters.")
    if has_control(account):
        raise BadUserInput(f"sourceAccount: {CONTROL_MESSAGE}")
    workspace = await Workspace.get(id=workspace_id)
    result = ImportResult()
    valid: list[IncomingContact] = []
    for position, item in enumerate(contacts, start=1):
        external_id = str(item.get("external_id") or "").strip()
        problem = (
            "The contact's ID in the source cannot be empty."
            if not external_id
            else f"At most {MAX_SOURCE_TEXT} characters."
            if len(external_id) > MAX_SOURCE_TEXT
            else CONTROL_MESSAGE
            if has_control(external_id)
            else None
        )
        if problem is not None:
            result.row_errors.append(RowError(position, [FieldError("externalId", problem)]))
            continue
        fields = tuple(tuple(v) if isinstance(v, list) else v for v in map(item.get, SYNC_FIELDS))
        checked = _checked_sync_row(workspace.phone_region, external_id, fields)
        if isinstance(checked, RowError):
            result.row_errors.append(RowError(position, list(checked.errors)))
        else:
            valid.append(checked.at(position))
    landed = await bring_in(workspace, Source(Origin.SYNC, kind, account), valid)
    result.counts = landed.counts
    result.row_errors = sorted([*result.row_errors, *landed.row_errors], key=lambda e: e.row)
    return result
