"""Email addresses and phone numbers in one canonical form, checked by real libraries."""

from __future__ import annotations

import functools

import phonenumbers
from email_validator import EmailNotValidError, validate_email

# The library's own rule for a plain local part, and its length limit. Not in its documented API:
# tests/test_normalize.py compares every address's fast path with validate_email itself.
from email_validator.rfc_constants import DOT_ATOM_TEXT, EMAIL_MAX_LENGTH

# Re-syncs and re-imports send the same addresses again, and validating one costs tens of
# microseconds. Room for a few full syncs (5,000 contacts each); at most ~6 MB per cache.
# Both functions are pure and return strings; a refused value raises, which is not cached.
CACHED_VALUES = 20_000
# A sync's or a file's addresses share few domains; each costs ~20 µs to check.
CACHED_DOMAINS = 1_000


class InvalidValue(ValueError):
    """The value cannot be normalized; the message says why, for a person."""


@functools.lru_cache(maxsize=CACHED_VALUES)
def normalize_email(raw: str) -> str:
    """Lower-cased, syntax-checked address (no DNS lookups: they would make input flaky)."""
    candidate = raw.strip()
    if not candidate:
        raise InvalidValue("An email address cannot be empty.")
    return _plain_address(candidate) or _checked_address(candidate)


# Two thirds of validate_email's time goes to the domain. A local part that matches the
# library's dot-atom rule comes back unchanged, so the result is that part, the domain as
# checked once per domain, and the library's length limit. None: take the full check.
def _plain_address(candidate: str) -> str | None:
    local, at, domain = candidate.partition("@")
    if not (at and DOT_ATOM_TEXT.match(local)):
        return None
    checked = _checked_domain(domain)
    if checked is None:
        return None
    forms = (domain, *checked)
    if any(len(f"{local}@{form}".encode()) > EMAIL_MAX_LENGTH for form in forms):
        return None
    return f"{local}@{checked[0]}".lower()


@functools.lru_cache(maxsize=CACHED_DOMAINS)
def _checked_domain(domain: str) -> tuple[str, str] | None:
    # (domain, ASCII domain) as validate_email normalizes them, or None if it refuses.
    try:
        checked = validate_email(f"x@{domain}", check_deliverability=False)
    except EmailNotValidError:
        return None
    return checked.domain, checked.ascii_domain


def _checked_address(candidate: str) -> str:
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
