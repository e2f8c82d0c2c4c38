#!/usr/bin/env python3
"""Delete every contact in Archived People for good, and keep sync from bringing them back.

    python examples/purge_archive.py              # dry run: what would be deleted
    python examples/purge_archive.py --apply      # the dry run, then for real

Needs an ADMIN's token (--token, or the environment variable CONTACTS_TOKEN): only
admins may delete. Deleting is permanent: the contacts and their history are gone. With
`preventResync: true`, phone and email sync and logged interactions will not create them
again (the server keeps only one-way hashes of their emails, phones and source IDs);
creating such a contact by hand, or importing it from a CSV file, brings it back.

How it picks the contacts: it lists the ARCHIVED_PEOPLE audience, page by page, and
deletes exactly the IDs the dry run reported on, by `ids`, in chunks of at most 1,000
(the API's limit per call). A contact archived after the listing is not deleted (run
the script again for it): what is deleted is what was counted. Deleting the audience
selection instead would also take contacts archived a moment after the dry run, and is
refused outright for an archive larger than the server's MAX_SELECTION. The server
checks the rules again for each ID: one that was unarchived in the meantime is reported
as ContactNotArchived and kept. Each chunk is its own atomic mutation.

Exit codes: 0 done (or dry run only); 1 the API or the connection failed, or the token is
not an ADMIN's; 2 bad command line; 3 applied, but some contacts were kept (listed).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections import Counter
from collections.abc import Iterator, Sequence
from typing import Any

import httpx
import tenacity
from gql import Client, GraphQLRequest, gql
from gql.client import SyncClientSession
from gql.transport.exceptions import TransportError, TransportQueryError, TransportServerError
from gql.transport.httpx import HTTPXTransport

DEFAULT_URL = "http://127.0.0.1:8000/graphql"
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_PARTIAL = 0, 1, 2, 3
MAX_IDS = 1_000  # per deleteContacts call (the API's limit)
PAGE = 500  # contacts per page (the API's limit)

START = gql("query Start { viewer { name role } audiences { id kind } }")
ARCHIVED = gql(
    """
    query Archived($audience: ID!, $first: Int!, $after: String) {
      audience(id: $audience) {
        contacts(first: $first, after: $after, orderBy: {field: ARCHIVED_AT}) {
          totalCount
          edges { node { id } }
          pageInfo { hasNextPage endCursor }
        }
      }
    }
    """
)
DELETE = gql(
    """
    mutation Purge($ids: [ID!]!, $dryRun: Boolean!) {
      deleteContacts(input: {selection: {ids: $ids}, dryRun: $dryRun, preventResync: true}) {
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


def archived_ids(session: SyncClientSession, audience: str) -> list[str]:
    ids: list[str] = []
    after: str | None = None
    while True:
        page = call(session, ARCHIVED, {"audience": audience, "first": PAGE, "after": after})
        if page["audience"] is None:
            raise Failure("The ARCHIVED_PEOPLE audience disappeared while listing contacts.")
        connection = page["audience"]["contacts"]
        ids.extend(edge["node"]["id"] for edge in connection["edges"])
        if not connection["pageInfo"]["hasNextPage"]:
            return ids
        after = connection["pageInfo"]["endCursor"]


def chunks(items: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def delete(
    session: SyncClientSession, ids: Sequence[str], *, dry_run: bool
) -> tuple[Counter[str], list[dict[str, Any]]]:
    """Results by type, and the contacts that were (or would be) kept."""
    by_type: Counter[str] = Counter()
    kept: list[dict[str, Any]] = []
    for chunk in chunks(ids, MAX_IDS):
        payload = call(session, DELETE, {"ids": list(chunk), "dryRun": dry_run})["deleteContacts"]
        for result in payload["results"]:
            by_type[result["__typename"]] += 1
            if result["__typename"] != "ContactDeleted":
                kept.append(result)
    return by_type, kept


def report(title: str, by_type: Counter[str], kept: list[dict[str, Any]]) -> None:
    print(title)
    for name, count in sorted(by_type.items(), key=lambda item: (-item[1], item[0])):
        print(f"  {name:<28} {count:>6}")
    for result in kept[:10]:
        print(f"    {result['contactId']}: {result['message']}")
    if len(kept) > 10:
        print(f"    ... and {len(kept) - 10} more")


def run(url: str, token: str, apply: bool) -> int:
    with connect(url, token) as session:
        start = call(session, START)
        viewer = start["viewer"]
        if viewer["role"] != "ADMIN":
            raise Failure(
                f"Only an ADMIN may delete contacts; this token is {viewer['name']}'s "
                f"({viewer['role']})."
            )
        audience = next(
            (a["id"] for a in start["audiences"] if a["kind"] == "ARCHIVED_PEOPLE"), None
        )
        if audience is None:
            raise Failure("The server lists no ARCHIVED_PEOPLE audience.")
        ids = archived_ids(session, audience)
        print(f"Archived People: {len(ids)} contact(s).")
        if not ids:
            print("Nothing to delete.")
            return EXIT_OK
        by_type, kept = delete(session, ids, dry_run=True)
        report("Dry run (nothing changed; preventResync on):", by_type, kept)
        if not apply:
            print(
                f"Run again with --apply to delete {by_type['ContactDeleted']} contact(s) "
                "and their history for good."
            )
            return EXIT_OK
        by_type, kept = delete(session, ids, dry_run=False)
        report("Applied:", by_type, kept)
        print(
            f"Deleted {by_type['ContactDeleted']} contact(s) for good, "
            f"suppressed from sync; {len(kept)} kept."
        )
        return EXIT_PARTIAL if kept else EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Delete everything in Archived People, with preventResync (dry run first).",
        epilog="Example: CONTACTS_TOKEN=cs_... python examples/purge_archive.py --apply",
    )
    parser.add_argument("--url", default=DEFAULT_URL, help=f"GraphQL endpoint ({DEFAULT_URL})")
    parser.add_argument("--token", help="an ADMIN's API token (default: $CONTACTS_TOKEN)")
    parser.add_argument("--apply", action="store_true", help="delete for real after the dry run")
    args = parser.parse_args(argv)
    token = (args.token or os.environ.get("CONTACTS_TOKEN", "")).strip()
    if not token:
        parser.error("no API token: pass --token or set CONTACTS_TOKEN")
    try:
        return run(args.url, token, args.apply)
    except Failure as failure:
        print(f"error: {failure}", file=sys.stderr)
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
