"""Values derived from a contact's fields: its display name and the text lists search in."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence


def display_name(
    first_name: str | None,
    last_name: str | None,
    emails: Sequence[str],
    phones: Sequence[str],
) -> str:
    name = " ".join(part for part in (first_name, last_name) if part and part.strip()).strip()
    if name:
        return name
    if emails:
        return emails[0]
    if phones:
        return phones[0]
    return "(unnamed)"


def sort_name(display: str) -> str:
    return display.casefold()[:320]


def search_text(
    first_name: str | None,
    last_name: str | None,
    company: str | None,
    emails: Sequence[str],
    phones: Sequence[str],
) -> str:
    parts = [first_name or "", last_name or "", company or "", *emails, *phones]
    # Digits alone too, so "555 0100" and "5550100" both find +15555550100.
    parts += ["".join(ch for ch in phone if ch.isdigit()) for phone in phones]
    full_name = " ".join(p for p in (first_name, last_name) if p)
    if full_name:
        parts.append(full_name)
    return "\n".join(fold(p) for p in parts if p)


def fold(text: str) -> str:
    """The form search compares: composed Unicode (é typed as e + accent is é), lower case."""
    return unicodedata.normalize("NFC", text).lower()
