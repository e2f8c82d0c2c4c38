"""What admins may know about suppressions: counts, dates and yes/no lookups, never addresses.

Only one-way digests are stored; an admin who types an address can ask whether it is
suppressed, and lift it, because the digest of what they typed can be compared.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from tortoise.functions import Count, Max, Min

from server.errors import BadUserInput
from server.models import Suppression, Workspace
from server.normalize import InvalidValue, normalize_email, normalize_phone
from server.suppression import digest

KINDS = ("email", "phone", "origin")


@dataclass(frozen=True, slots=True)
class Summary:
    count: int
    by_kind: dict[str, int]
    first_created_at: datetime | None
    last_created_at: datetime | None


async def summary(workspace_id: int) -> Summary:
    rows = (
        await Suppression.filter(workspace_id=workspace_id)
        .annotate(size=Count("id"), first=Min("created_at"), last=Max("created_at"))
        .group_by("kind")
        .values("kind", "size", "first", "last")
    )
    by_kind = dict.fromkeys(KINDS, 0)
    firsts: list[datetime] = []
    lasts: list[datetime] = []
    for row in rows:
        by_kind[str(row["kind"])] = by_kind.get(str(row["kind"]), 0) + int(row["size"])
        if row["first"] is not None:
            firsts.append(_aware(row["first"]))
        if row["last"] is not None:
            lasts.append(_aware(row["last"]))
    return Summary(
        count=sum(by_kind.values()),
        by_kind=by_kind,
        first_created_at=min(firsts, default=None),
        last_created_at=max(lasts, default=None),
    )


def _aware(value: datetime | str) -> datetime:
    """Aggregates come back raw: a string on SQLite, a datetime on PostgreSQL."""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


async def _digests(workspace_id: int, email: str | None, phone: str | None) -> list[str]:
    if (email is None) == (phone is None):
        raise BadUserInput("Give either an email address or a phone number.")
    workspace = await Workspace.get(id=workspace_id)
    try:
        if email is not None:
            return [digest(workspace.secret, "email", normalize_email(email))]
        assert phone is not None
        return [digest(workspace.secret, "phone", normalize_phone(phone, workspace.phone_region))]
    except InvalidValue as error:
        raise BadUserInput(str(error)) from None


async def is_suppressed(workspace_id: int, *, email: str | None, phone: str | None) -> bool:
    digests = await _digests(workspace_id, email, phone)
    return await Suppression.exists(workspace_id=workspace_id, digest__in=digests)


async def lift(workspace_id: int, *, email: str | None, phone: str | None) -> int:
    """Forget the suppression of this address; how many entries were lifted (0 or 1)."""
    digests = await _digests(workspace_id, email, phone)
    return await Suppression.filter(workspace_id=workspace_id, digest__in=digests).delete()
