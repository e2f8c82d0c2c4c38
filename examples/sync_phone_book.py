#!/usr/bin/env python3
"""Sync a phone's address book, exported as CSV, into the CRM (syncContacts, source PHONE).

    python examples/sync_phone_book.py contacts.csv --account "Ada's phone"

The CSV has a header row; its columns are matched case-insensitively and unknown ones
are ignored: first_name, last_name, email, phone, company, title, external_id.
`external_id` (the contact's ID on the phone, stable across exports) is required; several
emails or phones in one cell are separated by ';'. The file is read as UTF-8 (a BOM, as
spreadsheet programs write, is fine).

What a sync does (the server decides, see the API contract): a row matches a contact by
(PHONE, account, external_id), else by an email, else by a phone; a match gets the row's
non-empty fields, and nothing is ever removed. Archived contacts stay archived; contacts
deleted with preventResync are skipped and counted as suppressed. The rows go in calls of
at most 5,000 (the API's limit), each one atomic; the totals of the reports are printed.

The token comes from --token or the environment variable CONTACTS_TOKEN (MEMBER or ADMIN).

Exit codes: 0 every row synced; 1 the API or the connection failed (the calls before the
failure are done; syncing again is safe); 2 bad command line or unreadable file; 3
synced, but some rows were rejected (listed with their CSV row numbers).
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import tenacity
from gql import Client, GraphQLRequest, gql
from gql.client import SyncClientSession
from gql.transport.exceptions import TransportError, TransportQueryError, TransportServerError
from gql.transport.httpx import HTTPXTransport

DEFAULT_URL = "http://127.0.0.1:8000/graphql"
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_PARTIAL = 0, 1, 2, 3
MAX_CONTACTS = 5_000  # per syncContacts call (the API's limit)
COLUMNS = ("first_name", "last_name", "email", "phone", "company", "title", "external_id")
TEXT_FIELDS = {
    "first_name": "firstName",
    "last_name": "lastName",
    "company": "company",
    "title": "title",
}
COUNTS = ("created", "updated", "unchanged", "keptArchived", "suppressed")

SYNC = gql(
    """
    mutation Sync($input: SyncContactsInput!) {
      syncContacts(input: $input) {
        created
        updated
        unchanged
        keptArchived
        suppressed
        rowErrors { row errors { field message } }
      }
    }
    """
)


class Failure(Exception):
    """The API or the connection failed; the message says how."""


class BadFile(Exception):
    """The CSV file cannot be used; the message says why."""


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
    transport = HTTPXTransport(url=url, headers={"Authorization": f"Bearer {token}"}, timeout=300)
    return Client(transport=transport)


# ---------------------------------------------------------------- reading the CSV


@dataclass
class PhoneBook:
    """The rows to sync (with their CSV row numbers) and the rows rejected before sending."""

    contacts: list[dict[str, Any]] = field(default_factory=list)
    rows: list[int] = field(default_factory=list)
    rejected: list[tuple[int, str]] = field(default_factory=list)


def split(cell: str | None) -> list[str]:
    return [part.strip() for part in (cell or "").split(";") if part.strip()]


def read_phone_book(path: Path) -> PhoneBook:
    try:
        with path.open(newline="", encoding="utf-8-sig") as file:
            reader = csv.reader(file)
            header = next(reader, None)
            if header is None:
                raise BadFile(f"{path} is empty: it needs a header row.")
            index = {name.strip().lower(): i for i, name in enumerate(header)}
            if "external_id" not in index:
                raise BadFile(f"{path} has no external_id column (columns: {', '.join(COLUMNS)}).")
            book = PhoneBook()
            for number, values in enumerate(reader, start=2):
                if not any(value.strip() for value in values):
                    continue  # blank line

                def cell(name: str, values: list[str] = values) -> str:
                    at = index.get(name)
                    return values[at].strip() if at is not None and at < len(values) else ""

                external_id = cell("external_id")
                if not external_id:
                    book.rejected.append((number, "external_id: a phone contact needs its ID"))
                    continue
                contact: dict[str, Any] = {"externalId": external_id}
                for column, name in TEXT_FIELDS.items():
                    if cell(column):
                        contact[name] = cell(column)
                if split(cell("email")):
                    contact["emails"] = split(cell("email"))
                if split(cell("phone")):
                    contact["phones"] = split(cell("phone"))
                book.contacts.append(contact)
                book.rows.append(number)
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise BadFile(f"Cannot read {path}: {error}") from None
    return book


# ---------------------------------------------------------------- the work


def sync(url: str, token: str, account: str, book: PhoneBook, batch: int = MAX_CONTACTS) -> int:
    totals = dict.fromkeys(COUNTS, 0)
    rejected = list(book.rejected)
    with connect(url, token) as session:
        for start in range(0, len(book.contacts), batch):
            chunk = book.contacts[start : start + batch]
            variables = {"input": {"source": "PHONE", "sourceAccount": account, "contacts": chunk}}
            report = call(session, SYNC, variables)["syncContacts"]
            for name in COUNTS:
                totals[name] += report[name]
            for row_error in report["rowErrors"]:
                # Row numbers in a sync report are 1-based positions in the call's list.
                row = book.rows[start + row_error["row"] - 1]
                why = "; ".join(f"{e['field']}: {e['message']}" for e in row_error["errors"])
                rejected.append((row, why))
            done = min(start + batch, len(book.contacts))
            print(f"Sent {done} of {len(book.contacts)} contact(s)...", flush=True)

    read = len(book.contacts) + len(book.rejected)
    print(f"Phone '{account}': {read} row(s) read, {len(book.contacts)} sent. The sync's report:")
    for name, label in (
        ("created", "created"),
        ("updated", "updated"),
        ("unchanged", "unchanged"),
        ("keptArchived", "matched an archived contact (kept archived)"),
        ("suppressed", "suppressed (deleted with preventResync; skipped)"),
    ):
        print(f"  {totals[name]:>7}  {label}")
    print(f"  {len(rejected):>7}  rejected")
    for row, why in sorted(rejected)[:20]:
        print(f"    row {row}: {why}")
    if len(rejected) > 20:
        print(f"    ... and {len(rejected) - 20} more")
    return EXIT_PARTIAL if rejected else EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Sync a phone's address book (CSV) into the CRM with syncContacts.",
        epilog=(
            "Example: CONTACTS_TOKEN=cs_... python examples/sync_phone_book.py "
            'contacts.csv --account "Ada\'s phone"'
        ),
    )
    parser.add_argument("file", type=Path, help=f"CSV file with the columns {', '.join(COLUMNS)}")
    parser.add_argument("--account", required=True, help='which phone, e.g. "Ada\'s phone"')
    parser.add_argument("--url", default=DEFAULT_URL, help=f"GraphQL endpoint ({DEFAULT_URL})")
    parser.add_argument("--token", help="API token (default: $CONTACTS_TOKEN)")
    parser.add_argument(
        "--batch-size",
        type=int,
        default=MAX_CONTACTS,
        help=f"contacts per syncContacts call, at most {MAX_CONTACTS} ({MAX_CONTACTS})",
    )
    args = parser.parse_args(argv)
    token = (args.token or os.environ.get("CONTACTS_TOKEN", "")).strip()
    if not token:
        parser.error("no API token: pass --token or set CONTACTS_TOKEN")
    if not args.account.strip():
        parser.error("--account must name the phone")
    if not 1 <= args.batch_size <= MAX_CONTACTS:
        parser.error(f"--batch-size must be between 1 and {MAX_CONTACTS}")
    try:
        book = read_phone_book(args.file)
    except BadFile as problem:
        print(f"error: {problem}", file=sys.stderr)
        return EXIT_USAGE
    if not book.contacts and not book.rejected:
        print(f"{args.file} has no contacts: nothing to sync.")
        return EXIT_OK
    try:
        return sync(args.url, token, args.account.strip(), book, args.batch_size)
    except Failure as failure:
        print(f"error: {failure}", file=sys.stderr)
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
