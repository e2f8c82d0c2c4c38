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
from server.directory import Criteria, Order, OrderField
from server.errors import BadUserInput
from server.models import Direction, InteractionKind
from server.policy import ContactStatus, MessageChannel, SourceKind, StageCategory

T = TypeVar("T")

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
    status: ContactStatus | None = None
    search: str | None = strawberry.field(
        default=None, description="Case-insensitive substring of name, email, phone or company."
    )
    stage_ids: list[strawberry.ID] | None = None
    stage_categories: list[StageCategory] | None = None
    no_stage: bool | None = strawberry.field(
        default=None, description="True: only contacts without a stage."
    )
    tag_ids: list[strawberry.ID] | None = None
    bucket_ids: list[strawberry.ID] | None = None
    assignee_id: strawberry.ID | None = None
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


@strawberry.input
class ContactOrder:
    field: OrderField
    direction: OrderDirection = OrderDirection.ASC


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
    ids: list[strawberry.ID] | None = None
    audience_id: strawberry.ID | None = None
    filter: ContactFilter | None = None
    except_ids: list[strawberry.ID] | None = None


@strawberry.input
class ArchiveContactsInput:
    selection: ContactSelection
    dry_run: bool = strawberry.field(
        default=False,
        description="Report what would happen and change nothing (the confirmation step).",
    )


@strawberry.input
class UnarchiveContactsInput:
    selection: ContactSelection
    dry_run: bool = False


@strawberry.input
class DeleteContactsInput:
    selection: ContactSelection
    dry_run: bool = False
    prevent_resync: bool = strawberry.field(
        default=False,
        description=(
            "Also keep automatic sources (phone and email sync, logged interactions)\n"
            "from re-creating these contacts. Only one-way hashes of their emails,\n"
            "phones and source IDs are kept. Creating a contact by hand, or importing\n"
            "a CSV file, brings a suppressed contact back and lifts its suppression."
        ),
    )


@strawberry.input
class ContactInput:
    first_name: str | None = strawberry.UNSET
    last_name: str | None = strawberry.UNSET
    company: str | None = strawberry.UNSET
    title: str | None = strawberry.UNSET
    emails: list[str] | None = strawberry.UNSET
    phones: list[str] | None = strawberry.UNSET
    stage_id: strawberry.ID | None = strawberry.UNSET
    assignee_id: strawberry.ID | None = strawberry.UNSET
    tag_names: list[str] | None = strawberry.UNSET


@strawberry.input
class UpdateContactInput:
    id: strawberry.ID
    patch: ContactInput = strawberry.field(
        description="Only the fields given are changed; null clears a field."
    )


@strawberry.input
class SetStageInput:
    selection: ContactSelection
    stage_id: strawberry.ID | None = strawberry.field(
        default=None, description="Null removes the stage."
    )


@strawberry.input
class AssignContactsInput:
    selection: ContactSelection
    assignee_id: strawberry.ID | None = strawberry.field(
        default=None, description="Null removes the assignee."
    )


@strawberry.input
class TagContactsInput:
    selection: ContactSelection
    tag_names: list[str] = strawberry.field(description="Tags that do not exist yet are created.")


@strawberry.input
class BucketContactsInput:
    selection: ContactSelection
    bucket_id: strawberry.ID


@strawberry.input
class SendMessageInput:
    selection: ContactSelection
    channel: MessageChannel
    body: str
    subject: str | None = None


@built_directly
@strawberry.input
class SyncedContactInput:
    external_id: str = strawberry.field(
        description="The contact's ID in the source (stable across syncs)."
    )
    first_name: str | None = None
    last_name: str | None = None
    company: str | None = None
    title: str | None = None
    emails: list[str] | None = None
    phones: list[str] | None = None


@built_directly
@strawberry.input
class SyncContactsInput:
    source: SourceKind
    source_account: str = strawberry.field(
        description=(
            "Which phone or mailbox, e.g. the device's name; with source and externalId "
            "it identifies a contact's origin."
        )
    )
    contacts: list[SyncedContactInput]


@strawberry.input
class LogInteractionInput:
    kind: InteractionKind
    direction: Direction
    occurred_at: datetime
    email: str | None = strawberry.field(
        default=None,
        description=(
            "Who the interaction was with; an unknown address creates a contact "
            "(source EMAIL or PHONE) unless suppressed."
        ),
    )
    phone: str | None = None
    subject: str | None = None


@strawberry.input
class SaveAudienceInput:
    name: str
    filter: ContactFilter


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
    return Criteria(
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
            decode_id(value.assignee_id, "User", "user") if value.assignee_id is not None else None
        ),
        unassigned=value.unassigned,
        archivable=value.archivable,
        archived_before=_aware(value.archived_before),
        updated_since=_aware(value.updated_since),
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
