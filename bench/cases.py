"""The cases: ours through the real app over HTTP, each beside its baseline from the same run."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from server import ids, tallies
from server.claims import SQLITE_WRITE_LOCK

from bench import baselines
from bench.common import (
    BENCH,
    HOST,
    PYTHON,
    RESULTS,
    ROOT,
    RssSampler,
    Server,
    Store,
    capture_sql,
    cpu_seconds,
    free_port,
    gql,
    http_client,
    in_process_client,
    median,
    percentile,
    tail,
    tortoise_on,
    vm_kib,
    wait_http,
)
from bench.data import (
    Mix,
    Space,
    add_contacts,
    analyze,
    clear_contacts,
    generate_contacts_pg,
    make_space,
    person,
    reset_contacts,
)


@dataclass
class Row:
    case: str
    db: str
    ours: float
    baseline: float | None
    unit: str  # "s", "ms", "req/s", "rows/s", "MB", "stmts"
    goal: str
    met: bool | None
    note: str = ""
    load: float = 0.0  # the machine's 1-minute load average when the row was measured
    # How the ratio reads: ours / baseline (always), shown only when there is a baseline.

    @property
    def ratio(self) -> float | None:
        if self.baseline in (None, 0):
            return None
        return self.ours / self.baseline  # type: ignore[operator]


@dataclass
class Ctx:
    db: str
    url: str
    store: Store
    quick: bool
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, row: Row) -> None:
        row.load = os.getloadavg()[0]
        self.rows.append(row)
        ratio = f"{row.ratio:.2f}" if row.ratio is not None else "-"
        met = {True: "yes", False: "NO", None: "-"}[row.met]
        print(
            f"    {row.case:<44} ours {fmt(row.ours, row.unit):>12}  base "
            f"{fmt(row.baseline, row.unit):>12}  ratio {ratio:>6}  met {met}",
            flush=True,
        )

    def say(self, text: str) -> None:
        print(f"  {text}", flush=True)


def fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "s":
        return f"{value:.3f} s" if value < 10 else f"{value:.1f} s"
    if unit == "ms":
        return f"{value:.1f} ms"
    if unit in ("req/s", "rows/s"):
        return f"{value:,.0f} {unit}"
    if unit == "MB":
        return f"{value:.0f} MB"
    return f"{value:g} {unit}"


AUDIENCE = {
    kind: ids.encode("Audience", kind) for kind in ("my_people", "archived_people", "all_people")
}


async def timed_post(
    client: httpx.AsyncClient, url: str, token: str, query: str, variables: dict[str, Any]
) -> tuple[float, dict[str, Any]]:
    """Seconds from sending the request to the last byte of the response, and its data."""
    started = time.perf_counter()
    response = await client.post(
        url,
        json={"query": query, "variables": variables},
        headers={"Authorization": f"Bearer {token}"},
    )
    _ = response.content
    elapsed = time.perf_counter() - started
    body = response.json()
    if response.status_code != 200 or body.get("errors"):
        raise RuntimeError(f"{response.status_code}: {json.dumps(body)[:1500]}")
    return elapsed, body["data"]


# ---------------------------------------------------------------- case 1: bulk lifecycle

ARCHIVE = """
mutation($input: ArchiveContactsInput!) {
  archiveContacts(input: $input) {
    succeeded failed dryRun
    results {
      __typename
      ... on ContactArchived { contact { id } }
      ... on RuleViolation { contactId code message }
    }
  }
}"""
UNARCHIVE = """
mutation($input: UnarchiveContactsInput!) {
  unarchiveContacts(input: $input) {
    succeeded failed dryRun
    results {
      __typename
      ... on ContactUnarchived { contact { id } }
      ... on RuleViolation { contactId code message }
    }
  }
}"""
DELETE = """
mutation($input: DeleteContactsInput!) {
  deleteContacts(input: $input) {
    succeeded failed dryRun
    results {
      __typename
      ... on ContactDeleted { contactId displayName }
      ... on RuleViolation { contactId code message }
    }
  }
}"""

LIFECYCLE: dict[str, tuple[str, str, str, Mix, Callable[..., Any]]] = {
    # action: (mutation, payload field, audience, data, baseline)
    "archive": (ARCHIVE, "archiveContacts", "my_people", Mix.ARCHIVE, baselines.archive),
    "unarchive": (
        UNARCHIVE,
        "unarchiveContacts",
        "archived_people",
        Mix.ARCHIVED,
        baselines.unarchive,
    ),
    "delete": (DELETE, "deleteContacts", "archived_people", Mix.ARCHIVED, baselines.delete),
}


async def lifecycle_once(
    ctx: Ctx, server: Server, space: Space, action: str, count: int
) -> tuple[float, float, int, int]:
    """(ours s, baseline s, succeeded, failed) for one action over `count` contacts."""
    mutation, payload, audience, mix, baseline = LIFECYCLE[action]
    await reset_contacts(ctx.store, space, mix, count)
    async with http_client() as client:
        ours, data = await timed_post(
            client,
            server.endpoint,
            space.token,
            mutation,
            {"input": {"selection": {"audienceId": AUDIENCE[audience]}}},
        )
    result = data[payload]
    if len(result["results"]) != count:
        raise RuntimeError(f"{action}: {len(result['results'])} results for {count} contacts")
    await reset_contacts(ctx.store, space, mix, count)
    base, succeeded, failed = await baseline(ctx.store, space)
    if (succeeded, failed) != (result["succeeded"], result["failed"]):
        raise RuntimeError(
            f"{action}: ours {result['succeeded']}/{result['failed']}, "
            f"baseline {succeeded}/{failed} (succeeded/failed)"
        )
    return ours, base, succeeded, failed


async def case_lifecycle(ctx: Ctx, server: Server, space: Space) -> None:
    count = 10_000
    reps = 1 if ctx.quick else 5  # a shared machine: one run's baseline varies by a third
    for action in LIFECYCLE:
        ours_times, base_times = [], []
        outcome = (0, 0)
        for _ in range(reps):
            ours, base, succeeded, failed = await lifecycle_once(ctx, server, space, action, count)
            ours_times.append(ours)
            base_times.append(base)
            outcome = (succeeded, failed)
        ctx.add(
            Row(
                f"1 {action} 10,000 by audience ({outcome[0]:,} ok, {outcome[1]:,} refused)",
                ctx.db,
                median(ours_times),
                median(base_times),
                "s",
                "ratio <= 3",
                median(ours_times) <= 3 * median(base_times),
                note=f"median of {reps}",
            )
        )


async def case_lifecycle_50k(ctx: Ctx, space: Space) -> None:
    """50,000 archived in one request, on a fresh server: time and the server's peak memory.

    (--quick: 20,000, a smoke test; the goals are for 50,000.)"""
    count = 20_000 if ctx.quick else 50_000
    with Server(ctx.url, workers=1) as server:
        async with http_client(timeout=600) as client:
            await gql(client, server.endpoint, space.token, "{ viewer { id } }")
            before = vm_kib(server.pid, "VmRSS") / 1024
            ours, base, succeeded, failed = await lifecycle_once(
                ctx, server, space, "archive", count
            )
        peak = vm_kib(server.pid, "VmHWM") / 1024
    ctx.add(
        Row(
            f"1 archive {count:,} in one request ({succeeded:,} ok, {failed:,} refused)",
            ctx.db,
            ours,
            base,
            "s",
            "works",
            True,
        )
    )
    ctx.add(
        Row(
            f"1 archive {count:,}: server peak RSS (VmHWM)",
            ctx.db,
            peak,
            None,
            "MB",
            "< 300 MB",
            peak < 300,
            note=f"{before:.0f} MB before the request",
        )
    )


# ---------------------------------------------------------------- case 2: the contact list

LIST = """
query ContactList($first: Int!) {
  contacts(first: $first) {
    edges {
      cursor
      node {
        id firstName lastName displayName company title emails phones status
        createdAt updatedAt archivedAt
        stage { id name category }
        assignee { id name email }
        tags { id name }
        buckets { id name }
      }
    }
    pageInfo { hasNextPage endCursor }
  }
}"""

POSTGRAPHILE_LIST = """
query ContactList($workspaceId: Int!, $first: Int!) {
  contacts(first: $first, condition: {workspaceId: $workspaceId},
           orderBy: [SORT_NAME_ASC, ID_ASC]) {
    edges {
      cursor
      node {
        id firstName lastName company title emails phones status
        createdAt updatedAt archivedAt
        stage { id name category }
        assignee { id name email }
        contactTags { nodes { tag { id name } } }
        contactBuckets { nodes { bucket { id name } } }
      }
    }
    pageInfo { hasNextPage endCursor }
  }
}"""


# Rounds of the throughput run, each ours then PostGraphile (see case_list).
THROUGHPUT_ROUNDS = 3


def run_load(url: str, body: dict[str, Any], token: str, duration: float) -> dict[str, Any]:
    RESULTS.mkdir(exist_ok=True)
    body_file = RESULTS / f"load-body-{free_port()}.json"
    body_file.write_text(json.dumps(body))
    try:
        argv = [
            PYTHON,
            "-m",
            "bench.load",
            url,
            str(body_file),
            "--token",
            token,
            "--concurrency",
            "16",
            "--duration",
            str(duration),
            "--warmup",
            "2",
        ]
        done = subprocess.run(
            argv, cwd=ROOT, capture_output=True, text=True, timeout=duration + 90, check=False
        )
        if done.returncode != 0:
            raise RuntimeError(f"load generator failed: {done.stderr[-2000:]}")
        result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    finally:
        body_file.unlink(missing_ok=True)
    if result["errors"]:
        raise RuntimeError(f"{result['errors']} failed requests, e.g. {result['sample_error']}")
    return result


class PostGraphile:
    """PostGraphile v4 (bench/postgraphile) over the same database, 2 worker processes."""

    def __init__(self, url: str, workers: int = 2) -> None:
        self.url = url
        self.workers = workers
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = RESULTS / f"postgraphile-{self.port}.log"

    @property
    def endpoint(self) -> str:
        return f"http://{HOST}:{self.port}/graphql"

    def __enter__(self) -> PostGraphile:
        directory = BENCH / "postgraphile"
        if not (directory / "node_modules" / "postgraphile").is_dir():
            install = subprocess.run(
                ["npm", "ci", "--no-audit", "--no-fund"],
                cwd=directory,
                capture_output=True,
                text=True,
                timeout=600,
                check=False,
            )
            if install.returncode != 0:
                raise RuntimeError(f"npm ci failed in {directory}: {install.stderr[-2000:]}")
        env = {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "DATABASE_URL": self.url,
            "PORT": str(self.port),
            "WORKERS": str(self.workers),
            "NODE_ENV": "production",
        }
        RESULTS.mkdir(exist_ok=True)
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(
                ["node", "server.js"],
                cwd=directory,
                env=env,
                stdout=log,
                stderr=log,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"PostGraphile exited:\n{tail(self.log)}")
            try:
                response = httpx.post(self.endpoint, json={"query": "{ __typename }"}, timeout=2)
                if response.status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"PostGraphile did not come up:\n{tail(self.log)}")

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.log.unlink(missing_ok=True)


async def statements_of(
    ctx: Ctx, space: Space, query: str, variables: dict[str, Any]
) -> list[tuple[str, Any]]:
    """The SQL the app sends for one request (run in this process, warmed up once)."""
    async with in_process_client(ctx.url) as client:
        await gql(client, "/graphql", space.token, query, variables)
        with capture_sql() as log:
            await gql(client, "/graphql", space.token, query, variables)
    return log.statements


async def case_list(ctx: Ctx, server: Server, space: Space) -> None:
    first = 100
    variables = {"first": first}
    statements = await statements_of(ctx, space, LIST, variables)
    (RESULTS / f"list-sql-{ctx.db}.txt").write_text(
        "\n\n".join(f"{sql}\n  -- {values}" for sql, values in statements)
    )
    ctx.add(
        Row(
            "2 contacts(first: 100) +stage/assignee/tags/buckets: SQL statements",
            ctx.db,
            len(statements),
            4,
            "stmts",
            "<= 4",
            len(statements) <= 4,
            note="baseline: token, page (stage and assignee joined), tags, buckets",
        )
    )

    # Latency, one client, one worker.
    token_hash = hashlib.sha256(space.token.encode()).hexdigest()
    reps = 15 if ctx.quick else 40
    ours_times, base_times = [], []
    async with http_client() as client:
        for _ in range(3):
            await timed_post(client, server.endpoint, space.token, LIST, variables)
        for _ in range(reps):
            elapsed, data = await timed_post(client, server.endpoint, space.token, LIST, variables)
            ours_times.append(elapsed)
    if len(data["contacts"]["edges"]) != first:
        raise RuntimeError("the list returned fewer contacts than asked for")
    for _ in range(3):
        await baselines.contact_page(ctx.store, space, token_hash, first)
    for _ in range(reps):
        started = time.perf_counter()
        await baselines.contact_page(ctx.store, space, token_hash, first)
        base_times.append(time.perf_counter() - started)
    ctx.add(
        Row(
            "2 contacts(first: 100): p50 latency, 1 client",
            ctx.db,
            median(ours_times) * 1000,
            median(base_times) * 1000,
            "ms",
            "(floor: raw SQL)",
            None,
            note=f"p99 ours {percentile(ours_times, 99) * 1000:.1f} ms",
        )
    )

    # Throughput: 16 clients, 2 workers (all cores), against PostGraphile on PostgreSQL.
    # Rounds alternate ours and PostGraphile, so that both meet the machine's slower and
    # faster stretches (one run's ratio moved by a fifth between runs).
    duration, rounds = (4.0, 1) if ctx.quick else (10.0, THROUGHPUT_ROUNDS)
    graphile_body = {
        "query": POSTGRAPHILE_LIST,
        "variables": {"workspaceId": space.id, "first": first},
    }
    ours_rounds: list[dict[str, Any]] = []
    pg_rounds: list[dict[str, Any]] = []
    with contextlib.ExitStack() as servers:
        wide = servers.enter_context(Server(ctx.url, workers=2))
        graphile = servers.enter_context(PostGraphile(ctx.url)) if ctx.store.is_postgres else None
        if graphile is not None:
            async with http_client() as client:
                check = (await client.post(graphile.endpoint, json=graphile_body)).json()
            if check.get("errors") or len(check["data"]["contacts"]["edges"]) != first:
                raise RuntimeError(f"PostGraphile's list failed: {json.dumps(check)[:1500]}")
        workers = wide.worker_pids()
        used = [0.0 for _ in workers]
        for _ in range(rounds):
            before = cpu_seconds(workers)
            ours_rounds.append(
                run_load(
                    wide.endpoint, {"query": LIST, "variables": variables}, space.token, duration
                )
            )
            used = [
                total + after - start
                for total, after, start in zip(used, cpu_seconds(workers), before, strict=True)
            ]
            if graphile is not None:
                pg_rounds.append(run_load(graphile.endpoint, graphile_body, "", duration))
    # Each worker's share of the CPU the workers used during the runs (warm-ups included):
    # far from even, the run measured fewer cores than it had.
    split = " / ".join(f"{seconds / (sum(used) or 1):.0%}" for seconds in used)
    # The round whose ratio is the median (PostgreSQL), else the median throughput: the
    # figures shown are of one round, ours beside PostGraphile's right after it.
    by_ratio = sorted(
        range(rounds),
        key=lambda n: ours_rounds[n]["rps"] / (pg_rounds[n]["rps"] if pg_rounds else 1),
    )
    middle = by_ratio[rounds // 2]
    ours = ours_rounds[middle]
    pg = pg_rounds[middle] if pg_rounds else None
    note = f"{ours['requests']} requests; workers' CPU {split}"
    if pg_rounds and rounds > 1:
        ratios = ", ".join(
            f"{mine['rps'] / theirs['rps']:.2f}"
            for mine, theirs in zip(ours_rounds, pg_rounds, strict=True)
        )
        note = f"median of {rounds} rounds (ratios {ratios}); {note}"
    elif rounds > 1:
        note = f"median of {rounds} rounds; {note}"
    ctx.add(
        Row(
            "2 contacts(first: 100): throughput, 16 clients",
            ctx.db,
            ours["rps"],
            pg["rps"] if pg else None,
            "req/s",
            ">= PostGraphile (ratio >= 1)" if pg else "(PostGraphile: PostgreSQL only)",
            (ours["rps"] >= pg["rps"]) if pg else None,
            note=note,
        )
    )
    ctx.add(
        Row(
            "2 contacts(first: 100): p99 latency under that load",
            ctx.db,
            ours["p99_ms"],
            pg["p99_ms"] if pg else None,
            "ms",
            "reported",
            None,
            note=f"p50 ours {ours['p50_ms']:.0f} ms"
            + (f", PostGraphile {pg['p50_ms']:.0f} ms" if pg else ""),
        )
    )


# ---------------------------------------------------------------- case 3: sync and CSV

SYNC = """
mutation($input: SyncContactsInput!) {
  syncContacts(input: $input) {
    created updated unchanged keptArchived suppressed
    rowErrors { row errors { field message } }
  }
}"""
SYNC_ACCOUNT = "bench-phone"


def sync_items(count: int, batch: int = 0) -> list[dict[str, Any]]:
    """`count` phone contacts; each `batch` are other people (the server caches what it has
    normalized, so a first sync of people it has seen before would not be a first sync)."""
    items = []
    for i in range(batch * count, (batch + 1) * count):
        first, last, email, phone = person(500_000 + i)
        items.append(
            {
                "externalId": f"ext-{i}",
                "firstName": first,
                "lastName": last,
                "company": "Contoso" if i % 3 == 0 else None,
                "title": None,
                "emails": [email],
                "phones": [phone] if i % 4 != 3 else [],
            }
        )
    return items


def _writes(statements: list[tuple[str, Any]]) -> list[str]:
    return [
        sql
        for sql, _ in statements
        if sql.lstrip().split(" ", 1)[0].upper() in ("INSERT", "UPDATE", "DELETE")
        and '"api_token"' not in sql
        # SQLite's claim (server/claims.py) takes the write lock up front and changes no
        # row ("WHERE 0"): the re-sync still writes nothing.
        and not sql.startswith(SQLITE_WRITE_LOCK)
    ]


async def case_sync(ctx: Ctx, server: Server, space: Space) -> None:
    count = 5_000
    reps = 1 if ctx.quick else 3

    def variables_of(items: list[dict[str, Any]]) -> dict[str, Any]:
        return {"input": {"source": "PHONE", "sourceAccount": SYNC_ACCOUNT, "contacts": items}}

    firsts, resyncs, base_firsts, base_resyncs = [], [], [], []
    async with http_client() as client:
        for rep in range(reps):
            items = sync_items(count, rep)
            variables = variables_of(items)
            await clear_contacts(ctx.store, space)
            elapsed, data = await timed_post(client, server.endpoint, space.token, SYNC, variables)
            report = data["syncContacts"]
            if report["created"] != count or report["rowErrors"]:
                raise RuntimeError(f"first sync: {json.dumps(report)[:1000]}")
            firsts.append(elapsed)
            await analyze(ctx.store)
            elapsed, data = await timed_post(client, server.endpoint, space.token, SYNC, variables)
            report = data["syncContacts"]
            if report["unchanged"] != count:
                raise RuntimeError(f"re-sync: {json.dumps(report)[:1000]}")
            resyncs.append(elapsed)
    # Writes of an identical re-sync, seen from inside the app.
    async with in_process_client(ctx.url) as client:
        with capture_sql() as log:
            data = await gql(client, "/graphql", space.token, SYNC, variables)
    writes = _writes(log.statements)
    (RESULTS / f"resync-sql-{ctx.db}.txt").write_text(
        "\n".join(sql[:300] for sql, _ in log.statements)
    )
    for rep in range(reps):
        items = sync_items(count, rep)
        await clear_contacts(ctx.store, space)
        seconds, created, _ = await baselines.sync(ctx.store, space, SYNC_ACCOUNT, items)
        if created != count:
            raise RuntimeError(f"baseline first sync created {created}")
        base_firsts.append(seconds)
        await analyze(ctx.store)
        seconds, created, unchanged = await baselines.sync(ctx.store, space, SYNC_ACCOUNT, items)
        if created or unchanged != count:
            raise RuntimeError(f"baseline re-sync: {created} created, {unchanged} unchanged")
        base_resyncs.append(seconds)
    ctx.add(
        Row(
            "3 sync 5,000 contacts: first sync",
            ctx.db,
            median(firsts),
            median(base_firsts),
            "s",
            "<= 1 s",
            median(firsts) <= 1.0,
            note=f"median of {reps}",
        )
    )
    ctx.add(
        Row(
            "3 sync 5,000 contacts: identical re-sync",
            ctx.db,
            median(resyncs),
            median(base_resyncs),
            "s",
            "<= 0.3 s",
            median(resyncs) <= 0.3,
            note=f"{len(log.statements)} statements",
        )
    )
    ctx.add(
        Row(
            "3 identical re-sync: write statements",
            ctx.db,
            len(writes),
            0,
            "stmts",
            "0 (writes nothing)",
            not writes,
            note="; ".join(w[:60] for w in writes[:3]),
        )
    )


def csv_bytes(count: int, offset: int) -> bytes:
    lines = ["first_name,last_name,email,phone,company,title,tags"]
    for n in range(count):
        first, last, email, phone = person(offset + n)
        tags = ("vip;newsletter", "newsletter", "", "partner")[n % 4]
        company = ("Northwind", "Contoso", "", "Initech")[n % 4]
        title = ("CEO", "", "Engineer")[n % 3]
        lines.append(
            f"{first},{last},{email},{phone if n % 4 != 3 else ''},{company},{title},{tags}"
        )
    return ("\n".join(lines) + "\n").encode()


IMPORT = """
mutation($file: Upload!) {
  importContactsCsv(file: $file) { created updated unchanged suppressed rowErrors { row } }
}"""


async def upload_csv(
    client: httpx.AsyncClient, server: Server, token: str, data: bytes
) -> tuple[float, dict[str, Any], float]:
    """(seconds, report, peak RSS MiB during the request) of one importContactsCsv upload."""
    operations = json.dumps({"query": IMPORT, "variables": {"file": None}})
    with RssSampler(server.pid) as sampler:
        started = time.perf_counter()
        response = await client.post(
            server.endpoint,
            data={"operations": operations, "map": json.dumps({"0": ["variables.file"]})},
            files={"0": ("contacts.csv", data, "text/csv")},
            headers={"Authorization": f"Bearer {token}"},
        )
        _ = response.content
        elapsed = time.perf_counter() - started
    body = response.json()
    if response.status_code != 200 or body.get("errors"):
        raise RuntimeError(f"CSV import: {response.status_code} {json.dumps(body)[:1500]}")
    return elapsed, body["data"]["importContactsCsv"], sampler.peak_mib


async def case_csv(ctx: Ctx, space: Space) -> None:
    count = 10_000 if ctx.quick else 100_000
    small = max(count // 10, 1_000)
    with Server(ctx.url, workers=1) as server:
        async with http_client(timeout=900) as client:
            await gql(client, server.endpoint, space.token, "{ viewer { id } }")
            await clear_contacts(ctx.store, space)
            base_rss = vm_kib(server.pid, "VmRSS") / 1024
            _, report, peak_small = await upload_csv(
                client, server, space.token, csv_bytes(small, 2_000_000)
            )
            if report["created"] != small:
                raise RuntimeError(f"CSV import of {small}: {report}")
            await clear_contacts(ctx.store, space)
            await analyze(ctx.store)
            data = csv_bytes(count, 3_000_000)
            elapsed, report, peak = await upload_csv(client, server, space.token, data)
            if report["created"] != count or report["rowErrors"]:
                raise RuntimeError(f"CSV import of {count}: {json.dumps(report)[:1000]}")
    await clear_contacts(ctx.store, space)
    await analyze(ctx.store)
    base_seconds, created = await baselines.csv_import(ctx.store, space, data)
    if created != count:
        raise RuntimeError(f"baseline CSV import created {created}")
    rate, base_rate = count / elapsed, count / base_seconds
    ctx.add(
        Row(
            f"3 CSV import {count:,} rows (HTTP upload)",
            ctx.db,
            rate,
            base_rate,
            "rows/s",
            ">= 20,000 rows/s",
            rate >= 20_000,
            note=f"{elapsed:.1f} s vs {base_seconds:.1f} s",
        )
    )
    growth_small, growth = peak_small - base_rss, peak - base_rss
    ctx.add(
        Row(
            f"3 CSV import {count:,}: server peak RSS",
            ctx.db,
            peak,
            peak_small,
            "MB",
            f"flat: growth <= {small:,}-row growth + 32 MB",
            growth <= growth_small + 32,
            note=f"baseline column: the {small:,}-row import; RSS before {base_rss:.0f} MB",
        )
    )
    await clear_contacts(ctx.store, space)


# ---------------------------------------------------------------- case 4: scale

COUNT = "query($id: ID!) { audience(id: $id) { contactCount } }"
FIRST_PAGE = """
query($id: ID!) {
  audience(id: $id) {
    contacts {
      edges { cursor node { id displayName status stage { name } assignee { name } tags { name } } }
      pageInfo { hasNextPage endCursor }
    }
  }
}"""
STATUS = {"my_people": "active", "archived_people": "archived", "all_people": None}


async def create_database(store: Store, name: str) -> None:
    await store.execute(f'DROP DATABASE IF EXISTS "{name}"')
    await store.execute(f'CREATE DATABASE "{name}"')


async def explain(store: Store, sql: str, values: Any) -> str:
    args = list(values or [])
    rows = await store.fetch(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", *args)
    return "\n".join(r[0] for r in rows)


async def case_scale(ctx: Ctx, scale_url: str, count: int) -> None:
    from server import db

    await db.migrate(scale_url)
    store = await baselines_store(scale_url)
    try:
        async with tortoise_on(scale_url):
            space = await make_space("Scale")
            ctx.say(f"building {count:,} contacts with generate_series ...")
            seconds = await generate_contacts_pg(store, space, count)
            # It loads with triggers off (session_replication_role = replica), unseen by the
            # tally: what `contacts-server recount` is for.
            await tallies.recount()
            ctx.say(f"built in {seconds:.1f} s (contacts, handles, tags, buckets, VACUUM ANALYZE)")
            sub = Ctx(ctx.db, scale_url, store, ctx.quick)
            plans: list[str] = []
            for kind in STATUS:
                for label, query in (("count", COUNT), ("first page", FIRST_PAGE)):
                    statements = await statements_of(sub, space, query, {"id": AUDIENCE[kind]})
                    for sql, values in statements:
                        ours = '"contact"' in sql or "contact_tally" in sql
                        if ours and "api_token" not in sql:
                            plan = await explain(store, sql, values)
                            plans.append(f"-- {kind} {label}:\n{sql}\n-- values: {values}\n{plan}")
        (RESULTS / "scale-plans.txt").write_text("\n\n".join(plans) + "\n")
        seq_scans = [p.split("\n", 1)[0] for p in plans if "Seq Scan on contact " in p]
        reps = 11 if ctx.quick else 31
        with Server(scale_url, workers=1) as server:
            async with http_client() as client:
                for kind, status in STATUS.items():
                    for label, query in (("count", COUNT), ("first page", FIRST_PAGE)):
                        times = []
                        for i in range(reps + 2):
                            elapsed, data = await timed_post(
                                client, server.endpoint, space.token, query, {"id": AUDIENCE[kind]}
                            )
                            if i >= 2:
                                times.append(elapsed)
                        base_times = []
                        for i in range(reps + 2):
                            started = time.perf_counter()
                            if label == "count":
                                n = await baselines.audience_count(store, space, status)
                            else:
                                n = await baselines.audience_page(store, space, status, 50)
                            if i >= 2:
                                base_times.append(time.perf_counter() - started)
                        if label == "count" and data["audience"]["contactCount"] != n:
                            raise RuntimeError(f"{kind}: count {data} != {n}")
                        ours = median(times) * 1000
                        ctx.add(
                            Row(
                                f"4 {count // 1000:,}k: {kind} {label} (p50)",
                                ctx.db,
                                ours,
                                median(base_times) * 1000,
                                "ms",
                                "<= 50 ms",
                                ours <= 50,
                            )
                        )
        ctx.add(
            Row(
                "4 plans: contact queries with a Seq Scan",
                ctx.db,
                len(seq_scans),
                0,
                "stmts",
                "0 (indexes used)",
                not seq_scans,
                note="bench/results/scale-plans.txt",
            )
        )
    finally:
        await store.close()


async def baselines_store(url: str) -> Store:
    from bench.common import open_store

    return await open_store(url)


__all__ = [
    "Ctx",
    "Row",
    "add_contacts",
    "asyncio",
    "case_csv",
    "case_lifecycle",
    "case_lifecycle_50k",
    "case_list",
    "case_scale",
    "case_sync",
    "create_database",
    "make_space",
    "reset_contacts",
    "wait_http",
]
