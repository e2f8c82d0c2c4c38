"""Which requests may write, as the read replica's routing asks it (schema/operation_kind.py):
a mutation goes to the primary, everything else may read from the replica."""

from __future__ import annotations

import pytest

from schema.operation_kind import may_write

DOCUMENT = "query Read { viewer { name } } mutation Write { archiveContacts { __typename } }"


@pytest.mark.parametrize(
    ("query", "operation_name", "expected"),
    [
        ("{ viewer { name } }", None, False),
        ("query { viewer { name } }", None, False),
        ("mutation { createContact { __typename } }", None, True),
        # Which operation runs decides, not what else the document holds.
        (DOCUMENT, "Read", False),
        (DOCUMENT, "Write", True),
        # Nothing runs, so nothing writes: GraphQL refuses these before any resolver.
        (DOCUMENT, None, False),
        (DOCUMENT, "Other", False),
        ("mutation {", None, False),
        (None, None, False),
        (["mutation { a }"], None, False),
        ("mutation { a }", 7, False),
    ],
)
def test_only_the_mutation_that_would_run_may_write(
    query: object, operation_name: object, expected: bool
) -> None:
    assert may_write(query, operation_name) is expected


def test_a_document_longer_than_the_cache_keeps_is_still_read() -> None:
    padding = " " * 30_000
    assert may_write(f"mutation {{ a }}{padding}", None) is True
    assert may_write(f"query {{ a }}{padding}", None) is False
