"""Creating and editing contacts: validation, single edits and bulk edits, and messages.

Bulk edits follow the lifecycle's shape: lock, ask the policy (only active contacts change),
write the allowed ones in sets, one transaction.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tortoise.functions import Count

from server import handles
from server.contact_text import display_name, search_text, sort_name
from server.db import chunks, transaction, values_of
from server.directory import (
    MAX_SAVED_AUDIENCE_ID,
    AudienceKind,
    Criteria,
    Target,
    requirement_q,
)
from server.errors import BadUserInput, Forbidden
from server.lifecycle import BulkOutcome, Outcome, allowed_pks, judge
from server.models import (
    Bucket,
    Contact,
    ContactBucket,
    ContactTag,
    Direction,
    Interaction,
    InteractionKind,
    SavedAudience,
    Stage,
    Suppression,
    Tag,
    User,
    Workspace,
)
from server.normalize import InvalidValue, normalize_email, normalize_phone
from server.policy import (
    REQUIREMENTS,
    Action,
    MessageChannel,
    Role,
    may_change_audience,
    message_action,
)
from server.suppression import contact_digests

TEXT_FIELDS = {
    "first_name": "firstName",
    "last_name": "lastName",
    "company": "company",
    "title": "title",
}
MAX_TEXT = 200
MAX_VALUES = 50
MAX_TAG = 100
# Tags a contact may carry, and a call may name: 1,000 names over an audience wrote
# 521,000 rows, and a page of 500 such contacts weighed 18.5 MB.
MAX_TAGS = 50
MAX_NAME = 100
IDENTITY_MESSAGE = "Give at least a name, an email address or a phone number."


@dataclass(frozen=True, slots=True)
class FieldError:
    field: str
    message: str


class InvalidInput(Exception):
    """The input was rejected field by field; nothing was written."""

    def __init__(self, errors: Sequence[FieldError]) -> None:
        super().__init__("; ".join(f"{e.field}: {e.message}" for e in errors))
        self.errors = list(errors)


# ---------------------------------------------------------------- validation


CONTROL_MESSAGE = "Control characters (such as NUL) are not allowed."


# Unicode's stability policy fixes category Cc to exactly these code points, forever.
CONTROL_CHARACTERS = "".join(chr(code) for code in (*range(0x00, 0x20), *range(0x7F, 0xA0)))


@functools.cache
def _control_pattern(allowed: str) -> re.Pattern[str]:
    """One regex search instead of a unicodedata lookup per character."""
    escaped = "".join(f"\\x{ord(ch):02x}" for ch in CONTROL_CHARACTERS if ch not in allowed)
    return re.compile(f"[{escaped}]" if escaped else "(?!)")


def has_control(value: str, allowed: str = "") -> bool:
    """Whether text holds control characters (PostgreSQL cannot even store NUL)."""
    return _control_pattern(allowed).search(value) is not None


def _clean_text(
    value: str | None, field: str, errors: list[FieldError], *, typed: bool
) -> str | None:
    if value is None:
        return None
    # What a person types into a one-line field keeps no tab or line break (refused, as
    # the docs say); a file's or a phone's cell is tidied instead: runs of spaces, tabs and
    # line breaks become one space, since a spreadsheet's wrapped name is still a name.
    if typed and has_control(value):
        errors.append(FieldError(field, CONTROL_MESSAGE))
        return value
    value = " ".join(value.split())
    if has_control(value):
        errors.append(FieldError(field, CONTROL_MESSAGE))
    elif len(value) > MAX_TEXT:
        errors.append(FieldError(field, f"At most {MAX_TEXT} characters."))
    return value or None


def _clean_list(
    values: Sequence[str] | None,
    field: str,
    normalize: Callable[[str], str],
    errors: list[FieldError],
) -> list[str]:
    if values is None:
        return []
    if len(values) > MAX_VALUES:
        errors.append(FieldError(field, f"At most {MAX_VALUES} values."))
        return []
    cleaned: list[str] = []
    for index, raw in enumerate(values):
        if has_control(raw):
            errors.append(FieldError(f"{field}[{index}]", CONTROL_MESSAGE))
            continue
        try:
            value = normalize(raw)
        except InvalidValue as error:
            errors.append(FieldError(f"{field}[{index}]", str(error)))
            continue
        if value not in cleaned:
            cleaned.append(value)
    return cleaned


def clean_tag_names(names: Sequence[str], field: str = "tagNames") -> list[str]:
    errors: list[FieldError] = []
    cleaned: dict[str, str] = {}
    for index, raw in enumerate(names):
        name = " ".join(raw.split())
        if not name:
            errors.append(FieldError(f"{field}[{index}]", "A tag name cannot be empty."))
        elif has_control(name):
            errors.append(FieldError(f"{field}[{index}]", CONTROL_MESSAGE))
        elif len(name.casefold()) > MAX_TAG:
            # The key is what must fit (casefold can lengthen a name: "ß" -> "ss").
            errors.append(FieldError(f"{field}[{index}]", f"At most {MAX_TAG} characters."))
        else:
            cleaned.setdefault(name.casefold(), name)
    if not errors and len(cleaned) > MAX_TAGS:
        errors.append(FieldError(field, f"At most {MAX_TAGS} tags."))
    if errors:
        raise InvalidInput(errors)
    return list(cleaned.values())


async def _check_stage(workspace_id: int, stage_id: int | None) -> None:
    if stage_id is not None and not await Stage.exists(id=stage_id, workspace_id=workspace_id):
        raise BadUserInput("No stage with this ID in your workspace.")


async def _check_assignee(workspace_id: int, user_id: int | None) -> None:
    if user_id is not None and not await User.exists(id=user_id, workspace_id=workspace_id):
        raise BadUserInput("No user with this ID in your workspace.")


def _has_identity(values: Mapping[str, Any]) -> bool:
    return any(values.get(column) for column in ("first_name", "last_name", "emails", "phones"))


async def validated_fields(
    workspace: Workspace, given: Mapping[str, Any], *, creating: bool = False
) -> tuple[dict[str, Any], list[str] | None]:
    """Column values for the given fields, and the tag names if given.

    InvalidInput lists every bad field.

    `given` holds only the fields the client sent (None clears a field). When `creating`,
    the contact must also get a name, an email address or a phone number. An unknown stage
    or assignee is the input as a whole being wrong: BadUserInput.
    """
    values, tag_names = checked_fields(given, workspace.phone_region, creating=creating)
    if "stage_id" in given:
        await _check_stage(workspace.id, given["stage_id"])
        values["stage_id"] = given["stage_id"]
    if "assignee_id" in given:
        await _check_assignee(workspace.id, given["assignee_id"])
        values["assignee_id"] = given["assignee_id"]
    return values, tag_names


def checked_fields(
    given: Mapping[str, Any], phone_region: str, *, creating: bool = False, typed: bool = True
) -> tuple[dict[str, Any], list[str] | None]:
    """`validated_fields` without what needs the database (the stage and the assignee, which
    it leaves out): the same values and InvalidInput, from the input alone. `typed`: sent by
    a person through the API, rather than read from a file or a phone (see _clean_text)."""
    errors: list[FieldError] = []
    values: dict[str, Any] = {}
    for column, field in TEXT_FIELDS.items():
        if column in given:
            values[column] = _clean_text(given[column], field, errors, typed=typed)
    if "emails" in given:
        values["emails"] = _clean_list(given["emails"], "emails", normalize_email, errors)
    if "phones" in given:
        values["phones"] = _clean_list(
            given["phones"], "phones", lambda raw: normalize_phone(raw, phone_region), errors
        )
    tag_names = None
    if given.get("tag_names") is not None:
        try:
            tag_names = clean_tag_names(given["tag_names"])
        except InvalidInput as invalid:
            errors.extend(invalid.errors)
    elif "tag_names" in given:
        tag_names = []
    # Only when nothing that names the contact was sent at all: a rejected email already
    # says what is wrong.
    if creating and not _has_identity(values) and not (given.get("emails") or given.get("phones")):
        errors.append(FieldError("firstName", IDENTITY_MESSAGE))
    if errors:
        raise InvalidInput(errors)
    return values, tag_names


def derived_columns(contact: Contact) -> dict[str, Any]:
    """The denormalized columns, from the contact's current fields."""
    name = display_name(contact.first_name, contact.last_name, contact.emails, contact.phones)
    return {
        "sort_name": sort_name(name),
        "search_text": search_text(
            contact.first_name, contact.last_name, contact.company, contact.emails, contact.phones
        ),
    }


def _require_identity(contact: Contact) -> None:
    has_name = bool(contact.first_name or contact.last_name)
    if not (has_name or contact.emails or contact.phones):
        raise InvalidInput([FieldError("firstName", IDENTITY_MESSAGE)])


# ---------------------------------------------------------------- tags


async def ensure_tags(workspace_id: int, names: Sequence[str]) -> list[Tag]:
    """The tags with these names (case-insensitively), created when missing."""
    if not names:
        return []
    by_key = {name.casefold(): name for name in names}
    existing = await Tag.filter(workspace_id=workspace_id, name_key__in=list(by_key))
    found = {tag.name_key for tag in existing}
    missing = [
        Tag(workspace_id=workspace_id, name=name, name_key=key)
        for key, name in by_key.items()
        if key not in found
    ]
    if missing:
        await Tag.bulk_create(missing, ignore_conflicts=True)
        existing = await Tag.filter(workspace_id=workspace_id, name_key__in=list(by_key))
    return existing


async def _link_tags(contact_ids: Sequence[int], tags: Sequence[Tag]) -> None:
    if not tags or not contact_ids:
        return
    for chunk in chunks(list(contact_ids), 500):
        present = set(
            await ContactTag.filter(
                contact_id__in=chunk, tag_id__in=[t.id for t in tags]
            ).values_list("contact_id", "tag_id")
        )
        await ContactTag.bulk_create(
            [
                ContactTag(contact_id=c, tag_id=t.id)
                for c in chunk
                for t in tags
                if (c, t.id) not in present
            ],
            batch_size=1000,
        )


# ---------------------------------------------------------------- create and update


async def lift_suppression(workspace: Workspace, contact: Contact) -> None:
    """A person's explicit act brings a contact back: forget its suppression digests."""
    origin = None
    if contact.source and contact.source_account and contact.external_id:
        origin = (contact.source, contact.source_account, contact.external_id)
    digests = [
        d for _, d in contact_digests(workspace.secret, contact.emails, contact.phones, origin)
    ]
    if digests:
        await Suppression.filter(workspace_id=workspace.id, digest__in=digests).delete()


async def create_contact(workspace_id: int, given: Mapping[str, Any]) -> Contact:
    workspace = await Workspace.get(id=workspace_id)
    values, tag_names = await validated_fields(workspace, given, creating=True)
    now = datetime.now(UTC)
    # No emails or phones unless the input gives some.
    columns: dict[str, Any] = {"emails": [], "phones": [], **values}
    contact = Contact(workspace_id=workspace_id, created_at=now, updated_at=now, **columns)
    _require_identity(contact)
    for column, value in derived_columns(contact).items():
        setattr(contact, column, value)
    async with transaction():
        await contact.save()
        await handles.reindex(workspace_id, [contact], fresh=True)
        await _link_tags([contact.id], await ensure_tags(workspace_id, tag_names or []))
        await lift_suppression(workspace, contact)
    return contact


async def update_contact(workspace_id: int, target: Target, given: Mapping[str, Any]) -> Outcome:
    """Patch one contact; only an active one changes (else the outcome carries why)."""
    workspace = await Workspace.get(id=workspace_id)
    values, tag_names = await validated_fields(workspace, given)
    async with transaction():
        outcomes, _ = await judge(workspace_id, Action.EDIT, [target])
        outcome = outcomes[0]
        if outcome.violation is not None or outcome.contact is None:
            return outcome
        contact = outcome.contact
        for column, value in values.items():
            setattr(contact, column, value)
        _require_identity(contact)
        for column, value in derived_columns(contact).items():
            setattr(contact, column, value)
        contact.updated_at = datetime.now(UTC)
        await contact.save()
        if "emails" in values or "phones" in values:
            await handles.reindex(workspace_id, [contact])
        if tag_names is not None:
            tags = await ensure_tags(workspace_id, tag_names)
            await (
                ContactTag.filter(contact_id=contact.id)
                .exclude(tag_id__in=[t.id for t in tags])
                .delete()
            )
            await _link_tags([contact.id], tags)
    return outcome


# ---------------------------------------------------------------- bulk edits


async def _bulk_edit(
    workspace_id: int,
    targets: Sequence[Target],
    columns: Mapping[str, Any],
    also: Callable[[list[int]], Awaitable[None]] | None = None,
) -> BulkOutcome:
    async with transaction():
        outcomes, _ = await judge(workspace_id, Action.EDIT, targets)
        allowed = allowed_pks(outcomes)
        now = datetime.now(UTC)
        if allowed:
            guard = requirement_q(workspace_id, REQUIREMENTS[Action.EDIT])
            for chunk in chunks(allowed):
                changed = await Contact.filter(
                    guard, workspace_id=workspace_id, id__in=chunk
                ).update(updated_at=now, **columns)
                if changed != len(chunk):
                    raise RuntimeError("a selected contact changed while it was locked")
            if also is not None:
                await also(allowed)
    for outcome in outcomes:
        if outcome.violation is None and outcome.contact is not None:
            for column, value in {**columns, "updated_at": now}.items():
                setattr(outcome.contact, column, value)
    return BulkOutcome(outcomes, dry_run=False)


async def set_stage(
    workspace_id: int, targets: Sequence[Target], stage_id: int | None
) -> BulkOutcome:
    await _check_stage(workspace_id, stage_id)
    return await _bulk_edit(workspace_id, targets, {"stage_id": stage_id})


async def assign(workspace_id: int, targets: Sequence[Target], user_id: int | None) -> BulkOutcome:
    await _check_assignee(workspace_id, user_id)
    return await _bulk_edit(workspace_id, targets, {"assignee_id": user_id})


def _tag_names(names: Sequence[str]) -> list[str]:
    """Names for a bulk (un)tag: a bad one is the input as a whole being wrong."""
    try:
        cleaned = clean_tag_names(names)
    except InvalidInput as invalid:
        raise BadUserInput(f"A tag name is not valid: {invalid}") from None
    if not cleaned:
        raise BadUserInput("Give at least one tag name.")
    return cleaned


async def tag(workspace_id: int, targets: Sequence[Target], names: Sequence[str]) -> BulkOutcome:
    cleaned = _tag_names(names)

    async def link(pks: list[int]) -> None:
        tags = await ensure_tags(workspace_id, cleaned)
        await _check_room_for(pks, tags)
        await _link_tags(pks, tags)

    return await _bulk_edit(workspace_id, targets, {}, link)


async def _check_room_for(contact_ids: Sequence[int], tags: Sequence[Tag]) -> None:
    """Refuses the whole call (its transaction rolls back) when a contact would carry more
    than MAX_TAGS tags with these."""
    new = [tag.id for tag in tags]
    room = MAX_TAGS - len(new)
    crowded = 0
    for chunk in chunks(list(contact_ids)):
        crowded += len(
            await ContactTag.filter(contact_id__in=chunk)
            .exclude(tag_id__in=new)
            .annotate(others=Count("id"))
            .group_by("contact_id")
            .filter(others__gt=room)
            .values_list("contact_id", flat=True)
        )
    if crowded:
        raise BadUserInput(
            f"{crowded} of the selected contacts would have more than {MAX_TAGS} tags; "
            "untag them first. Nothing was changed."
        )


async def untag(workspace_id: int, targets: Sequence[Target], names: Sequence[str]) -> BulkOutcome:
    keys = [name.casefold() for name in _tag_names(names)]

    async def unlink(pks: list[int]) -> None:
        tag_ids = await values_of(Tag.filter(workspace_id=workspace_id, name_key__in=keys), "id")
        for chunk in chunks(pks):
            await ContactTag.filter(contact_id__in=chunk, tag_id__in=tag_ids).delete()

    return await _bulk_edit(workspace_id, targets, {}, unlink)


async def _bucket(workspace_id: int, bucket_id: int) -> Bucket:
    bucket = await Bucket.get_or_none(id=bucket_id, workspace_id=workspace_id)
    if bucket is None:
        raise BadUserInput("No bucket with this ID in your workspace.")
    return bucket


async def add_to_bucket(
    workspace_id: int, targets: Sequence[Target], bucket_id: int
) -> BulkOutcome:
    bucket = await _bucket(workspace_id, bucket_id)

    async def link(pks: list[int]) -> None:
        for chunk in chunks(pks, 500):
            present = set(
                await values_of(
                    ContactBucket.filter(contact_id__in=chunk, bucket_id=bucket.id), "contact_id"
                )
            )
            await ContactBucket.bulk_create(
                [
                    ContactBucket(contact_id=c, bucket_id=bucket.id)
                    for c in chunk
                    if c not in present
                ],
                batch_size=1000,
            )

    return await _bulk_edit(workspace_id, targets, {}, link)


async def remove_from_bucket(
    workspace_id: int, targets: Sequence[Target], bucket_id: int
) -> BulkOutcome:
    bucket = await _bucket(workspace_id, bucket_id)

    async def unlink(pks: list[int]) -> None:
        for chunk in chunks(pks):
            await ContactBucket.filter(contact_id__in=chunk, bucket_id=bucket.id).delete()

    return await _bulk_edit(workspace_id, targets, {}, unlink)


def _label(name: str, what: str, longest: int = MAX_NAME) -> str:
    """`name` with its spaces tidied; `what` says whose name it is, e.g. "A bucket name"."""
    if has_control(name):
        raise BadUserInput(f"{what} cannot contain control characters.")
    name = " ".join(name.split())
    if not name or len(name) > longest:
        raise BadUserInput(f"{what} has 1 to {longest} characters.")
    if has_control(name):
        raise BadUserInput(f"{what} cannot contain control characters.")
    return name


async def create_bucket(workspace_id: int, name: str) -> Bucket:
    return await Bucket.create(workspace_id=workspace_id, name=_label(name, "A bucket name"))


# ---------------------------------------------------------------- workspace settings


async def rename_stage(workspace_id: int, stage_id: int, name: str) -> Stage:
    """Relabel a stage; its category, and so every rule about it, stays as it is."""
    label = _label(name, "A stage name")
    async with transaction():
        # All of the workspace's stages, locked: two renames cannot both take one name.
        stages = {
            row.id: row
            for row in await Stage.filter(workspace_id=workspace_id)
            .order_by("id")
            .select_for_update()
        }
        stage = stages.get(stage_id)
        if stage is None:
            raise BadUserInput("No stage with this ID in your workspace.")
        if any(
            other.name.casefold() == label.casefold()
            for other in stages.values()
            if other.id != stage_id
        ):
            raise BadUserInput(f"Another stage is called '{label}' already.")
        stage.name = label
        await stage.save(update_fields=["name"])
    return stage


# ---------------------------------------------------------------- audiences


async def _check_all_exist(
    model: type[Stage] | type[Tag] | type[Bucket] | type[User],
    workspace_id: int,
    pks: Sequence[int] | None,
    what: str,
) -> None:
    if not pks:
        return
    wanted = set(pks)
    found = set(await values_of(model.filter(workspace_id=workspace_id, id__in=wanted), "id"))
    if found != wanted:
        raise BadUserInput(f"No {what} with this ID in your workspace.")


async def _checked_audience(
    workspace_id: int, name: str, criteria: Criteria
) -> tuple[str, dict[str, Any]]:
    """The audience's tidied name and its criteria as stored; refused unless everything
    it refers to is in the workspace."""
    label = _label(name, "An audience name", MAX_TEXT)
    if criteria.search is not None and has_control(criteria.search):
        raise BadUserInput("The search text cannot contain control characters.")
    await _check_all_exist(Stage, workspace_id, criteria.stage_ids, "stage")
    await _check_all_exist(Tag, workspace_id, criteria.tag_ids, "tag")
    await _check_all_exist(Bucket, workspace_id, criteria.bucket_ids, "bucket")
    assignee = [criteria.assignee_id] if criteria.assignee_id is not None else None
    await _check_all_exist(User, workspace_id, assignee, "user")
    return label, criteria.to_json()


async def save_audience(
    workspace_id: int, owner_id: int, name: str, criteria: Criteria
) -> SavedAudience:
    """A filter saved under a name; everything it refers to must be in the workspace."""
    label, stored = await _checked_audience(workspace_id, name, criteria)
    return await SavedAudience.create(
        workspace_id=workspace_id, owner_id=owner_id, name=label, criteria=stored
    )


@dataclass(frozen=True, slots=True)
class Editor:
    """Who asks to change a saved audience."""

    user_id: int
    role: Role


async def _audience_to_change(workspace_id: int, editor: Editor, key: str) -> SavedAudience:
    """The saved audience `key` names, locked for the change; refused when there is none
    or when `editor` may not change it (server/policy.py, may_change_audience)."""
    if key in {kind.value for kind in AudienceKind}:
        raise BadUserInput("A built-in audience cannot be changed or deleted.")
    row = None
    if key.isascii() and key.isdigit() and int(key) <= MAX_SAVED_AUDIENCE_ID:
        row = (
            await SavedAudience.filter(id=int(key), workspace_id=workspace_id)
            .select_for_update()
            .first()
        )
    if row is None:
        raise BadUserInput("No saved audience with this ID in your workspace.")
    if not may_change_audience(editor.role, editor.user_id, row.owner_id):
        raise Forbidden("Only whoever saved this audience, or an admin, may change or delete it.")
    return row


async def update_audience(
    workspace_id: int,
    editor: Editor,
    key: str,
    name: str | None = None,
    criteria: Criteria | None = None,
) -> SavedAudience:
    """A new name, a new filter, or both, for a saved audience; the rest stays."""
    async with transaction():
        row = await _audience_to_change(workspace_id, editor, key)
        label, stored = await _checked_audience(
            workspace_id,
            name if name is not None else row.name,
            criteria if criteria is not None else Criteria.from_json(row.criteria),
        )
        row.name, row.criteria = label, stored
        await row.save(update_fields=["name", "criteria"])
    return row


async def delete_audience(workspace_id: int, editor: Editor, key: str) -> None:
    """Forgets a saved audience; its contacts are not touched."""
    async with transaction():
        row = await _audience_to_change(workspace_id, editor, key)
        await SavedAudience.filter(id=row.id).delete()


# ---------------------------------------------------------------- messages


@dataclass(frozen=True, slots=True)
class MessageOutcome:
    outcome: Outcome
    interaction: Interaction | None


async def send_message(
    workspace_id: int,
    targets: Sequence[Target],
    channel: MessageChannel,
    subject: str | None,
    body: str,
) -> list[MessageOutcome]:
    """Queue one outbound interaction per reachable active contact; nothing is sent here."""
    if not body.strip():
        raise BadUserInput("A message needs a body.")
    if len(body) > 100_000 or (subject is not None and len(subject) > 500):
        raise BadUserInput("The message is too long (subject 500, body 100,000 characters).")
    if has_control(body, allowed="\t\n\r") or (subject is not None and has_control(subject)):
        raise BadUserInput("A message cannot contain control characters other than line breaks.")
    action = message_action(channel)
    kind = InteractionKind.EMAIL if channel is MessageChannel.EMAIL else InteractionKind.MESSAGE
    async with transaction():
        outcomes, _ = await judge(workspace_id, action, targets)
        allowed = allowed_pks(outcomes)
        now = datetime.now(UTC)
        queued: dict[int, Interaction] = {}
        if allowed:
            await Interaction.bulk_create(
                [
                    Interaction(
                        workspace_id=workspace_id,
                        contact_id=pk,
                        kind=kind,
                        direction=Direction.OUTBOUND,
                        occurred_at=now,
                        subject=subject,
                        body=body,
                        channel=channel.value,
                        delivery_status="queued",
                    )
                    for pk in allowed
                ],
                batch_size=1000,
            )
            for chunk in chunks(allowed):
                rows = await Interaction.filter(
                    workspace_id=workspace_id,
                    contact_id__in=chunk,
                    occurred_at=now,
                    channel=channel.value,
                    delivery_status="queued",
                )
                queued.update((row.contact_id, row) for row in rows)
    return [
        MessageOutcome(o, queued.get(o.contact.id) if o.contact and o.violation is None else None)
        for o in outcomes
    ]
