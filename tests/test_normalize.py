"""normalize_email's shortcut answers exactly what email-validator itself answers."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from email_validator import EmailNotValidError, validate_email
from hypothesis import given, seed, settings
from hypothesis import strategies as st

from server import normalize
from server.normalize import InvalidValue, normalize_email

LONG_LOCAL = "l" * 64
# 63-character labels; four of them and the dots make a 255-character domain.
LABEL = "d" * 63
COMPOSED_LATER = "u\u0308"

ADDRESSES = [
    "ada@example.com",
    "Ada.Lovelace@Example.COM",
    "POSTMASTER@example.com",
    "a+tag@sub.example.co.uk",
    "o'brien@example.ie",
    "x@localhost",
    "x@example",
    "user@münchen.de",
    "user@xn--mnchen-3ya.de",
    "user@MÜNCHEN.DE",
    "ünïcødé@example.com",
    '"quoted local"@example.com',
    '"plain"@example.com',
    "Ada <ada@example.com>",
    "<ada@example.com>",
    "ada@[192.168.0.1]",
    "ada@@example.com",
    "ada@exam@ple.com",
    "ada@example.com.",
    "ada@.example.com",
    "ada@-example.com",
    "ada@exa_mple.com",
    "ada@example..com",
    ".ada@example.com",
    "ada.@example.com",
    "a..da@example.com",
    "ada@",
    "@example.com",
    "ada",
    "ada@example.invalid",
    "ada@example.test",
    "ada@a\u0338b.com",
    "ada@\u0338example.com",
    "ada@exa mple.com",
    "ada@ex\u200bample.com",
    f"{LONG_LOCAL}@example.com",
    f"{LONG_LOCAL}l@example.com",
    f"{'l' * 200}@{'d' * 50}.com",
    f"{'l' * 180}@{LABEL}.{'d' * 9}.com",
    f"{'l' * 181}@{LABEL}.{'d' * 9}.com",
    f"{'l' * 170}@{'ü' * 20}.com",
    # Under the limit as given, over it once the domain is in Unicode (3 bytes a character).
    f"{'l' * 190}@xn--fiqaaaaaaaaaaaaaaaaaaa.com",
    f"{'l' * 200}@xn--fiqaaaaaaaaaaaaaaaaaaa.com",
    # Over the limit as given, under it once composed (u and a combining diaeresis: ü).
    f"{'l' * 150}@{COMPOSED_LATER * 20}.de",
    f"{'l' * 200}@{COMPOSED_LATER * 20}.de",
    f"a@{LABEL}.{LABEL}.{LABEL}.{'d' * 61}",
    f"a@{LABEL}.{LABEL}.{LABEL}.{'d' * 62}",
]


def reference(raw: str) -> str:
    """What normalize_email answered before it had a shortcut."""
    candidate = raw.strip()
    if not candidate:
        raise InvalidValue("An email address cannot be empty.")
    try:
        return validate_email(candidate, check_deliverability=False).normalized.lower()
    except EmailNotValidError as error:
        raise InvalidValue(f"'{candidate}' is not a valid email address: {error}") from None


def outcome(function: object, candidate: str) -> tuple[str, str]:
    assert callable(function)
    try:
        return "ok", function(candidate)
    except InvalidValue as error:
        return "refused", str(error)


@pytest.fixture(autouse=True)
def empty_caches() -> Iterator[None]:
    normalize.normalize_email.cache_clear()
    normalize._checked_domain.cache_clear()
    yield
    normalize.normalize_email.cache_clear()
    normalize._checked_domain.cache_clear()


@pytest.mark.parametrize("candidate", ADDRESSES)
def test_an_address_is_normalized_or_refused_as_email_validator_would(candidate: str) -> None:
    # Twice: the second time the domain comes from the cache.
    for _ in range(2):
        normalize.normalize_email.cache_clear()
        assert outcome(normalize_email, candidate) == outcome(reference, candidate)


def test_the_shortcut_is_taken_for_plain_addresses_only() -> None:
    for candidate in ("ada@example.com", "bob@example.com", "Cy.D@example.com"):
        assert normalize._plain_address(candidate) == reference(candidate)
    for candidate in ('"ada"@example.com', "Ada <ada@example.com>", "ünï@example.com", "ada"):
        assert normalize._plain_address(candidate) is None
    # One check of example.com served the three plain addresses above.
    assert normalize._checked_domain.cache_info().misses == 1


@pytest.mark.parametrize(
    "too_long",
    [
        f"{'l' * 181}@{LABEL}.{'d' * 9}.com",
        f"{'l' * 200}@xn--fiqaaaaaaaaaaaaaaaaaaa.com",
        f"{'l' * 200}@{COMPOSED_LATER * 20}.de",
    ],
)
def test_an_address_over_the_length_limit_takes_the_full_check(too_long: str) -> None:
    assert normalize._plain_address(too_long) is None
    with pytest.raises(InvalidValue, match="too long"):
        normalize_email(too_long)


def test_a_refused_domain_is_reported_with_the_libraries_message() -> None:
    with pytest.raises(InvalidValue) as refused:
        normalize_email("ada@exa_mple.com")
    assert str(refused.value) == outcome(reference, "ada@exa_mple.com")[1]
    assert "_" in str(refused.value)


# Characters that each change how email-validator reads an address.
TRICKY = "aZ09.+_-@\"<> \\[]()ü\u0338\u200b.,;:!'"
LOCAL_PARTS = st.one_of(
    st.text(TRICKY, max_size=12), st.from_regex(r"[a-z.]{1,80}", fullmatch=True)
)
DOMAINS = st.one_of(
    st.text(TRICKY, max_size=12),
    st.sampled_from(["example.com", "münchen.de", "EXAMPLE.org", "localhost", "[127.0.0.1]"]),
    st.from_regex(r"([a-z0-9-]{1,63}\.){1,4}[a-z]{2,6}", fullmatch=True),
)


@seed(20_261_124)
@settings(max_examples=600, deadline=None)
@given(local=LOCAL_PARTS, domain=DOMAINS, separator=st.sampled_from(["@", "@@", ""]))
def test_any_address_gets_the_same_answer_as_from_email_validator(
    local: str, domain: str, separator: str
) -> None:
    candidate = f"{local}{separator}{domain}"
    normalize.normalize_email.cache_clear()
    assert outcome(normalize_email, candidate) == outcome(reference, candidate)
