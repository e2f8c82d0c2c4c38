"""Bench data: workspaces made through the app's own functions, contacts by bulk inserts.

Contacts carry what the app's writes would give them: the denormalized sort_name and
search_text (computed by server.contact_text, as the app does), and one contact_handle row
per email and phone. Keys are assigned here (and the sequences moved past them), so that
tags, buckets and handles can be inserted in the same pass without reading keys back.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from server.contact_text import display_name, search_text, sort_name

from bench.common import Store

FIRST = (
    "Ada", "Alan", "Amara", "Ana", "Arjun", "Beatriz", "Ben", "Carlos", "Chen", "Chloe",
    "Daniel", "Dmitri", "Elena", "Emma", "Fatima", "Felix", "Grace", "Hana", "Hugo", "Ines",
    "Isaac", "Jack", "Jana", "Kofi", "Laura", "Leo", "Lina", "Marco", "Maria", "Mateo",
)  # fmt: skip
LAST = (
    "Adams", "Almeida", "Bauer", "Becker", "Brown", "Castillo", "Chen", "Clarke", "Costa",
    "Dubois", "Eriksen", "Fischer", "Garcia", "Gupta", "Hansen", "Hoffmann", "Ito", "Jansen",
    "Kim", "Kowalski", "Lambert", "Larsen", "Lopez", "Martin", "Meyer", "Moreau", "Nakamura",
)  # fmt: skip
COMPANIES = ("Northwind", "Contoso", "Fabrikam", "Globex", "Initech", "Hooli", None)
TITLES = ("CEO", "CTO", "VP Sales", "Engineer", None)
TAGS = ("vip", "newsletter", "partner", "investor", "conference")
BUCKETS = ("Q1 follow-ups", "Holiday cards", "Board")
BLOCKING = ("lead", "potential", "active")
NON_BLOCKING = (None, "past", "lost")

CONTACT_COLUMNS = (
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
    "archived_at",
    "created_at",
    "updated_at",
    "assignee_id",
    "stage_id",
)
CONTACT_TABLES = ("contact_tag", "contact_bucket", "contact_handle", "interaction", "contact")


class Mix(StrEnum):
    """What the contacts of a workspace look like."""

    # Active; 1 in 10 in a stage that blocks archiving, 1 in 10 assigned: 80 % archivable.
    ARCHIVE = "archive"
    # Archived (no assignee, no stage or a PAST/LOST one): all can be unarchived or deleted.
    ARCHIVED = "archived"
    # A working address book: 85 % active with stages and assignees, 15 % archived.
    LIST = "list"


@dataclass
class Space:
    """A workspace and what the bench needs of it."""

    id: int
    name: str
    token: str  # an ADMIN's API token
    admin_id: int
    member_ids: list[int]
    stages: dict[str, int]  # category -> stage key
    tags: list[int]
    buckets: list[int]
    secret: str


async def make_space(name: str) -> Space:
    """A workspace with an admin, three members, the default stages, tags and buckets.

    Made through the app's own functions (Tortoise must be connected in this process).
    """
    from server.auth import create_user
    from server.models import Bucket, Stage, Tag, Workspace
    from server.policy import Role

    admin, token = await create_user(name, "admin@bench.example", "Bench Admin", Role.ADMIN)
    members = [
        (await create_user(name, f"member{i}@bench.example", f"Member {i}", Role.MEMBER))[0]
        for i in range(3)
    ]
    workspace = await Workspace.get(id=admin.workspace_id)
    for tag in TAGS:
        await Tag.create(workspace_id=workspace.id, name=tag, name_key=tag.casefold())
    for bucket in BUCKETS:
        await Bucket.create(workspace_id=workspace.id, name=bucket)
    stages = {str(s.category): s.id for s in await Stage.filter(workspace_id=workspace.id)}
    tags = [t.id for t in await Tag.filter(workspace_id=workspace.id).order_by("id")]
    buckets = [b.id for b in await Bucket.filter(workspace_id=workspace.id).order_by("id")]
    return Space(
        id=workspace.id,
        name=name,
        token=token,
        admin_id=admin.id,
        member_ids=[m.id for m in members],
        stages=stages,
        tags=tags,
        buckets=buckets,
        secret=workspace.secret,
    )


def person(i: int) -> tuple[str, str, str, str]:
    """(first, last, email, phone) of the i-th generated person: unique email and phone."""
    first = FIRST[i % len(FIRST)]
    last = LAST[(i // len(FIRST)) % len(LAST)]
    email = f"{first.lower()}.{last.lower()}.{i}@bench.example"
    phone = f"+1415{i % 10_000_000:07d}"
    return first, last, email, phone


@dataclass
class Built:
    contacts: int = 0
    handles: int = 0
    tag_links: int = 0
    bucket_links: int = 0


def _status_stage_assignee(space: Space, mix: Mix, i: int) -> tuple[str, str | None, int | None]:
    if mix is Mix.ARCHIVED:
        return "archived", NON_BLOCKING[i % 3], None
    if mix is Mix.ARCHIVE:
        if i % 10 == 8:
            return "active", BLOCKING[(i // 10) % 3], None
        if i % 10 == 9:
            return "active", None, space.member_ids[(i // 10) % len(space.member_ids)]
        return "active", NON_BLOCKING[i % 3], None
    # LIST: attributes from a hash of i, so that they do not follow the name (which decides
    # the list order): a page of the list shows the whole mix.
    h = spread(i)
    if (h >> 11) % 20 in (3, 11, 17):
        return "archived", NON_BLOCKING[(h >> 3) % 3], None
    category = (None, *BLOCKING, "past", "lost")[(h >> 3) % 6]
    assignee = space.member_ids[(h >> 9) % 3] if (h >> 7) % 3 == 0 else None
    return "active", category, assignee


def spread(i: int) -> int:
    """A well-mixed 32-bit value of i (Knuth's multiplicative hash); the same in SQL."""
    return (i * 2654435761) % 4294967296


def contact_rows(
    space: Space, mix: Mix, count: int, first_id: int, now: datetime, *, offset: int = 0
) -> Iterator[tuple[tuple[Any, ...], list[tuple[str, str]], list[int], list[int]]]:
    """(contact row, handles, tag keys, bucket keys) for `count` contacts from `first_id`."""
    for n in range(count):
        i = offset + n
        first, last, email, phone = person(i)
        company = COMPANIES[i % len(COMPANIES)]
        title = TITLES[i % len(TITLES)] if company else None
        emails, phones = [email], ([phone] if i % 4 != 3 else [])
        status, category, assignee = _status_stage_assignee(space, mix, i)
        created = now - timedelta(days=1 + i % 700, seconds=i)
        updated = created + timedelta(days=i % 30)
        archived_at = updated if status == "archived" else None
        row = (
            first_id + n,
            space.id,
            first,
            last,
            company,
            title,
            emails,
            phones,
            sort_name(display_name(first, last, emails, phones)),
            search_text(first, last, company, emails, phones),
            status,
            None,
            None,
            None,
            archived_at,
            created,
            updated,
            assignee,
            space.stages[category] if category else None,
        )
        handles = [("email", e) for e in emails] + [("phone", p) for p in phones]
        h = spread(i)
        tags = [space.tags[k] for k in range(len(space.tags)) if (h >> (13 + 2 * k)) % 3 == 0][:2]
        buckets = [space.buckets[(h >> 25) % 3]] if (h >> 21) % 5 == 0 else []
        yield row, handles, tags, buckets


def _db_row(store: Store, row: Sequence[Any]) -> tuple[Any, ...]:
    """JSON as text; datetimes as asyncpg wants them, or as Tortoise stores them on SQLite."""
    out: list[Any] = []
    for value in row:
        if isinstance(value, list):
            out.append(json.dumps(value))
        elif isinstance(value, datetime) and not store.is_postgres:
            out.append(value.isoformat(" "))
        else:
            out.append(value)
    return tuple(out)


async def next_key(store: Store, table: str) -> int:
    rows = await store.fetch(f'SELECT COALESCE(MAX("id"), 0) FROM "{table}"')
    return int(rows[0][0]) + 1


async def bump_sequences(store: Store, tables: Sequence[str]) -> None:
    """Move PostgreSQL's sequences past keys inserted explicitly (SQLite does it itself)."""
    if not store.is_postgres:
        return
    for table in tables:
        await store.execute(
            f"SELECT setval('{table}_id_seq', (SELECT COALESCE(MAX(id), 0) + 1 FROM \"{table}\"),"
            " false)"
        )


async def add_contacts(
    store: Store, space: Space, mix: Mix, count: int, *, offset: int = 0, batch: int = 20_000
) -> Built:
    """Insert `count` contacts with their handles, tags and buckets, in one transaction."""
    now = datetime.now(UTC)
    built = Built()
    contact_id = await next_key(store, "contact")
    handle_id = await next_key(store, "contact_handle")
    tag_id = await next_key(store, "contact_tag")
    bucket_id = await next_key(store, "contact_bucket")
    async with store.transaction():
        done = 0
        while done < count:
            size = min(batch, count - done)
            contacts, handles, tags, buckets = [], [], [], []
            for row, hs, ts, bs in contact_rows(
                space, mix, size, contact_id + done, now, offset=offset + done
            ):
                contacts.append(_db_row(store, row))
                for kind, value in hs:
                    handles.append((handle_id, space.id, row[0], kind, value))
                    handle_id += 1
                for t in ts:
                    tags.append((tag_id, row[0], t))
                    tag_id += 1
                for b in bs:
                    buckets.append((bucket_id, row[0], b))
                    bucket_id += 1
            await _copy(store, "contact", CONTACT_COLUMNS, contacts)
            await _copy(
                store,
                "contact_handle",
                ("id", "workspace_id", "contact_id", "kind", "value"),
                handles,
            )
            await _copy(store, "contact_tag", ("id", "contact_id", "tag_id"), tags)
            await _copy(store, "contact_bucket", ("id", "contact_id", "bucket_id"), buckets)
            built.contacts += len(contacts)
            built.handles += len(handles)
            built.tag_links += len(tags)
            built.bucket_links += len(buckets)
            done += size
    await bump_sequences(store, ("contact", "contact_handle", "contact_tag", "contact_bucket"))
    return built


async def _copy(store: Store, table: str, columns: Sequence[str], rows: list[Any]) -> None:
    if rows:
        await store.copy(table, columns, rows)  # type: ignore[attr-defined]


async def clear_contacts(store: Store, space: Space) -> None:
    """Remove the workspace's contacts (and what hangs off them) and its audit trail."""
    async with store.transaction():
        ids = f'SELECT "id" FROM "contact" WHERE "workspace_id" = {space.id}'
        for table in ("contact_tag", "contact_bucket", "contact_handle", "interaction"):
            await store.execute(f'DELETE FROM "{table}" WHERE "contact_id" IN ({ids})')
        await store.execute(f'DELETE FROM "contact" WHERE "workspace_id" = {space.id}')
        await store.execute(f'DELETE FROM "audit_entry" WHERE "workspace_id" = {space.id}')
        await store.execute(f'DELETE FROM "suppression" WHERE "workspace_id" = {space.id}')


async def reset_contacts(store: Store, space: Space, mix: Mix, count: int) -> Built:
    """The workspace with exactly `count` fresh contacts of `mix` (same data every time)."""
    await clear_contacts(store, space)
    built = await add_contacts(store, space, mix, count)
    await analyze(store)
    return built


async def analyze(store: Store) -> None:
    if store.is_postgres:
        for table in ("contact", "contact_handle", "contact_tag", "contact_bucket"):
            await store.execute(f'VACUUM ANALYZE "{table}"')
    else:
        await store.execute("ANALYZE")


# ---------------------------------------------------------------- 1,000,000 contacts, in SQL


async def generate_contacts_pg(store: Store, space: Space, count: int) -> float:
    """`count` LIST-mix contacts built by PostgreSQL itself (generate_series); seconds taken.

    Same shape as `contact_rows`: unique emails and phones, 15 % archived, stages and
    assignees, the denormalized columns, one handle per email and phone, tags and buckets.
    """
    import time

    assert store.is_postgres
    first = "ARRAY[" + ", ".join(f"'{n}'" for n in FIRST) + "]"
    last = "ARRAY[" + ", ".join(f"'{n}'" for n in LAST) + "]"
    members = "ARRAY[" + ", ".join(str(m) for m in space.member_ids) + "]::int[]"
    stage = (
        "ARRAY[NULL, "
        + ", ".join(str(space.stages[c]) for c in (*BLOCKING, "past", "lost"))
        + "]::int[]"
    )
    past_lost = f"ARRAY[NULL, {space.stages['past']}, {space.stages['lost']}]::int[]"
    started = time.perf_counter()
    await store.execute("SET maintenance_work_mem = '512MB'")
    # Build as a restore would: the secondary indexes dropped and made again afterwards
    # (with the very definitions the migrations gave them), foreign keys not re-checked row
    # by row (the rows are consistent by construction).
    tables = "('contact', 'contact_handle', 'contact_tag', 'contact_bucket')"
    indexes = await store.fetch(
        "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i "
        f"JOIN pg_class t ON t.oid = i.indrelid WHERE t.relname IN {tables} "
        "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)"
    )
    for name, _ in indexes:
        await store.execute(f"DROP INDEX {name}")
    await store.execute("SET session_replication_role = replica")
    base = await next_key(store, "contact")
    sql = f"""
    INSERT INTO contact (id, workspace_id, first_name, last_name, company, title, emails,
        phones, sort_name, search_text, status, archived_at, created_at, updated_at,
        assignee_id, stage_id)
    SELECT {base} + g, {space.id}, f, l, NULL, NULL,
        jsonb_build_array(e), jsonb_build_array(p),
        lower(f || ' ' || l), lower(f || E'\\n' || l || E'\\n' || e || E'\\n' || p),
        CASE WHEN arch THEN 'archived' ELSE 'active' END,
        CASE WHEN arch THEN now() - (g % 700) * interval '1 day' END,
        now() - (g % 700) * interval '1 day', now() - (g % 30) * interval '1 day',
        CASE WHEN NOT arch AND (h >> 7) % 3 = 0 THEN ({members})[1 + (h >> 9) % 3] END,
        CASE WHEN arch THEN ({past_lost})[1 + (h >> 3) % 3] ELSE ({stage})[1 + (h >> 3) % 6] END
    FROM (
        SELECT g, h,
            ({first})[1 + g % {len(FIRST)}] AS f,
            ({last})[1 + (g / {len(FIRST)}) % {len(LAST)}] AS l,
            'p' || g || '@scale.example' AS e,
            '+1628' || lpad((g % 10000000)::text, 7, '0') AS p,
            (h >> 11) % 20 IN (3, 11, 17) AS arch
        FROM (
            SELECT g, (g::bigint * 2654435761) % 4294967296 AS h
            FROM generate_series(0, {count - 1}) AS g
        ) AS hashed
    ) AS s
    """
    await store.execute(sql)
    where = f"workspace_id = {space.id} AND id >= {base}"
    await store.execute(
        "INSERT INTO contact_handle (workspace_id, contact_id, kind, value) "
        f"SELECT workspace_id, id, 'email', emails->>0 FROM contact WHERE {where} "
        f"UNION ALL SELECT workspace_id, id, 'phone', phones->>0 FROM contact WHERE {where}"
    )
    hashed = "((id::bigint * 2654435761) % 4294967296)"
    tag_rows = " UNION ALL ".join(
        f"SELECT id, {t} FROM contact WHERE {where} AND ({hashed} >> {13 + 2 * k}) % 3 = 0"
        for k, t in enumerate(space.tags[:2])
    )
    await store.execute(f"INSERT INTO contact_tag (contact_id, tag_id) {tag_rows}")
    await store.execute(
        "INSERT INTO contact_bucket (contact_id, bucket_id) "
        f"SELECT id, (ARRAY{space.buckets}::int[])[1 + ({hashed} >> 25) % 3] "
        f"FROM contact WHERE {where} AND ({hashed} >> 21) % 5 = 0"
    )
    await bump_sequences(store, ("contact",))
    await store.execute("SET session_replication_role = DEFAULT")
    for _, definition in indexes:
        await store.execute(definition)
    for table in ("contact", "contact_handle", "contact_tag", "contact_bucket"):
        await store.execute(f'VACUUM ANALYZE "{table}"')
    return time.perf_counter() - started
