"""Input types, and their translation into domain values (IDs decoded, limits checked)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

import strawberry
from strawberry.types.arguments import InputContext
from strawberry.types.base import (
    StrawberryList,
    StrawberryOptional,
    get_object_definition,
)
from strawberry.types.enum import StrawberryEnumDefinition, has_enum_definition
from strawberry.types.field import StrawberryField

from schema.types import OrderDirection
from server import ids
from server.directory import MAX_SEARCH, Criteria, Order, OrderField, check_criteria
from server.editing import MAX_TAG, MAX_TAGS, MAX_TEXT, MAX_VALUES
from server.errors import BadUserInput
from server.models import Direction, InteractionKind
from server.policy import ContactStatus, MessageChannel, SourceKind, StageCategory
from server.settings import Settings

T = TypeVar("T")

# The defaults of the limits the server reads from its settings (schema/selection.py).
_DEFAULTS = Settings.model_construct()
MAX_IDS = _DEFAULTS.max_ids
MAX_SELECTION = _DEFAULTS.max_selection
MAX_SYNC_CONTACTS = _DEFAULTS.max_sync_contacts
TEXT = f"At most {MAX_TEXT} characters; null clears it."
ID_LIST = " Malformed IDs are BAD_USER_INPUT; an empty list matches nothing."

_SCALARS = (str, int, float, bool)


def _is_scalar(type_: object) -> bool:
    if isinstance(type_, StrawberryOptional | StrawberryList):
        return _is_scalar(type_.of_type)
    return type_ in _SCALARS


def _direct_items(type_: object) -> type[Any] | None:
    """The input class of a list of inputs that are themselves built directly."""
    if isinstance(type_, StrawberryOptional):
        type_ = type_.of_type
    if (
        isinstance(type_, StrawberryList)
        and isinstance(type_.of_type, type)
        and getattr(type_.of_type, _DIRECT, False)
    ):
        return type_.of_type
    return None


# Marks the classes built_directly made; a list of them is built item by item in place.
_DIRECT = "_built_directly"
Converter = Callable[[Any, InputContext], Any]


def _converter(field: StrawberryField, graphql_name: str) -> Converter | None:
    """How to build the field's value; None: as graphql-core gave it."""
    if _is_scalar(field.type):
        return None
    items = _direct_items(field.type)
    if items is not None:
        build = get_object_definition(items, strict=True).from_input
        assert build is not None

        def each(value: Any, context: InputContext) -> Any:
            return None if value is None else [build(items, item, context) for item in value]

        return each
    # An enum: once per input, as Strawberry converts it.
    return lambda value, context: context.convert(value, field.type, graphql_name)


def _is_enum(type_: object) -> bool:
    if isinstance(type_, StrawberryOptional):
        type_ = type_.of_type
    return isinstance(type_, StrawberryEnumDefinition) or has_enum_definition(type_)


def built_directly(cls: type[T]) -> type[T]:
    """An input built straight from graphql-core's values: plain scalars and lists of them
    as they are, a list of other such inputs item by item, an enum as Strawberry does.

    graphql-core has already coerced and validated every field; Strawberry's generic
    conversion then took ~15 µs more per field, half of an identical re-sync of 5,000
    contacts, and ~5 µs more per item of a list of inputs.
    """
    definition = get_object_definition(cls, strict=True)
    odd = [
        field.python_name
        for field in definition.fields
        if not (
            _is_scalar(field.type) or _is_enum(field.type) or _direct_items(field.type) is not None
        )
    ]
    if odd:
        raise TypeError(
            f"{cls.__name__}: not scalars, enums, or lists of scalars or of inputs built "
            f"directly: {', '.join(odd)}"
        )
    converters: dict[str, tuple[str, Converter | None]] = {}

    def from_input(type_: type[T], value: Mapping[str, Any], context: InputContext) -> T:
        if not converters:
            converter = context.config.name_converter
            for field in definition.fields:
                name = converter.from_field(field)
                converters[name] = (field.python_name, _converter(field, name))
        built = {}
        for name, item in value.items():
            python_name, convert = converters[name]
            if convert is not None:
                built[python_name] = convert(item, context)
            else:
                # Copied, as Strawberry does: graphql-core may share a default list between
                # requests.
                built[python_name] = list(item) if isinstance(item, list) else item
        return type_(**built)

    definition.from_input = from_input
    setattr(cls, _DIRECT, True)
    return cls


@strawberry.input(description="All fields are ANDed; list fields match any of their values.")
class ContactFilter:
    status: ContactStatus | None = strawberry.field(
        default=None, description="Only contacts with this status; null: either."
    )
    search: str | None = strawberry.field(
        default=None,
        description=(
            "Case-insensitive substring of name, email, phone or company; "
            f"at most {MAX_SEARCH} characters."
        ),
    )
    stage_ids: list[strawberry.ID] | None = strawberry.field(
        default=None,
        description="Contacts in any of these stages." + ID_LIST,
    )
    stage_categories: list[StageCategory] | None = strawberry.field(
        default=None,
        description=(
            "Contacts whose stage has any of these categories; an empty list matches nothing."
        ),
    )
    no_stage: bool | None = strawberry.field(
        default=None, description="True: only contacts without a stage."
    )
    tag_ids: list[strawberry.ID] | None = strawberry.field(
        default=None,
        description="Contacts with any of these tags." + ID_LIST,
    )
    bucket_ids: list[strawberry.ID] | None = strawberry.field(
        default=None,
        description="Contacts in any of these buckets." + ID_LIST,
    )
    assignee_id: strawberry.ID | None = strawberry.field(
        default=None,
        description=(
            'Contacts assigned to this user, e.g. the viewer\'s ID for "assigned to me" '
            "(which My People is not)."
        ),
    )
    unassigned: bool | None = strawberry.field(
        default=None, description="True: only contacts without an assignee."
    )
    archivable: bool | None = strawberry.field(
        default=None,
        description=(
            "True: only active contacts that could be archived now; "
            "false: only active ones that could not."
        ),
    )
    archived_before: datetime | None = strawberry.field(
        default=None,
        description=(
            "Only contacts archived before this moment (so only archived ones), e.g. to delete "
            "what has been archived for over a year. A time without a zone is UTC."
        ),
    )
    updated_since: datetime | None = strawberry.field(
        default=None,
        description=(
            "Only contacts changed at or after this moment, e.g. to sync what changed since "
            "the last run. A time without a zone is UTC."
        ),
    )


@strawberry.input(description="How a list of contacts is sorted; by default NAME, ascending.")
class ContactOrder:
    field: OrderField = strawberry.field(description="What to sort by.")
    direction: OrderDirection = strawberry.field(
        default=OrderDirection.ASC, description="ASC unless given."
    )


@strawberry.input(
    description=(
        "Which contacts an action applies to: either the ticked ones (ids), or\n"
        '"select all" in an audience (audienceId, narrowed by filter, minus exceptIds).\n'
        "ids together with audienceId or filter is a BAD_USER_INPUT error.\n"
        "Results come one per distinct contact, in the order of ids (first\n"
        "occurrence) or of the audience's default order."
    )
)
class ContactSelection:
    ids: list[strawberry.ID] | None = strawberry.field(
        default=None,
        description=(
            f"The ticked contacts: at most {MAX_IDS:,} (more is BAD_USER_INPUT; select by "
            "audience instead). Repeated IDs count once; unknown ones get ContactNotFound."
        ),
    )
    audience_id: strawberry.ID | None = strawberry.field(
        default=None,
        description=(
            "Every contact of this audience (an ID from `audiences`), e.g. My People: every "
            "active contact of the workspace, not only those assigned to the viewer. Without "
            f"it, a filter applies to All People. At most {MAX_SELECTION:,} contacts (the server's "
            "MAX_SELECTION): more is BAD_USER_INPUT and nothing changes. An unknown audience "
            "is BAD_USER_INPUT."
        ),
    )
    filter: ContactFilter | None = strawberry.field(
        default=None, description="Narrows the audience (ANDed with its own criteria)."
    )
    except_ids: list[strawberry.ID] | None = strawberry.field(
        default=None,
        description=(
            "Contacts to leave out of an audience selection (the ones unticked after "
            '"select all"); with ids it is BAD_USER_INPUT.'
        ),
    )


@strawberry.input(description="The input of archiveContacts.")
class ArchiveContactsInput:
    selection: ContactSelection = strawberry.field(description="The contacts to archive.")
    dry_run: bool = strawberry.field(
        default=False,
        description="Report what would happen and change nothing (the confirmation step).",
    )


@strawberry.input(description="The input of unarchiveContacts.")
class UnarchiveContactsInput:
    selection: ContactSelection = strawberry.field(description="The contacts to unarchive.")
    dry_run: bool = strawberry.field(
        default=False,
        description="Report what would happen and change nothing (the confirmation step).",
    )


@strawberry.input(description="The input of deleteContacts.")
class DeleteContactsInput:
    selection: ContactSelection = strawberry.field(description="The contacts to delete.")
    dry_run: bool = strawberry.field(
        default=False,
        description="Report what would happen and change nothing (the confirmation step).",
    )
    prevent_resync: bool = strawberry.field(
        default=False,
        description=(
            "Also keep automatic sources (phone and email sync, logged interactions)\n"
            "from re-creating these contacts. Only one-way hashes of their emails,\n"
            "phones and source IDs are kept. Creating a contact by hand, or importing\n"
            "a CSV file, brings a suppressed contact back and lifts its suppression."
        ),
    )


@strawberry.input(
    description=(
        "A contact's fields, for createContact and updateContact's patch. A contact needs at "
        "least a name, an email address or a phone number. Refused fields come back together "
        "in InvalidContactInput."
    )
)
class ContactInput:
    first_name: str | None = strawberry.field(default=strawberry.UNSET, description=TEXT)
    last_name: str | None = strawberry.field(default=strawberry.UNSET, description=TEXT)
    company: str | None = strawberry.field(default=strawberry.UNSET, description=TEXT)
    title: str | None = strawberry.field(
        default=strawberry.UNSET, description="The job title. " + TEXT
    )
    emails: list[str] | None = strawberry.field(
        default=strawberry.UNSET,
        description=(
            f"At most {MAX_VALUES}; each must be a valid address. Stored lower-cased, "
            "duplicates dropped; the list replaces the contact's emails."
        ),
    )
    phones: list[str] | None = strawberry.field(
        default=strawberry.UNSET,
        description=(
            f"At most {MAX_VALUES}, each with at least 3 digits and at most 40 characters. "
            "Stored in E.164 where the number parses (in the workspace's region), else as "
            "typed; the list replaces the contact's phones."
        ),
    )
    stage_id: strawberry.ID | None = strawberry.field(
        default=strawberry.UNSET,
        description="A stage of the workspace (else BAD_USER_INPUT); null removes the stage.",
    )
    assignee_id: strawberry.ID | None = strawberry.field(
        default=strawberry.UNSET,
        description=("A user of the workspace (else BAD_USER_INPUT); null removes the assignee."),
    )
    tag_names: list[str] | None = strawberry.field(
        default=strawberry.UNSET,
        description=(
            f"The contact's tags, replacing the ones it has: at most {MAX_TAGS}, of 1 to "
            f"{MAX_TAG} characters each; tags that do not exist yet are created."
        ),
    )


@strawberry.input(description="The input of updateContact.")
class UpdateContactInput:
    id: strawberry.ID = strawberry.field(description="The contact to change; it must be active.")
    patch: ContactInput = strawberry.field(
        description="Only the fields given are changed; null clears a field."
    )


@strawberry.input(description="The input of setContactStage.")
class SetStageInput:
    selection: ContactSelection = strawberry.field(description="The contacts to set the stage of.")
    stage_id: strawberry.ID | None = strawberry.field(
        default=None, description="Null removes the stage."
    )


@strawberry.input(description="The input of assignContacts.")
class AssignContactsInput:
    selection: ContactSelection = strawberry.field(description="The contacts to assign.")
    assignee_id: strawberry.ID | None = strawberry.field(
        default=None, description="Null removes the assignee."
    )


@strawberry.input(description="The input of tagContacts and untagContacts.")
class TagContactsInput:
    selection: ContactSelection = strawberry.field(description="The contacts to tag or untag.")
    tag_names: list[str] = strawberry.field(
        description=(
            f"At least one and at most {MAX_TAGS}; names compare case-insensitively. "
            "tagContacts creates tags that do not exist yet; untagContacts removes the tags "
            f"from the contacts. A contact carries at most {MAX_TAGS} tags: a tagContacts "
            "that would give any selected contact more is BAD_USER_INPUT and changes nothing."
        )
    )


@strawberry.input(description="The input of addContactsToBucket and removeContactsFromBucket.")
class BucketContactsInput:
    selection: ContactSelection = strawberry.field(
        description="The contacts to add to or remove from the bucket."
    )
    bucket_id: strawberry.ID = strawberry.field(
        description="A bucket of the workspace; else BAD_USER_INPUT."
    )


@strawberry.input(description="The input of sendMessage.")
class SendMessageInput:
    selection: ContactSelection = strawberry.field(description="The contacts to message.")
    channel: MessageChannel = strawberry.field(description="EMAIL or SMS.")
    body: str = strawberry.field(
        description=(
            "Not blank, at most 100,000 characters, no control characters but line breaks "
            "and tabs; else BAD_USER_INPUT."
        )
    )
    subject: str | None = strawberry.field(
        default=None, description="At most 500 characters; null for none."
    )


@built_directly
@strawberry.input(
    description=(
        "One contact from the source. A matched contact gets the non-empty fields and the "
        "union of emails and phones; a sync removes nothing."
    )
)
class SyncedContactInput:
    external_id: str = strawberry.field(
        description="The contact's ID in the source (stable across syncs)."
    )
    first_name: str | None = strawberry.field(default=None, description="Null when not known.")
    last_name: str | None = strawberry.field(default=None, description="Null when not known.")
    company: str | None = strawberry.field(default=None, description="Null when not known.")
    title: str | None = strawberry.field(default=None, description="Null when not known.")
    emails: list[str] | None = strawberry.field(
        default=None, description="Added to a matched contact's emails, normalized."
    )
    phones: list[str] | None = strawberry.field(
        default=None, description="Added to a matched contact's phones, normalized."
    )


@built_directly
@strawberry.input(description="The input of syncContacts.")
class SyncContactsInput:
    source: SourceKind = strawberry.field(description="PHONE or EMAIL; CSV is BAD_USER_INPUT.")
    source_account: str = strawberry.field(
        description=(
            "Which phone or mailbox, e.g. the device's name; with source and externalId "
            "it identifies a contact's origin."
        )
    )
    contacts: list[SyncedContactInput] = strawberry.field(
        description=(
            f"At most {MAX_SYNC_CONTACTS:,} per call (more is BAD_USER_INPUT): send a larger "
            "address book in several calls."
        )
    )


@strawberry.input(description="The input of logInteraction: give an email or a phone.")
class LogInteractionInput:
    kind: InteractionKind = strawberry.field(description="What kind of exchange it was.")
    direction: Direction = strawberry.field(description="Who started it.")
    occurred_at: datetime = strawberry.field(
        description="When it happened; without a time zone, UTC is assumed (years 1 to 9999)."
    )
    email: str | None = strawberry.field(
        default=None,
        description=(
            "Who the interaction was with; an unknown address creates a contact "
            "(source EMAIL or PHONE) unless suppressed."
        ),
    )
    phone: str | None = strawberry.field(
        default=None, description="As email, by phone number, when no email is given."
    )
    subject: str | None = strawberry.field(
        default=None, description="At most 500 characters; null for none."
    )


@strawberry.input(description="The input of saveAudience.")
class SaveAudienceInput:
    name: str = strawberry.field(description="1 to 200 characters, no control characters.")
    filter: ContactFilter = strawberry.field(
        description=(
            "The audience's criteria, kept as given; without a status it covers active and "
            "archived contacts."
        )
    )


@strawberry.input(description="The input of updateAudience: what is not given stays as it is.")
class UpdateAudienceInput:
    id: strawberry.ID = strawberry.field(description="The saved audience (not a built-in one).")
    name: str | None = strawberry.field(
        default=None, description="A new name: 1 to 200 characters, no control characters."
    )
    filter: ContactFilter | None = strawberry.field(
        default=None, description="New criteria, replacing the old ones whole."
    )


# ---------------------------------------------------------------- translation


def decode_id(value: str, type_name: str, what: str) -> int:
    pk = ids.decode(value, type_name)
    if pk is None:
        raise BadUserInput(f"'{value}' is not a {what} ID.")
    return pk


def decode_ids(values: Sequence[str] | None, type_name: str, what: str) -> tuple[int, ...] | None:
    if values is None:
        return None
    return tuple(decode_id(value, type_name, what) for value in values)


def criteria_from(value: ContactFilter | None) -> Criteria | None:
    if value is None:
        return None
    return check_criteria(
        Criteria(
            status=value.status,
            search=value.search,
            stage_ids=decode_ids(value.stage_ids, "Stage", "stage"),
            # An empty list matches nothing, as for the ID lists (never "everything").
            stage_categories=(
                tuple(value.stage_categories) if value.stage_categories is not None else None
            ),
            no_stage=value.no_stage,
            tag_ids=decode_ids(value.tag_ids, "Tag", "tag"),
            bucket_ids=decode_ids(value.bucket_ids, "Bucket", "bucket"),
            assignee_id=(
                decode_id(value.assignee_id, "User", "user")
                if value.assignee_id is not None
                else None
            ),
            unassigned=value.unassigned,
            archivable=value.archivable,
            archived_before=_aware(value.archived_before),
            updated_since=_aware(value.updated_since),
        )
    )


def _aware(moment: datetime | None) -> datetime | None:
    """The stored times are UTC; a time without a zone is taken to be UTC too."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


def order_from(value: ContactOrder | None) -> Order:
    if value is None:
        return Order()
    return Order(field=OrderField(value.field), descending=value.direction is OrderDirection.DESC)
