"""Opaque global IDs (Relay): base64 of "Type:key"."""

from __future__ import annotations

import base64
import binascii

# Keys are 32-bit integer columns; a larger number names no row (and must not reach the SQL).
MAX_KEY = 2**31 - 1


# base64.urlsafe_b64encode's steps without its two Python calls: a page encodes ~400 IDs.
_URLSAFE = bytes.maketrans(b"+/", b"-_")


def unpadded_base64(data: bytes) -> str:
    """URL-safe base64 without the trailing `=` (`from_unpadded_base64` adds it back)."""
    return binascii.b2a_base64(data, newline=False).translate(_URLSAFE).decode().rstrip("=")


def from_unpadded_base64(text: str) -> bytes:
    """The bytes `unpadded_base64` encoded; ValueError (binascii.Error, UnicodeError) if none."""
    padded = text + "=" * (-len(text) % 4)
    return base64.urlsafe_b64decode(padded.encode("ascii"))


def encode(type_name: str, key: int | str) -> str:
    return unpadded_base64(f"{type_name}:{key}".encode())


def decode_any(global_id: str) -> tuple[str, str] | None:
    """(type, key) or None when the ID is not one of ours."""
    if not global_id or len(global_id) > 200:
        return None
    try:
        text = from_unpadded_base64(global_id).decode("utf-8")
    except (binascii.Error, UnicodeError, ValueError):
        return None
    type_name, sep, key = text.partition(":")
    if not sep or not type_name or not key:
        return None
    return type_name, key


def decode(global_id: str, type_name: str) -> int | None:
    """The primary key inside an ID of `type_name`, or None when malformed or of another type."""
    decoded = decode_any(global_id)
    if decoded is None or decoded[0] != type_name:
        return None
    key = decoded[1]
    if not key.isascii() or not key.isdigit() or len(key) > 10:
        return None
    pk = int(key)
    if pk > MAX_KEY:
        return None
    # Only the one canonical spelling names a row: base64 decoding skips stray characters
    # and int() accepts leading zeros, so two strings could otherwise mean one contact.
    return pk if encode(type_name, pk) == global_id else None
