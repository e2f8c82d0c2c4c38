"""One-way digests of what a deletion with preventResync keeps from coming back."""

from __future__ import annotations

import hmac
from collections.abc import Iterable, Sequence


def digest(secret: str, kind: str, value: str) -> str:
    """HMAC-SHA-256 keyed per workspace: the stored value reveals nothing of the address."""
    message = f"{kind}:{value}".encode()
    return hmac.digest(secret.encode("utf-8"), message, "sha256").hex()


def origin_key(source: str, source_account: str, external_id: str) -> str:
    return f"{source}\x1f{source_account}\x1f{external_id}"


def contact_digests(
    secret: str,
    emails: Sequence[str],
    phones: Sequence[str],
    origin: tuple[str, str, str] | None,
) -> Iterable[tuple[str, str]]:
    """(kind, digest) for each normalized email, phone and the source ID of one contact."""
    for email in emails:
        yield "email", digest(secret, "email", email)
    for phone in phones:
        yield "phone", digest(secret, "phone", phone)
    if origin is not None:
        yield "origin", digest(secret, "origin", origin_key(*origin))
