#!/usr/bin/env python3
"""Archive every unassigned LOST contact that nobody has touched for a year.

    python examples/archive_stale_lost.py                 # dry run: what would happen
    python examples/archive_stale_lost.py --apply         # the dry run, then for real
    python examples/archive_stale_lost.py --days 180 --url https://crm.example/graphql

The token comes from --token or the environment variable CONTACTS_TOKEN (a MEMBER's or an
ADMIN's: viewers cannot archive). "Touched" means the contact's `updatedAt`.

How it picks the contacts, and why this way
-------------------------------------------
The API can select "every unassigned LOST contact" (the MY_PEOPLE audience, narrowed by
the filter {stageCategories: [LOST], unassigned: true}), but it has no filter on
`updatedAt`. So the script pages through that audience's contacts ordered by UPDATED_AT,
oldest first, stops at the first one touched within the period, and archives exactly the
IDs it collected, by `ids`, in chunks of at most 1,000 (the API's limit per call).

The other way, archiving the whole audience selection with the recent contacts in
`exceptIds`, is wrong: the selection is evaluated when the mutation runs, so a contact
that becomes LOST and unassigned between the listing and the mutation (someone just
touched it, so it is recent by definition) is in the selection but not in `exceptIds`,
and would be archived. Archiving by `ids` can only archive contacts that were stale when
they were listed; and the server checks the archive rules again for each of them, so one
that was assigned or moved to a blocking stage in the meantime is reported (and left
alone) rather than archived. Each chunk is its own atomic mutation.

Output: the number of stale contacts found, then the results by type (ContactArchived,
ArchiveBlockedByAssignee, ...) of the dry run and, with --apply, of the real run.

Exit codes: 0 done (or dry run only); 1 the API or the connection failed; 2 bad command
line (no token, say); 3 applied, but some contacts could not be archived (listed).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections import Counter
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import tenacity
from gql import Client, GraphQLRequest, gql
from gql.client import SyncClientSession
from gql.transport.exceptions import TransportError, TransportQueryError, TransportServerError
from gql.transport.httpx import HTTPXTransport

DEFAULT_URL = "http://127.0.0.1:8000/graphql"
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_PARTIAL = 0, 1, 2, 3
MAX_IDS = 1_000  # per archiveContacts call (the API's limit)
PAGE = 500  # contacts per page (the API's limit)

AUDIENCES = gql("query Audiences { audiences { id kind } }")
STALE_CANDIDATES = gql(
    """
    query StaleLost($audience: ID!, $first: Int!, $after: String) {
      audience(id: $audience) {
        contacts(
          filter: {stageCategories: [LOST], unassigned: true}
          orderBy: {field: UPDATED_AT, direction: ASC}
          first: $first
          after: $after
        ) {
          totalCount
          edges { node { id displayName updatedAt } }
          pageInfo { hasNextPage endCursor }
        }
      }
    }
    """
)
ARCHIVE = gql(
    """
    mutation Archive($ids: [ID!]!, $dryRun: Boolean!) {
      archiveContacts(input: {selection: {ids: $ids}, dryRun: $dryRun}) {
        succeeded
        failed
        results {
          __typename
          ... on RuleViolation { contactId message }
        }
      }
    }
    """
)


class Failure(Exception):
    """The API or the connection failed; the message says how."""


# ---------------------------------------------------------------- talking to the API


def call(
    session: SyncClientSession, request: GraphQLRequest, variables: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The operation's data; a Failure with the server's own words otherwise.

    Waits as long as the server's Retry-After says and tries again (up to 5 times in all)
    when the token sent too many requests: a rate-limited request did nothing.
    """
    retrying = tenacity.Retrying(
        retry=tenacity.retry_if_exception(_rate_limited),
        wait=lambda _: _retry_after(session),
        stop=tenacity.stop_after_attempt(5),
        reraise=True,
    )
    try:
        return retrying(session.execute, GraphQLRequest(request, variable_values=variables))
    except TransportQueryError as error:
        first = (error.errors or [{}])[0]
        code = (first.get("extensions") or {}).get("code", "ERROR")
        message = first.get("message", str(error))
        raise Failure(f"{message} ({code})") from None
    except TransportServerError as error:
        raise Failure(f"The server answered HTTP {error.code}: {error}") from None
    except (TransportError, httpx.HTTPError, OSError) as error:
        url = getattr(session.transport, "url", "the server")
        raise Failure(f"Cannot talk to the API at {url}: {error}") from None


def _rate_limited(error: BaseException) -> bool:
    if not isinstance(error, TransportQueryError):
        return False
    first = (error.errors or [{}])[0]
    return bool((first.get("extensions") or {}).get("code") == "RATE_LIMITED")


def _retry_after(session: SyncClientSession) -> float:
    headers = getattr(session.transport, "response_headers", None) or {}
    try:
        return min(60.0, max(1.0, float(headers.get("retry-after", "1"))))
    except ValueError:
        return 1.0


def connect(url: str, token: str) -> Client:
    transport = HTTPXTransport(url=url, headers={"Authorization": f"Bearer {token}"}, timeout=120)
    return Client(transport=transport)


# ---------------------------------------------------------------- the work


def audience_id(session: SyncClientSession, kind: str) -> str:
    for audience in call(session, AUDIENCES)["audiences"]:
        if audience["kind"] == kind:
            return str(audience["id"])
    raise Failure(f"The server lists no {kind} audience.")


def stale_contacts(
    session: SyncClientSession, audience: str, cutoff: datetime
) -> tuple[list[dict[str, Any]], int]:
    """Unassigned active LOST contacts updated before `cutoff`, and how many there are in all."""
    stale: list[dict[str, Any]] = []
    after: str | None = None
    total = 0
    while True:
        page = call(
            session, STALE_CANDIDATES, {"audience": audience, "first": PAGE, "after": after}
        )
        if page["audience"] is None:
            raise Failure("The MY_PEOPLE audience disappeared while listing contacts.")
        connection = page["audience"]["contacts"]
        total = connection["totalCount"]
        for edge in connection["edges"]:
            node = edge["node"]
            if parse_time(node["updatedAt"]) >= cutoff:
                return stale, total  # ordered by updatedAt: the rest are recent too
            stale.append(node)
        if not connection["pageInfo"]["hasNextPage"]:
            return stale, total
        after = connection["pageInfo"]["endCursor"]


def parse_time(value: str) -> datetime:
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def chunks(items: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def archive(
    session: SyncClientSession, ids: Sequence[str], *, dry_run: bool
) -> tuple[Counter[str], list[dict[str, Any]]]:
    """Results by type, and the contacts that were (or would be) left alone."""
    by_type: Counter[str] = Counter()
    refused: list[dict[str, Any]] = []
    for chunk in chunks(ids, MAX_IDS):
        payload = call(session, ARCHIVE, {"ids": list(chunk), "dryRun": dry_run})["archiveContacts"]
        for result in payload["results"]:
            by_type[result["__typename"]] += 1
            if result["__typename"] != "ContactArchived":
                refused.append(result)
    return by_type, refused


def report(title: str, by_type: Counter[str], refused: list[dict[str, Any]]) -> None:
    print(title)
    if not by_type:
        print("  (nothing)")
    for name, count in sorted(by_type.items(), key=lambda item: (-item[1], item[0])):
        print(f"  {name:<28} {count:>6}")
    for result in refused[:10]:
        print(f"    {result['contactId']}: {result['message']}")
    if len(refused) > 10:
        print(f"    ... and {len(refused) - 10} more")


def run(url: str, token: str, days: int, apply: bool) -> int:
    cutoff = datetime.now(UTC) - timedelta(days=days)
    with connect(url, token) as session:
        audience = audience_id(session, "MY_PEOPLE")
        stale, total = stale_contacts(session, audience, cutoff)
        print(
            f"Unassigned LOST contacts: {total} active; {len(stale)} not updated since "
            f"{cutoff:%Y-%m-%d %H:%M} UTC ({days} days)."
        )
        if not stale:
            print("Nothing to archive.")
            return EXIT_OK
        ids = [contact["id"] for contact in stale]
        by_type, refused = archive(session, ids, dry_run=True)
        report("Dry run (nothing changed):", by_type, refused)
        if not apply:
            print("Run again with --apply to archive them.")
            return EXIT_OK
        by_type, refused = archive(session, ids, dry_run=False)
        report("Applied:", by_type, refused)
        archived = by_type["ContactArchived"]
        print(f"Archived {archived} contact(s); {len(refused)} left as they were.")
        return EXIT_PARTIAL if refused else EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Archive unassigned LOST contacts not updated for a year (dry run first).",
        epilog="Example: CONTACTS_TOKEN=cs_... python examples/archive_stale_lost.py --apply",
    )
    parser.add_argument("--url", default=DEFAULT_URL, help=f"GraphQL endpoint ({DEFAULT_URL})")
    parser.add_argument("--token", help="API token (default: $CONTACTS_TOKEN)")
    parser.add_argument("--days", type=int, default=365, help="untouched for this many days (365)")
    parser.add_argument("--apply", action="store_true", help="archive for real after the dry run")
    args = parser.parse_args(argv)
    token = (args.token or os.environ.get("CONTACTS_TOKEN", "")).strip()
    if not token:
        parser.error("no API token: pass --token or set CONTACTS_TOKEN")
    if args.days < 1:
        parser.error("--days must be at least 1")
    try:
        return run(args.url, token, args.days, args.apply)
    except Failure as failure:
        print(f"error: {failure}", file=sys.stderr)
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
