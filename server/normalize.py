"""Email addresses and phone numbers in one canonical form, checked by real libraries."""

from __future__ import annotations

import functools

import phonenumbers
from email_validator import EmailNotValidError, validate_email

# Re-syncs and re-imports send the same addresses again, and validating one costs tens of
# microseconds. Room for a few full syncs (5,000 contacts each); at most ~6 MB per cache.
# Both functions are pure and return strings; a refused value raises, which is not cached.
CACHED_VALUES = 20_000


class InvalidValue(ValueError):
    """The value cannot be normalized; the message says why, for a person."""


@functools.lru_cache(maxsize=CACHED_VALUES)
def normalize_email(raw: str) -> str:
    """Lower-cased, syntax-checked address (no DNS lookups: they would make input flaky)."""
    candidate = raw.strip()
    if not candidate:
        raise InvalidValue("An email address cannot be empty.")
    try:
        checked = validate_email(candidate, check_deliverability=False)
    except EmailNotValidError as error:
        raise InvalidValue(f"'{candidate}' is not a valid email address: {error}") from None
    return checked.normalized.lower()


@functools.lru_cache(maxsize=CACHED_VALUES)
def normalize_phone(raw: str, region: str = "US") -> str:
    """E.164 when the number parses; otherwise the number as typed, if it has enough digits."""
    candidate = raw.strip()
    digits = sum(ch.isdigit() for ch in candidate)
    if digits < 3:
        raise InvalidValue(f"'{candidate}' is not a phone number.")
    if len(candidate) > 40:
        raise InvalidValue("A phone number has at most 40 characters.")
    try:
        parsed = phonenumbers.parse(candidate, region)
    except phonenumbers.NumberParseException:
        return candidate
    if not phonenumbers.is_possible_number(parsed):
        return candidate
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
