"""Where the time goes: py-spy samples the real server (uvicorn, one worker) during each case.

    .venv/bin/python -m bench.profile [--db sqlite|postgres|both] [--cases archive,list,...]

For each case it records the server process with `py-spy record --format raw` (every
thread, active samples only: time spent waiting on the network or the database socket is
not sampled, time in aiosqlite's worker thread is), and writes
bench/results/profile-CASE-DB.txt: the wall time, the share of samples per library (by the
frame that was running: "self"), the project's functions by inclusive share, and the top
frames by self share. The raw stacks stay beside it (.raw) for flame graphs.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

from bench import cases
from bench.common import RESULTS, ROOT, Server, Store, http_client, open_store, tortoise_on
from bench.data import Mix, Space, add_contacts, analyze, clear_contacts, make_space, reset_contacts

PY_SPY = str(Path(sys.executable).parent / "py-spy")
FRAME = re.compile(r"^(?P<func>.*) \((?P<file>[^():]*):(?P<line>\d+)\)$")

# Library by the path of the running frame (py-spy names files from their package root).
LIBRARIES = (
    ("aiosqlite/core.py:59", "SQLite engine (aiosqlite's thread, in sqlite3 C code)"),
    ("graphql/", "graphql-core"),
    ("strawberry/", "strawberry"),
    ("tortoise/", "tortoise"),
    ("pypika", "pypika"),
    ("asyncpg/", "asyncpg"),
    ("aiosqlite/", "aiosqlite"),
    ("sqlite3/", "sqlite3"),
    ("iso8601/", "iso8601 (Tortoise's datetime parsing)"),
    ("email_validator/", "email-validator"),
    ("phonenumbers/", "phonenumbers"),
    ("json/", "json"),
    ("starlette/", "starlette"),
    ("uvicorn/", "uvicorn"),
    ("multipart/", "python-multipart"),
    ("pydantic", "pydantic"),
    ("asyncio/runners.py", "event loop (uvloop, C)"),
    ("asyncio/", "asyncio"),
    ("server/", "server/ (ours)"),
    ("schema/", "schema/ (ours)"),
)
OURS = ("server/", "schema/")


def library(path: str, line: str) -> str:
    path = short(path)
    where = f"{path}:{line}"
    for prefix, name in LIBRARIES:
        if where.startswith(prefix):
            return name
    return "stdlib / other"


@contextlib.contextmanager
def recording(pid: int, out: Path, rate: int = 200) -> Iterator[None]:
    """py-spy samples process `pid` while the block runs."""
    argv = [
        PY_SPY,
        "record",
        "--pid",
        str(pid),
        "--rate",
        str(rate),
        "--format",
        "raw",
        "--output",
        str(out),
        "--threads",
    ]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    time.sleep(1.0)  # let it attach
    try:
        yield
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def summarize(raw: Path, wall: float, title: str) -> str:
    """The report of one recording: by library (self), project functions (inclusive), top self."""
    by_library: Counter[str] = Counter()
    own_inclusive: Counter[str] = Counter()
    self_frames: Counter[str] = Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [f for f in stack.split(";") if FRAME.match(f)]
        if not frames:
            continue
        total += count
        leaf = FRAME.match(frames[-1])
        assert leaf is not None
        by_library[library(leaf["file"], leaf["line"])] += count
        self_frames[f"{leaf['func']} ({short(leaf['file'])}:{leaf['line']})"] += count
        seen: set[str] = set()
        for frame in frames:
            match = FRAME.match(frame)
            assert match is not None
            if short(match["file"]).startswith(OURS):
                key = f"{match['func']} ({short(match['file'])})"
                if key not in seen:
                    seen.add(key)
                    own_inclusive[key] += count
    lines = [f"# {title}", f"wall time {wall:.2f} s; {total} active samples", ""]
    if not total:
        return "\n".join([*lines, "(no samples)"])
    lines.append("## CPU by library (where the running frame was)")
    for name, count in by_library.most_common():
        lines.append(f"  {100 * count / total:5.1f} %  {name}")
    lines += ["", "## our functions, inclusive (samples with the function on the stack)"]
    for name, count in own_inclusive.most_common(30):
        lines.append(f"  {100 * count / total:5.1f} %  {name}")
    lines += ["", "## top frames, self"]
    for name, count in self_frames.most_common(25):
        lines.append(f"  {100 * count / total:5.1f} %  {name}")
    return "\n".join(lines) + "\n"


def short(path: str) -> str:
    for marker in ("/site-packages/", "/work/main/", "/lib/python3.11/"):
        if marker in path:
            return path.split(marker, 1)[1]
    return path


async def profile_case(
    name: str,
    db: str,
    server: Server,
    prepare: Callable[[], Awaitable[Any]],
    work: Callable[[], Awaitable[Any]],
) -> str:
    await prepare()
    raw = RESULTS / f"profile-{name}-{db}.raw"
    with recording(server.pid, raw):
        started = time.perf_counter()
        await work()
        wall = time.perf_counter() - started
    report = summarize(raw, wall, f"{name} on {db}")
    (RESULTS / f"profile-{name}-{db}.txt").write_text(report)
    print(report, flush=True)
    return report


async def run(db: str, url: str, which: set[str]) -> None:
    from server import db as app_db

    await app_db.migrate(url)
    store: Store = await open_store(url)
    try:
        async with tortoise_on(url):
            spaces = {n: await make_space(n) for n in ("Lifecycle", "List", "Sync", "Import")}
            await add_contacts(store, spaces["List"], Mix.LIST, 10_000)
            await analyze(store)
            with Server(url, workers=1) as server:
                async with http_client(timeout=900) as client:
                    await cases.gql(
                        client, server.endpoint, spaces["List"].token, "{ viewer { id } }"
                    )
                    await _cases(db, store, server, client, spaces, which)
    finally:
        await store.close()


async def _cases(
    db: str, store: Store, server: Server, client: Any, spaces: dict[str, Space], which: set[str]
) -> None:
    life, listing, syncing, importing = (
        spaces["Lifecycle"],
        spaces["List"],
        spaces["Sync"],
        spaces["Import"],
    )

    async def post(space: Space, query: str, variables: dict[str, Any]) -> Any:
        return await cases.timed_post(client, server.endpoint, space.token, query, variables)

    if "archive" in which:
        await profile_case(
            "archive-10k",
            db,
            server,
            lambda: reset_contacts(store, life, Mix.ARCHIVE, 10_000),
            lambda: post(
                life,
                cases.ARCHIVE,
                {"input": {"selection": {"audienceId": cases.AUDIENCE["my_people"]}}},
            ),
        )
    if "delete" in which:
        await profile_case(
            "delete-10k",
            db,
            server,
            lambda: reset_contacts(store, life, Mix.ARCHIVED, 10_000),
            lambda: post(
                life,
                cases.DELETE,
                {"input": {"selection": {"audienceId": cases.AUDIENCE["archived_people"]}}},
            ),
        )
    if "list" in which:

        async def twenty() -> None:
            for _ in range(20):
                await post(listing, cases.LIST, {"first": 100})

        await profile_case("list-100-x20", db, server, analyze_noop, twenty)
    if "sync" in which:
        variables = {
            "input": {
                "source": "PHONE",
                "sourceAccount": cases.SYNC_ACCOUNT,
                "contacts": cases.sync_items(5_000),
            }
        }
        await profile_case(
            "sync-5000-first",
            db,
            server,
            lambda: clear_contacts(store, syncing),
            lambda: post(syncing, cases.SYNC, variables),
        )
        await profile_case(
            "sync-5000-resync",
            db,
            server,
            lambda: analyze(store),
            lambda: post(syncing, cases.SYNC, variables),
        )
    if "csv" in which:
        data = cases.csv_bytes(20_000, 3_000_000)
        await profile_case(
            "csv-20000",
            db,
            server,
            lambda: clear_contacts(store, importing),
            lambda: cases.upload_csv(client, server, importing.token, data),
        )


async def analyze_noop() -> None:
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--cases", default="archive,delete,list,sync,csv")
    args = parser.parse_args()
    which = set(args.cases.split(","))
    RESULTS.mkdir(exist_ok=True)
    sys.path.insert(0, str(ROOT / "tests"))
    if args.db == "both":
        # One process per database: Tortoise binds its models to the first dialect it meets.
        for db in ("sqlite", "postgres"):
            argv = [sys.executable, "-m", "bench.profile", "--db", db, "--cases", args.cases]
            subprocess.run(argv, cwd=ROOT, check=True, timeout=3600)
        return
    if args.db == "sqlite":
        with tempfile.TemporaryDirectory(prefix="contacts-profile-") as tmp:
            asyncio.run(run("sqlite", f"sqlite://{Path(tmp) / 'p.sqlite3'}", which))
    if args.db == "postgres":
        from pgcluster import postgres_database

        with postgres_database() as url:
            asyncio.run(run("postgres", url, which))


if __name__ == "__main__":
    main()
