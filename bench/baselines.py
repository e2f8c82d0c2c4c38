"""The baselines: the raw SQL each case needs, on the same database, for the same rows.

Each function does the work the case's contract asks for, and nothing the database could
not be asked to do in fewer statements: it is the floor our figures are compared with.
Timings include the round trips and building the per-item results in Python, not HTTP or
GraphQL (those are part of what the ratio shows).
"""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from server import ids
from server.contact_text import display_name, search_text, sort_name
from server.suppression import contact_digests

from bench.common import Store
from bench.data import BLOCKING, Space

CHUNK = 2_000


def _now(store: Store) -> Any:
    now = datetime.now(UTC)
    return now if store.is_postgres else now.isoformat(" ")


def _json(store: Store, value: Any) -> Any:
    return json.dumps(value)


async def _audit(store: Store, space: Space, action: str, pks: list[int]) -> None:
    await store.execute(
        'INSERT INTO "audit_entry" ("workspace_id", "actor_id", "action", "contact_ids", '
        '"contact_count", "prevent_resync", "occurred_at") VALUES ($1, $2, $3, $4, $5, $6, $7)',
        space.id,
        space.admin_id,
        action,
        json.dumps(pks),
        len(pks),
        False,
        _now(store),
    )


def _blocking_stages(space: Space) -> str:
    return ", ".join(str(space.stages[c]) for c in BLOCKING)


# ---------------------------------------------------------------- case 1: bulk lifecycle


async def archive(store: Store, space: Space) -> tuple[float, int, int]:
    """Archive MY_PEOPLE: one conditional UPDATE ... RETURNING, one SELECT for the refusals."""
    started = time.perf_counter()
    async with store.transaction():
        done = await store.fetch(
            'UPDATE "contact" SET "status" = \'archived\', "archived_at" = $1, '
            f'"updated_at" = $2 WHERE "workspace_id" = {space.id} AND "status" = \'active\' '
            'AND "assignee_id" IS NULL AND ("stage_id" IS NULL OR "stage_id" NOT IN '
            f'({_blocking_stages(space)})) RETURNING "id", "sort_name"',
            _now(store),
            _now(store),
        )
        refused = await store.fetch(
            'SELECT c."id", c."sort_name", c."stage_id", c."assignee_id", s."category" '
            'FROM "contact" c LEFT JOIN "stage" s ON s."id" = c."stage_id" '
            f'WHERE c."workspace_id" = {space.id} AND c."status" = \'active\''
        )
        await _audit(store, space, "archive", [int(r[0]) for r in done])
    results: list[tuple[str, int, dict[str, Any]]] = [
        (r[1], r[0], {"contact": ids.encode("Contact", r[0])}) for r in done
    ]
    for pk, name, _stage_id, _assignee_id, category in refused:
        code = "ARCHIVE_BLOCKED_BY_STAGE" if category in BLOCKING else "ARCHIVE_BLOCKED_BY_ASSIGNEE"
        results.append((name, pk, {"contactId": ids.encode("Contact", pk), "code": code}))
    results.sort(key=lambda r: (r[0], r[1]))
    return time.perf_counter() - started, len(done), len(refused)


async def unarchive(store: Store, space: Space) -> tuple[float, int, int]:
    """Unarchive ARCHIVED_PEOPLE: one conditional UPDATE ... RETURNING."""
    started = time.perf_counter()
    async with store.transaction():
        done = await store.fetch(
            'UPDATE "contact" SET "status" = \'active\', "archived_at" = NULL, '
            f'"updated_at" = $1 WHERE "workspace_id" = {space.id} AND "status" = \'archived\' '
            'RETURNING "id", "sort_name"',
            _now(store),
        )
        await _audit(store, space, "unarchive", [int(r[0]) for r in done])
    results = sorted((r[1], r[0], ids.encode("Contact", r[0])) for r in done)
    return time.perf_counter() - started, len(results), 0


async def delete(store: Store, space: Space) -> tuple[float, int, int]:
    """Delete ARCHIVED_PEOPLE: one conditional DELETE ... RETURNING (the cascades included)."""
    started = time.perf_counter()
    async with store.transaction():
        done = await store.fetch(
            f'DELETE FROM "contact" WHERE "workspace_id" = {space.id} '
            'AND "status" = \'archived\' RETURNING "id", "sort_name", "first_name", '
            '"last_name", "emails", "phones"'
        )
        await _audit(store, space, "delete", [int(r[0]) for r in done])
    results = []
    for pk, name, first, last, emails, phones in done:
        emails = json.loads(emails) if isinstance(emails, str) else emails
        phones = json.loads(phones) if isinstance(phones, str) else phones
        results.append(
            (name, pk, ids.encode("Contact", pk), display_name(first, last, emails, phones))
        )
    results.sort()
    return time.perf_counter() - started, len(results), 0


# ---------------------------------------------------------------- case 2: the contact list


async def token_row(store: Store, token_hash: str) -> Any:
    rows = await store.fetch(
        'SELECT t."id", u."id", u."workspace_id", u."role" FROM "api_token" t '
        'JOIN "app_user" u ON u."id" = t."user_id" '
        'WHERE t."token_hash" = $1 AND t."revoked_at" IS NULL',
        token_hash,
    )
    return rows[0]


async def contact_page(store: Store, space: Space, token_hash: str, first: int) -> int:
    """contacts(first) with stage, assignee, tags and buckets: 4 statements, auth included."""
    await token_row(store, token_hash)
    rows = await store.fetch(
        'SELECT c."id", c."first_name", c."last_name", c."company", c."title", c."emails", '
        'c."phones", c."status", c."archived_at", c."created_at", c."updated_at", c."sort_name", '
        's."id", s."name", s."category", u."id", u."name", u."email" '
        'FROM "contact" c LEFT JOIN "stage" s ON s."id" = c."stage_id" '
        'LEFT JOIN "app_user" u ON u."id" = c."assignee_id" '
        f'WHERE c."workspace_id" = {space.id} ORDER BY c."sort_name", c."id" LIMIT $1',
        first + 1,
    )
    page = [int(r[0]) for r in rows[:first]]
    marks = store.marks(1, len(page))
    tags = await store.fetch(
        'SELECT ct."contact_id", t."id", t."name" FROM "contact_tag" ct '
        f'JOIN "tag" t ON t."id" = ct."tag_id" WHERE ct."contact_id" IN ({marks}) '
        'ORDER BY t."name_key"',
        *page,
    )
    buckets = await store.fetch(
        'SELECT cb."contact_id", b."id", b."name" FROM "contact_bucket" cb '
        f'JOIN "bucket" b ON b."id" = cb."bucket_id" WHERE cb."contact_id" IN ({marks}) '
        'ORDER BY b."name", b."id"',
        *page,
    )
    return len(page) + len(tags) * 0 + len(buckets) * 0


# ---------------------------------------------------------------- case 3: sync and import


def _in(store: Store, values: Sequence[Any], start: int = 1) -> str:
    return store.marks(start, len(values))


def _any(
    store: Store, column: str, values: Sequence[Any], start: int = 1, kind: str = "text"
) -> tuple[str, list[Any]]:
    """`column = ANY($n)` with one array parameter on PostgreSQL (a prepared `IN ($1..$1000)`
    gets a generic plan after five runs that stops using the index), `IN (?, ...)` on SQLite."""
    if store.is_postgres:
        return f"{column} = ANY(${start}::{kind}[])", [list(values)]
    return f"{column} IN ({_in(store, values, start)})", list(values)


async def _lookup(store: Store, space: Space, kind: str, values: Sequence[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for at in range(0, len(values), CHUNK):
        where, args = _any(store, '"value"', values[at : at + CHUNK])
        rows = await store.fetch(
            'SELECT "value", "contact_id" FROM "contact_handle" '
            f'WHERE "workspace_id" = {space.id} AND "kind" = \'{kind}\' '
            f'AND {where} ORDER BY "contact_id"',
            *args,
        )
        for value, pk in rows:
            found.setdefault(value, pk)
    return found


async def _suppressed(store: Store, space: Space, digests: Sequence[str]) -> set[str]:
    found: set[str] = set()
    for at in range(0, len(digests), CHUNK):
        where, args = _any(store, '"digest"', digests[at : at + CHUNK])
        rows = await store.fetch(
            f'SELECT "digest" FROM "suppression" WHERE "workspace_id" = {space.id} AND {where}',
            *args,
        )
        found.update(r[0] for r in rows)
    return found


async def _reserve_keys(store: Store, table: str, count: int) -> list[int]:
    if store.is_postgres:
        rows = await store.fetch(
            f"SELECT nextval('{table}_id_seq') FROM generate_series(1, $1)", count
        )
        return [int(r[0]) for r in rows]
    rows = await store.fetch(f'SELECT COALESCE(MAX("id"), 0) FROM "{table}"')
    start = int(rows[0][0]) + 1
    return list(range(start, start + count))


CONTACT_INSERT = (
    "id",
    "workspace_id",
    "first_name",
    "last_name",
    "company",
    "title",
    "emails",
    "phones",
    "sort_name",
    "search_text",
    "status",
    "source",
    "source_account",
    "external_id",
    "created_at",
    "updated_at",
)


async def _insert_new(
    store: Store, space: Space, rows: Sequence[dict[str, Any]], source: str, account: str | None
) -> None:
    """Insert new contacts, their handles and their tag links (keys reserved first)."""
    now = _now(store)
    keys = await _reserve_keys(store, "contact", len(rows))
    contacts, handles, links = [], [], []
    for pk, row in zip(keys, rows, strict=True):
        first, last, emails, phones = row["first"], row["last"], row["emails"], row["phones"]
        contacts.append(
            (
                pk,
                space.id,
                first,
                last,
                row.get("company"),
                row.get("title"),
                json.dumps(emails),
                json.dumps(phones),
                sort_name(display_name(first, last, emails, phones)),
                search_text(first, last, row.get("company"), emails, phones),
                "active",
                source,
                account,
                row.get("external_id"),
                now,
                now,
            )
        )
        handles += [(space.id, pk, "email", e) for e in emails]
        handles += [(space.id, pk, "phone", p) for p in phones]
        links += [(pk, t) for t in row.get("tag_ids", ())]
    await store.insert_many("contact", CONTACT_INSERT, contacts)  # type: ignore[attr-defined]
    await store.insert_many(  # type: ignore[attr-defined]
        "contact_handle", ("workspace_id", "contact_id", "kind", "value"), handles
    )
    await store.insert_many("contact_tag", ("contact_id", "tag_id"), links)  # type: ignore[attr-defined]


def _for_update(store: Store) -> str:
    return " FOR UPDATE" if store.is_postgres else ""


async def sync(
    store: Store, space: Space, account: str, items: Sequence[dict[str, Any]]
) -> tuple[float, int, int]:
    """syncContacts' floor: find matches by source ID, email and phone, check suppressions,
    lock and compare the matched contacts, insert the new ones (with handles); one transaction.
    Returns (seconds, created, unchanged)."""
    started = time.perf_counter()
    begin = "BEGIN" if store.is_postgres else "BEGIN IMMEDIATE"
    await store.execute(begin)
    try:
        external_ids = [item["externalId"] for item in items]
        by_origin: dict[str, int] = {}
        for at in range(0, len(external_ids), CHUNK):
            where, args = _any(store, '"external_id"', external_ids[at : at + CHUNK], 2)
            rows = await store.fetch(
                'SELECT "external_id", "id" FROM "contact" '
                f'WHERE "workspace_id" = {space.id} AND "source" = \'phone\' '
                f'AND "source_account" = $1 AND {where}',
                account,
                *args,
            )
            by_origin.update((r[0], int(r[1])) for r in rows)
        emails = await _lookup(store, space, "email", [e for i in items for e in i["emails"]])
        phones = await _lookup(store, space, "phone", [p for i in items for p in i["phones"]])
        digests = [
            d
            for i in items
            for _, d in contact_digests(
                space.secret, i["emails"], i["phones"], ("phone", account, i["externalId"])
            )
        ]
        await _suppressed(store, space, digests)
        matched = sorted(set(by_origin.values()) | set(emails.values()) | set(phones.values()))
        current: dict[int, Any] = {}
        for at in range(0, len(matched), CHUNK):
            where, args = _any(store, '"id"', matched[at : at + CHUNK], kind="int")
            rows = await store.fetch(
                'SELECT "id", "first_name", "last_name", "company", "title", "emails", '
                f'"phones", "status" FROM "contact" WHERE {where} '
                f'ORDER BY "id"{_for_update(store)}',
                *args,
            )
            current.update((int(r[0]), r) for r in rows)
        new, unchanged = [], 0
        for item in items:
            pk = by_origin.get(item["externalId"])
            if pk is None:
                pk = next(
                    (emails[e] for e in item["emails"] if e in emails),
                    next((phones[p] for p in item["phones"] if p in phones), None),
                )
            if pk is None:
                new.append(
                    {
                        "first": item["firstName"],
                        "last": item["lastName"],
                        "company": item["company"],
                        "title": item["title"],
                        "emails": item["emails"],
                        "phones": item["phones"],
                        "external_id": item["externalId"],
                    }
                )
                continue
            row = current[pk]
            stored = (row[1], row[2], row[3], row[4])
            given = (item["firstName"], item["lastName"], item["company"], item["title"])
            if all(g is None or g == s for g, s in zip(given, stored, strict=True)):
                unchanged += 1
        if new:
            await _insert_new(store, space, new, "phone", account)
        await store.execute("COMMIT")
    except BaseException:
        await store.execute("ROLLBACK")
        raise
    return time.perf_counter() - started, len(new), unchanged


async def csv_import(
    store: Store, space: Space, data: bytes, batch_rows: int = 1_000
) -> tuple[float, int]:
    """The CSV import's floor: parse, and per batch of rows in its own transaction, find
    matches by email and phone, check suppressions, insert the new contacts with handles and
    tag links. Returns (seconds, rows created)."""
    started = time.perf_counter()
    tag_rows = await store.fetch(
        f'SELECT "name_key", "id" FROM "tag" WHERE "workspace_id" = {space.id}'
    )
    tag_ids = {r[0]: int(r[1]) for r in tag_rows}
    reader = csv.reader(io.StringIO(data.decode("utf-8-sig"), newline=""))
    header = next(reader)
    at = {name: header.index(name) for name in header}
    created = 0
    batch: list[dict[str, Any]] = []

    async def commit() -> int:
        if not batch:
            return 0
        begin = "BEGIN" if store.is_postgres else "BEGIN IMMEDIATE"
        await store.execute(begin)
        try:
            emails = await _lookup(store, space, "email", [e for r in batch for e in r["emails"]])
            phones = await _lookup(store, space, "phone", [p for r in batch for p in r["phones"]])
            digests = [
                d
                for r in batch
                for _, d in contact_digests(space.secret, r["emails"], r["phones"], None)
            ]
            await _suppressed(store, space, digests)
            new = [
                r
                for r in batch
                if not any(e in emails for e in r["emails"])
                and not any(p in phones for p in r["phones"])
            ]
            if new:
                await _insert_new(store, space, new, "csv", None)
            await store.execute("COMMIT")
        except BaseException:
            await store.execute("ROLLBACK")
            raise
        batch.clear()
        return len(new)

    for record in reader:
        tags = [t.strip() for t in record[at["tags"]].split(";") if t.strip()]
        batch.append(
            {
                "first": record[at["first_name"]] or None,
                "last": record[at["last_name"]] or None,
                "company": record[at["company"]] or None,
                "title": record[at["title"]] or None,
                "emails": [e.strip().lower() for e in record[at["email"]].split(";") if e],
                "phones": [p.strip() for p in record[at["phone"]].split(";") if p],
                "tag_ids": [tag_ids[t.casefold()] for t in tags if t.casefold() in tag_ids],
            }
        )
        if len(batch) >= batch_rows:
            created += await commit()
    created += await commit()
    return time.perf_counter() - started, created


# ---------------------------------------------------------------- case 4: scale


async def audience_count(store: Store, space: Space, status: str | None) -> int:
    where = f'"workspace_id" = {space.id}' + (f" AND \"status\" = '{status}'" if status else "")
    rows = await store.fetch(f'SELECT COUNT(*) FROM "contact" WHERE {where}')
    return int(rows[0][0])


async def audience_page(store: Store, space: Space, status: str | None, first: int) -> int:
    where = f'c."workspace_id" = {space.id}' + (f" AND c.\"status\" = '{status}'" if status else "")
    rows = await store.fetch(
        'SELECT c."id", c."first_name", c."last_name", c."emails", c."phones", c."status", '
        's."name", u."name" FROM "contact" c LEFT JOIN "stage" s ON s."id" = c."stage_id" '
        'LEFT JOIN "app_user" u ON u."id" = c."assignee_id" '
        f'WHERE {where} ORDER BY c."sort_name", c."id" LIMIT $1',
        first + 1,
    )
    page = [int(r[0]) for r in rows[:first]]
    await store.fetch(
        'SELECT ct."contact_id", t."name" FROM "contact_tag" ct JOIN "tag" t '
        f'ON t."id" = ct."tag_id" WHERE ct."contact_id" IN ({store.marks(1, len(page))})',
        *page,
    )
    return len(page)
