"""logInteraction: history attached to the contact that owns an address, or to a new one.

An automatic source: the policy decides (`incoming_decision` with Origin.INTERACTION). The
contact that owns the email (else the phone) gets the interaction and keeps its status, so
an archived one stays archived; an unknown address creates a contact (source EMAIL or
PHONE) unless a deletion with preventResync covers it, and then nothing at all is stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from server import claims, handles
from server.db import transaction
from server.editing import CONTROL_MESSAGE, FieldError, InvalidInput, derived_columns, has_control
from server.models import Contact, Direction, Interaction, InteractionKind, Suppression, Workspace
from server.normalize import InvalidValue, normalize_email, normalize_phone
from server.policy import ContactStatus, Incoming, Origin, SourceKind, incoming_decision
from server.suppression import contact_digests

MAX_SUBJECT = 500
SUPPRESSED_REASON = (
    "This address belongs to a contact that was deleted with preventResync, so nothing "
    "was stored. Creating the contact by hand brings it back."
)


@dataclass(frozen=True, slots=True)
class Logged:
    interaction: Interaction
    contact: Contact
    contact_created: bool


@dataclass(frozen=True, slots=True)
class Suppressed:
    reason: str


def _addresses(
    workspace: Workspace, email: str | None, phone: str | None
) -> tuple[str | None, str | None]:
    errors: list[FieldError] = []
    clean_email = clean_phone = None
    if email is not None and email.strip():
        try:
            if has_control(email):
                raise InvalidValue(CONTROL_MESSAGE)
            clean_email = normalize_email(email)
        except InvalidValue as error:
            errors.append(FieldError("email", str(error)))
    if phone is not None and phone.strip():
        try:
            if has_control(phone):
                raise InvalidValue(CONTROL_MESSAGE)
            clean_phone = normalize_phone(phone, workspace.phone_region)
        except InvalidValue as error:
            errors.append(FieldError("phone", str(error)))
    if not errors and clean_email is None and clean_phone is None:
        errors.append(
            FieldError("email", "Give the email address or the phone number of the person.")
        )
    if errors:
        raise InvalidInput(errors)
    return clean_email, clean_phone


async def _owner(workspace_id: int, email: str | None, phone: str | None) -> Contact | None:
    """The contact that owns the email, else the phone (the oldest one), locked."""
    for kind, value in ((handles.EMAIL, email), (handles.PHONE, phone)):
        if value is None:
            continue
        for pk in (await handles.owners(workspace_id, kind, [value])).get(value, []):
            contact = (
                await Contact.filter(workspace_id=workspace_id, id=pk).select_for_update().first()
            )
            if contact is not None:
                return contact
    return None


async def log_interaction(
    workspace_id: int,
    *,
    email: str | None,
    phone: str | None,
    kind: InteractionKind,
    direction: Direction,
    occurred_at: datetime,
    subject: str | None,
) -> Logged | Suppressed:
    """Store one interaction; InvalidInput when the addresses or the subject are bad."""
    workspace = await Workspace.get(id=workspace_id)
    clean_email, clean_phone = _addresses(workspace, email, phone)
    subject = subject.strip() or None if subject is not None else None
    if subject is not None and len(subject) > MAX_SUBJECT:
        raise InvalidInput([FieldError("subject", f"At most {MAX_SUBJECT} characters.")])
    if subject is not None and has_control(subject):
        raise InvalidInput([FieldError("subject", CONTROL_MESSAGE)])
    try:
        # Stored in UTC; a moment near year 1 or 9999 in a far time zone has none.
        occurred_at = (
            occurred_at.replace(tzinfo=UTC)
            if occurred_at.tzinfo is None
            else occurred_at.astimezone(UTC)
        )
    except OverflowError:
        raise InvalidInput(
            [FieldError("occurredAt", "The date is out of range (years 1 to 9999, in UTC).")]
        ) from None
    emails = [clean_email] if clean_email else []
    phones = [clean_phone] if clean_phone else []
    async with transaction() as connection:
        # Before looking for the owner: a racing request that brings in the same address
        # waits here, then finds the contact this one creates (see server/claims.py).
        keys = [(claims.EMAIL, e) for e in emails] + [(claims.PHONE, p) for p in phones]
        await claims.claim(connection, workspace_id, keys)
        contact = await _owner(workspace_id, clean_email, clean_phone)
        suppressed = False
        if contact is None:
            digests = [d for _, d in contact_digests(workspace.secret, emails, phones, None)]
            suppressed = await Suppression.exists(workspace_id=workspace_id, digest__in=digests)
        decision = incoming_decision(
            Origin.INTERACTION,
            ContactStatus(contact.status) if contact is not None else None,
            suppressed,
        )
        if decision is Incoming.SKIP:
            return Suppressed(SUPPRESSED_REASON)
        created = decision is Incoming.CREATE or contact is None
        if created:
            now = datetime.now(UTC)
            contact = Contact(
                workspace_id=workspace_id,
                emails=emails,
                phones=phones,
                status=ContactStatus.ACTIVE,
                source=(SourceKind.EMAIL if emails else SourceKind.PHONE).value,
                created_at=now,
                updated_at=now,
            )
            for column, value in derived_columns(contact).items():
                setattr(contact, column, value)
            await contact.save()
            await handles.reindex(workspace_id, [contact], fresh=True)
        assert contact is not None
        interaction = await Interaction.create(
            workspace_id=workspace_id,
            contact_id=contact.id,
            kind=kind.value,
            direction=direction.value,
            occurred_at=occurred_at,
            subject=subject,
        )
    return Logged(interaction, contact, created)
