"""The committed SDL is what the code serves, and it keeps every promise of the contract."""

from __future__ import annotations

from pathlib import Path

from graphql import DangerousChangeType, build_schema, find_breaking_changes, find_dangerous_changes

from schema import schema

ROOT = Path(__file__).resolve().parents[1]
COMMITTED = ROOT / "schema" / "schema.graphql"
CONTRACT = ROOT.parent / "shared" / "contract" / "schema.graphql"
# Additions the contract allows ("add freely"): an optional input field or argument leaves
# every document written against the contract valid, meaning the same.
ADDITIONS = frozenset(
    {DangerousChangeType.OPTIONAL_INPUT_FIELD_ADDED, DangerousChangeType.OPTIONAL_ARG_ADDED}
)


def test_the_committed_schema_is_the_one_the_code_serves() -> None:
    assert COMMITTED.read_text() == schema.as_str() + "\n", (
        "schema/schema.graphql is stale: "
        "run `contacts-server export-schema > schema/schema.graphql`"
    )


def test_the_schema_breaks_nothing_the_contract_promises() -> None:
    contract = build_schema(CONTRACT.read_text())
    ours = build_schema(schema.as_str())
    breaking = [change.description for change in find_breaking_changes(contract, ours)]
    dangerous = [
        change.description
        for change in find_dangerous_changes(contract, ours)
        if change.type not in ADDITIONS
    ]
    assert breaking == []
    assert dangerous == []
