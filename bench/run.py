"""Run the benchmark: build the data, run each case on SQLite and PostgreSQL, print the table.

    .venv/bin/python -m bench.run [--db sqlite|postgres|both] [--quick] [--cases 1,2,3,4]

Every figure of ours is measured through the real app over HTTP (uvicorn in a subprocess on
127.0.0.1), beside a baseline measured in the same run on the same database: the raw SQL the
case needs, or PostGraphile serving the same list. See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from bench.cases import (
    Ctx,
    Row,
    case_csv,
    case_lifecycle,
    case_lifecycle_50k,
    case_list,
    case_scale,
    case_sync,
    create_database,
    fmt,
)
from bench.common import RESULTS, ROOT, Server, open_store, tortoise_on
from bench.data import Mix, add_contacts, analyze, clear_contacts, make_space

LIST_CONTACTS = 10_000


async def run_database(db: str, url: str, quick: bool, cases: set[str]) -> list[Row]:
    from server import db as app_db

    print(f"\n== {db}: {url}", flush=True)
    await app_db.migrate(url)
    store = await open_store(url)
    ctx = Ctx(db, url, store, quick)
    try:
        async with tortoise_on(url):
            lifecycle = await make_space("Lifecycle")
            listing = await make_space("List")
            syncing = await make_space("Sync")
            importing = await make_space("Import")
            started = time.perf_counter()
            await add_contacts(store, listing, Mix.LIST, LIST_CONTACTS)
            await analyze(store)
            ctx.say(f"{LIST_CONTACTS:,} list contacts in {time.perf_counter() - started:.2f} s")
            with Server(url, workers=1) as server:
                if "1" in cases:
                    ctx.say("case 1: bulk archive / unarchive / delete of 10,000")
                    await case_lifecycle(ctx, server, lifecycle)
                if "2" in cases:
                    ctx.say("case 2: contacts(first: 100)")
                    await case_list(ctx, server, listing)
                if "3" in cases:
                    ctx.say("case 3: sync of 5,000")
                    await case_sync(ctx, server, syncing)
            if "1" in cases:
                ctx.say("case 1: archive of 50,000 (--quick: 20,000) in one request (fresh server)")
                await case_lifecycle_50k(ctx, lifecycle)
                await clear_contacts(store, lifecycle)
            if "3" in cases:
                ctx.say("case 3: CSV import (fresh server)")
                await case_csv(ctx, importing)
        if "4" in cases and store.is_postgres:
            count = 100_000 if quick else 1_000_000
            ctx.say(f"case 4: scale, {count:,} contacts in one workspace (own database)")
            await create_database(store, "bench_scale")
            parts = urlsplit(url)
            scale_url = urlunsplit(parts._replace(path="/bench_scale"))
            await case_scale(ctx, scale_url, count)
    finally:
        await store.close()
    return ctx.rows


def table(rows: list[Row]) -> str:
    header = ("case", "db", "ours", "baseline", "ratio", "goal", "met?", "load", "note")
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---" for _ in header) + "|",
    ]
    for row in rows:
        ratio = f"{row.ratio:.2f}" if row.ratio is not None else "-"
        met = {True: "yes", False: "**no**", None: "-"}[row.met]
        lines.append(
            "| "
            + " | ".join(
                (
                    row.case,
                    row.db,
                    fmt(row.ours, row.unit),
                    fmt(row.baseline, row.unit),
                    ratio,
                    row.goal,
                    met,
                    f"{row.load:.1f}",
                    row.note,
                )
            )
            + " |"
        )
    return "\n".join(lines)


def environment() -> str:
    def version(argv: list[str]) -> str:
        try:
            return subprocess.run(
                argv, capture_output=True, text=True, timeout=30, check=False
            ).stdout.strip()
        except OSError:
            return "?"

    pg = version(["pg_config", "--version"]) or "?"
    node = version(["node", "--version"])
    return (
        f"{os.cpu_count()} cores, Python {platform.python_version()}, {pg}, node {node}, "
        f"{platform.platform()}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--quick", action="store_true", help="smaller and shorter (~3 min)")
    parser.add_argument("--cases", default="1,2,3,4", help="which cases, e.g. 1,3")
    parser.add_argument("--rows", default="", help=argparse.SUPPRESS)  # used by --db both
    args = parser.parse_args()
    cases = set(args.cases.split(","))
    RESULTS.mkdir(exist_ok=True)
    sys.path.insert(0, str(ROOT / "tests"))
    started = time.perf_counter()
    load_at_start = os.getloadavg()[0]
    if load_at_start > 1.0 and not args.rows:
        print(
            f"note: the machine's load average is {load_at_start:.1f} on {os.cpu_count()} cores: "
            "other processes compete with the bench, so absolute figures are inflated; the "
            "ratios (ours and the baseline measured back to back) are the figures to read.",
            flush=True,
        )
    rows: list[Row] = []
    if args.db == "both":
        # One process per database: Tortoise binds its models to the first dialect it meets.
        for db in ("sqlite", "postgres"):
            argv = [sys.executable, "-m", "bench.run", "--db", db, "--cases", args.cases]
            argv += ["--quick"] if args.quick else []
            argv += ["--rows", str(RESULTS / f"rows-{db}.json")]
            done = subprocess.run(argv, cwd=ROOT, check=False, timeout=3600)
            if done.returncode != 0:
                raise SystemExit(f"the {db} run failed ({done.returncode})")
            data = json.loads((RESULTS / f"rows-{db}.json").read_text())
            rows += [Row(**row) for row in data]
    elif args.db == "sqlite":
        with tempfile.TemporaryDirectory(prefix="contacts-bench-") as tmp:
            url = f"sqlite://{Path(tmp) / 'bench.sqlite3'}"
            rows += asyncio.run(run_database("sqlite", url, args.quick, cases))
    else:
        from pgcluster import postgres_database

        with postgres_database() as url:
            rows += asyncio.run(run_database("postgres", url, args.quick, cases))
    if args.rows:
        Path(args.rows).write_text(json.dumps([dataclasses.asdict(row) for row in rows]))
        return
    minutes = (time.perf_counter() - started) / 60
    text = table(rows)
    mode = "quick" if args.quick else "full"
    summary = (
        f"{mode} run, {minutes:.1f} min; load average (1 min) {load_at_start:.1f} at the start, "
        f"{os.getloadavg()[0]:.1f} at the end; {environment()}"
    )
    print("\n" + text + "\n\n" + summary)
    (RESULTS / f"table-{mode}.md").write_text(text + "\n\n" + summary + "\n")


if __name__ == "__main__":
    main()
