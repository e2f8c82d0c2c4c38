"""Unit checks of the validation helpers in server/editing.py."""

from __future__ import annotations

import random
import unicodedata

import pytest

from server.editing import has_control

EVERY_CHARACTER = [chr(code) for code in range(0x110000)]


def _by_category(value: str, allowed: str) -> bool:
    """The definition has_control must match: any Cc character that is not allowed."""
    return any(unicodedata.category(ch) == "Cc" and ch not in allowed for ch in value)


@pytest.mark.parametrize("allowed", ["", "\t\n\r", "\x00\x7f\x9f", "]^-\\"])
def test_has_control_agrees_with_the_unicode_category_on_every_character(allowed: str) -> None:
    found = [ch for ch in EVERY_CHARACTER if has_control(ch, allowed)]
    expected = [ch for ch in EVERY_CHARACTER if _by_category(ch, allowed)]
    assert found == expected


def test_has_control_agrees_on_mixed_text() -> None:
    chooser = random.Random(20261123)  # noqa: S311 (a reproducible sample, not a secret)
    alphabet = [*"abcXYZ -_.@+é中😀\u200b\u2028\xa0\xad", *"\x00\t\n\x1f\x7f\x85"]
    for _ in range(5_000):
        text = "".join(chooser.choices(alphabet, k=chooser.randint(0, 12)))
        for allowed in ("", "\t\n\r"):
            assert has_control(text, allowed) is _by_category(text, allowed), (text, allowed)


def test_has_control_allowing_every_control_character_finds_none() -> None:
    controls = "".join(ch for ch in EVERY_CHARACTER if unicodedata.category(ch) == "Cc")
    assert not has_control(controls, allowed=controls)
    assert has_control(controls)
