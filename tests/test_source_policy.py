"""The sources rules of `server.policy`, as pure functions: no database, no GraphQL.

Expected outcomes are written out from CONTRACT.md's sources table, never derived from the
policy's own constants.
"""

from __future__ import annotations

import itertools

import pytest

from server.policy import (
    SOURCE_RULES,
    SYNC_SOURCES,
    ContactStatus,
    Incoming,
    Origin,
    SourceKind,
    incoming_decision,
    source_is_automatic,
    source_lifts_suppression,
    source_may_recreate,
    status_after_match,
)

AUTOMATIC = (Origin.SYNC, Origin.INTERACTION)
EXPLICIT = (Origin.MANUAL, Origin.CSV)


def test_every_origin_has_a_rule() -> None:
    assert set(SOURCE_RULES) == set(Origin)


@pytest.mark.parametrize("origin", AUTOMATIC)
def test_sync_and_logged_interactions_are_automatic(origin: Origin) -> None:
    assert source_is_automatic(origin)
    assert not source_lifts_suppression(origin)


@pytest.mark.parametrize("origin", EXPLICIT)
def test_create_contact_and_csv_are_a_persons_explicit_act(origin: Origin) -> None:
    assert not source_is_automatic(origin)
    assert source_lifts_suppression(origin)


@pytest.mark.parametrize("origin", list(Origin))
def test_a_deleted_contact_comes_back_from_every_source(origin: Origin) -> None:
    assert source_may_recreate(origin, suppressed=False)
    assert incoming_decision(origin, None, suppressed=False) is Incoming.CREATE


@pytest.mark.parametrize("origin", AUTOMATIC)
def test_a_suppressed_contact_is_skipped_by_automatic_sources(origin: Origin) -> None:
    assert not source_may_recreate(origin, suppressed=True)
    assert incoming_decision(origin, None, suppressed=True) is Incoming.SKIP


@pytest.mark.parametrize("origin", EXPLICIT)
def test_a_suppressed_contact_is_created_again_by_a_persons_act(origin: Origin) -> None:
    assert source_may_recreate(origin, suppressed=True)
    assert incoming_decision(origin, None, suppressed=True) is Incoming.CREATE


@pytest.mark.parametrize(
    ("origin", "status", "suppressed"),
    list(
        itertools.product(
            (Origin.SYNC, Origin.INTERACTION, Origin.CSV), ContactStatus, (False, True)
        )
    ),
)
def test_a_match_is_updated_whatever_its_status_and_keeps_it(
    origin: Origin, status: ContactStatus, suppressed: bool
) -> None:
    # Sync: "fields updated, stays archived"; logInteraction: "interaction stored, stays
    # archived"; CSV: "fields updated, stays archived". Suppression only stops creating.
    assert incoming_decision(origin, status, suppressed) is Incoming.UPDATE
    assert status_after_match(origin, status) is status


def test_an_archived_match_stays_archived_for_every_source() -> None:
    for origin in Origin:
        assert status_after_match(origin, ContactStatus.ARCHIVED) is ContactStatus.ARCHIVED


@pytest.mark.parametrize("status", list(ContactStatus))
def test_create_contact_never_matches_it_always_creates(status: ContactStatus) -> None:
    assert incoming_decision(Origin.MANUAL, status, suppressed=True) is Incoming.CREATE
    assert incoming_decision(Origin.MANUAL, status, suppressed=False) is Incoming.CREATE


def test_sync_takes_phones_and_mailboxes_not_csv_files() -> None:
    assert SourceKind.PHONE in SYNC_SOURCES
    assert SourceKind.EMAIL in SYNC_SOURCES
    assert SourceKind.CSV not in SYNC_SOURCES
