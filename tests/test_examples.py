"""The scripts in examples/, run as a user runs them, against a real demo server.

The module starts `contacts-server serve --demo` on its own SQLite file (tests/demo_server.py);
each test runs a script in a subprocess and checks both what it printed and what the server
holds afterwards, relative to what it held before. Nothing here uses the suite's database,
so both passes (--db) run them alike.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from demo_server import ROOT, DemoServer, Ran, demo_server, run_command

from server import ids

EXAMPLES = ROOT / "examples"
SCRIPTS = ("archive_stale_lost.py", "purge_archive.py", "sync_phone_book.py")
YEAR = timedelta(days=365)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoServer]:
    """One demo server for the module (starting one takes seconds): each test reads the
    state it starts from, and checks changes against it."""
    with demo_server(tmp_path_factory.mktemp("demo-server")) as running:
        yield running


def script(name: str, *args: str | Path, cwd: Path, token: str | None = None) -> Ran:
    env = {"CONTACTS_TOKEN": token} if token is not None else {}
    return run_command(sys.executable, EXAMPLES / name, *args, cwd=cwd, env=env)


def sqlite_time(moment: datetime) -> str:
    """How Tortoise stores a datetime in SQLite."""
    return moment.astimezone(UTC).isoformat(sep=" ", timespec="microseconds")


def counted(output: str, name: str) -> list[int]:
    """The counts printed for a result type, in order (one per report)."""
    return [int(n) for n in re.findall(rf"^\s+{name}\s+(\d+)$", output, flags=re.MULTILINE)]


# ---------------------------------------------------------------- archive_stale_lost


def contact_rows(server: DemoServer, where: str) -> list[int]:
    return [
        row[0]
        for row in server.sql(
            "SELECT c.id FROM contact c LEFT JOIN stage s ON s.id = c.stage_id "  # noqa: S608
            f"WHERE {where} ORDER BY c.id"
        )
    ]


def age(server: DemoServer, contact_ids: list[int], days: int) -> None:
    moment = sqlite_time(datetime.now(UTC) - timedelta(days=days))
    for contact_id in contact_ids:
        server.sql(
            "UPDATE contact SET updated_at = ?, created_at = ? WHERE id = ?",
            (moment, moment, contact_id),
        )


def statuses(server: DemoServer, contact_ids: list[int]) -> dict[int, str]:
    found: dict[int, str] = {}
    for contact_id in contact_ids:
        data = server.graphql(
            "query($id: ID!) { contact(id: $id) { status } }",
            {"id": ids.encode("Contact", contact_id)},
        )
        found[contact_id] = data["contact"]["status"]
    return found


def stale_lost_left(server: DemoServer) -> list[dict[str, Any]]:
    """Active, unassigned LOST contacts not updated for a year, through the API."""
    cutoff = datetime.now(UTC) - YEAR
    left: list[dict[str, Any]] = []
    after = None
    while True:
        data = server.graphql(
            """query($after: String) {
              contacts(filter: {status: ACTIVE, stageCategories: [LOST], unassigned: true},
                       first: 500, after: $after) {
                edges { node { id updatedAt } }
                pageInfo { hasNextPage endCursor }
              }
            }""",
            {"after": after},
        )["contacts"]
        for edge in data["edges"]:
            updated = datetime.fromisoformat(edge["node"]["updatedAt"].replace("Z", "+00:00"))
            if updated < cutoff:
                left.append(edge["node"])
        if not data["pageInfo"]["hasNextPage"]:
            return left
        after = data["pageInfo"]["endCursor"]


def test_archive_stale_lost_dry_runs_then_archives_only_stale_unassigned_lost_contacts(
    server: DemoServer, tmp_path: Path
) -> None:
    lost_free = "c.status = 'active' AND s.category = 'lost' AND c.assignee_id IS NULL"
    candidates = contact_rows(server, lost_free)
    assert len(candidates) >= 6, "the demo needs unassigned LOST contacts"
    stale, recent = candidates[:4], candidates[4:6]
    # The demo's dates are all within the last two years; make some a year old for sure.
    age(server, stale, days=400)
    age(server, recent, days=300)
    # Old too, but assigned, or in a stage that blocks archiving: they must stay.
    assigned = contact_rows(
        server, "c.status = 'active' AND s.category = 'lost' AND c.assignee_id IS NOT NULL"
    )[:1]
    leads = contact_rows(server, "c.status = 'active' AND s.category = 'lead'")[:1]
    no_stage = contact_rows(server, "c.status = 'active' AND c.stage_id IS NULL")[:1]
    kept_old = assigned + leads + no_stage
    assert len(kept_old) == 3
    age(server, kept_old, days=500)
    # Any other stale unassigned LOST contact of the demo is a target as well.
    cutoff = sqlite_time(datetime.now(UTC) - YEAR)
    targets = contact_rows(server, f"{lost_free} AND c.updated_at < '{cutoff}'")
    assert set(stale) <= set(targets)
    assert not set(recent) & set(targets)

    dry = script("archive_stale_lost.py", "--url", server.url, cwd=tmp_path, token=server.token)
    assert dry.code == 0, dry.stderr
    assert f"{len(targets)} not updated since" in dry.stdout
    assert "Dry run" in dry.stdout
    assert counted(dry.stdout, "ContactArchived") == [len(targets)]
    assert "--apply" in dry.stdout
    assert set(statuses(server, targets).values()) == {"ACTIVE"}, "a dry run changes nothing"

    applied = script(
        "archive_stale_lost.py", "--apply", "--url", server.url, cwd=tmp_path, token=server.token
    )
    assert applied.code == 0, applied.stderr
    assert counted(applied.stdout, "ContactArchived") == [len(targets), len(targets)]
    assert f"Archived {len(targets)} contact(s); 0 left as they were." in applied.stdout
    assert set(statuses(server, targets).values()) == {"ARCHIVED"}
    assert set(statuses(server, recent + kept_old).values()) == {"ACTIVE"}
    assert stale_lost_left(server) == []

    again = script(
        "archive_stale_lost.py", "--apply", "--url", server.url, cwd=tmp_path, token=server.token
    )
    assert again.code == 0, again.stderr
    assert "Nothing to archive." in again.stdout


# ---------------------------------------------------------------- purge_archive


def audience_counts(server: DemoServer) -> dict[str, int]:
    data = server.graphql("{ audiences { kind contactCount } }")
    return {a["kind"]: a["contactCount"] for a in data["audiences"] if a["kind"] != "SAVED"}


def test_purge_archive_deletes_the_archive_for_good_with_prevent_resync(
    server: DemoServer, tmp_path: Path
) -> None:
    before = audience_counts(server)
    archived = before["ARCHIVED_PEOPLE"]
    assert archived > 0
    assert server.sql("SELECT count(*) FROM suppression") == [(0,)]

    dry = script("purge_archive.py", "--url", server.url, cwd=tmp_path, token=server.token)
    assert dry.code == 0, dry.stderr
    assert f"Archived People: {archived} contact(s)." in dry.stdout
    assert counted(dry.stdout, "ContactDeleted") == [archived]
    assert "--apply" in dry.stdout
    assert audience_counts(server) == before

    applied = script(
        "purge_archive.py", "--apply", "--url", server.url, cwd=tmp_path, token=server.token
    )
    assert applied.code == 0, applied.stderr
    assert counted(applied.stdout, "ContactDeleted") == [archived, archived]
    assert f"Deleted {archived} contact(s) for good" in applied.stdout
    after = audience_counts(server)
    assert after["ARCHIVED_PEOPLE"] == 0
    assert after["MY_PEOPLE"] == before["MY_PEOPLE"]
    assert after["ALL_PEOPLE"] == before["ALL_PEOPLE"] - archived
    # preventResync: the server keeps hashes of what it must not let sync bring back.
    assert server.sql("SELECT count(*) FROM suppression")[0][0] >= archived

    again = script(
        "purge_archive.py", "--apply", "--url", server.url, cwd=tmp_path, token=server.token
    )
    assert again.code == 0, again.stderr
    assert "Nothing to delete." in again.stdout


def test_purge_archive_refuses_a_token_that_is_not_an_admins(
    server: DemoServer, tmp_path: Path
) -> None:
    made = run_command(
        sys.executable, "-m", "server.cli", "--database-url", server.database_url,
        "create-user", "--workspace", "Demo", "--email", "mia@demo.example",
        "--name", "Mia Member", "--role", "member", cwd=tmp_path,
    )  # fmt: skip
    assert made.code == 0, made.stderr
    member_token = made.stdout.strip().splitlines()[-1]
    before = audience_counts(server)

    ran = script(
        "purge_archive.py", "--apply", "--url", server.url, cwd=tmp_path, token=member_token
    )
    assert ran.code == 1
    assert "ADMIN" in ran.stderr
    assert "Mia Member" in ran.stderr
    assert "Traceback" not in ran.stderr
    assert audience_counts(server) == before


# ---------------------------------------------------------------- sync_phone_book


PHONE_BOOK = """\
First_Name,Last_Name,Email,Phone,Company,Title,External_ID,Ringtone
Ada,Lovelace,ada@engines.example,+44 20 7946 0001,Analytical Engines,Countess,p-1,bell
Charles,Babbage,charles@engines.example;CB@Mail.Example,,Analytical Engines,,p-2,
Grace,Hopper,,+1 202 555 0143,US Navy,Rear Admiral,p-3,
Alan,Turing,alan@bletchley.example,,,,p-4,
Katherine,Johnson,katherine@nasa.example,,NASA,,p-5,
"""


def phone_contacts(server: DemoServer) -> dict[str, dict[str, Any]]:
    data = server.graphql(
        """{ contacts(first: 500) {
              edges { node { firstName lastName company title emails phones status } }
            } }"""
    )
    found: dict[str, dict[str, Any]] = {}
    for edge in data["contacts"]["edges"]:
        node = edge["node"]
        if node["lastName"] in {"Lovelace", "Babbage", "Hopper", "Turing", "Johnson"}:
            found[node["lastName"]] = node
    return found


def test_sync_phone_book_syncs_a_csv_in_chunks_and_prints_the_totals(
    server: DemoServer, tmp_path: Path
) -> None:
    book = tmp_path / "phone.csv"
    book.write_text(PHONE_BOOK, encoding="utf-8")
    total_before = audience_counts(server)["ALL_PEOPLE"]

    ran = script(
        "sync_phone_book.py", book, "--account", "Ada's phone", "--url", server.url,
        "--batch-size", "2", cwd=tmp_path, token=server.token,
    )  # fmt: skip
    assert ran.code == 0, ran.stdout + ran.stderr
    assert "Sent 2 of 5" in ran.stdout
    assert "Sent 4 of 5" in ran.stdout
    assert "Sent 5 of 5" in ran.stdout
    assert re.search(r"^\s+5\s+created$", ran.stdout, flags=re.MULTILINE), ran.stdout
    assert re.search(r"^\s+0\s+rejected$", ran.stdout, flags=re.MULTILINE), ran.stdout
    assert audience_counts(server)["ALL_PEOPLE"] == total_before + 5
    people = phone_contacts(server)
    assert set(people) == {"Lovelace", "Babbage", "Hopper", "Turing", "Johnson"}
    assert people["Lovelace"]["company"] == "Analytical Engines"
    assert people["Lovelace"]["title"] == "Countess"
    assert people["Lovelace"]["phones"] == ["+442079460001"]
    assert sorted(people["Babbage"]["emails"]) == ["cb@mail.example", "charles@engines.example"]

    # Again, with one row changed, one without its ID and one the server rejects.
    changed = (
        PHONE_BOOK.replace("Rear Admiral", "Commodore")
        + "No,Id,noid@example.example,,,,,\n"
        + "Bad,Email,not-an-email,,,,p-6,\n"
    )
    book.write_text(changed, encoding="utf-8")
    again = script(
        "sync_phone_book.py", book, "--account", "Ada's phone", "--url", server.url,
        "--batch-size", "3", cwd=tmp_path, token=server.token,
    )  # fmt: skip
    assert again.code == 3, again.stdout + again.stderr
    assert re.search(r"^\s+0\s+created$", again.stdout, flags=re.MULTILINE), again.stdout
    assert re.search(r"^\s+1\s+updated$", again.stdout, flags=re.MULTILINE), again.stdout
    assert re.search(r"^\s+4\s+unchanged$", again.stdout, flags=re.MULTILINE), again.stdout
    assert re.search(r"^\s+2\s+rejected$", again.stdout, flags=re.MULTILINE), again.stdout
    # CSV row numbers (the header is row 1), also for a row the server rejected.
    assert "row 7: external_id" in again.stdout
    assert re.search(r"row 8: emails\[0\]: .*not-an-email", again.stdout), again.stdout
    assert phone_contacts(server)["Hopper"]["title"] == "Commodore"
    assert audience_counts(server)["ALL_PEOPLE"] == total_before + 5


def test_sync_phone_book_explains_a_file_it_cannot_use(tmp_path: Path) -> None:
    book = tmp_path / "phone.csv"
    book.write_text("name,phone\nAda,+44 20 7946 0001\n", encoding="utf-8")
    ran = script(
        "sync_phone_book.py", book, "--account", "Ada's phone", "--url", "http://127.0.0.1:9/x",
        cwd=tmp_path, token="cs_whatever",
    )  # fmt: skip
    assert ran.code == 2
    assert "external_id" in ran.stderr
    missing = script(
        "sync_phone_book.py", tmp_path / "nope.csv", "--account", "A", cwd=tmp_path, token="cs_x"
    )
    assert missing.code == 2
    assert "nope.csv" in missing.stderr
    assert "Traceback" not in ran.stderr + missing.stderr


# ---------------------------------------------------------------- what every script shares


def script_args(name: str, tmp_path: Path) -> list[str]:
    if name == "sync_phone_book.py":
        book = tmp_path / "one.csv"
        book.write_text("external_id,first_name\np-1,Ada\n", encoding="utf-8")
        return [str(book), "--account", "A phone"]
    return []


@pytest.mark.parametrize("name", SCRIPTS)
def test_every_script_needs_a_token_and_says_so(name: str, tmp_path: Path) -> None:
    ran = script(name, *script_args(name, tmp_path), cwd=tmp_path)
    assert ran.code == 2
    assert "CONTACTS_TOKEN" in ran.stderr
    assert "Traceback" not in ran.stderr


@pytest.mark.parametrize("name", SCRIPTS)
def test_every_script_explains_itself(name: str, tmp_path: Path) -> None:
    ran = script(name, "--help", cwd=tmp_path)
    assert ran.code == 0
    assert "--url" in ran.stdout
    assert "--token" in ran.stdout
    assert "Example:" in ran.stdout


@pytest.mark.parametrize("name", SCRIPTS)
def test_every_script_fails_cleanly_when_the_server_is_unreachable(
    name: str, tmp_path: Path
) -> None:
    url = "http://127.0.0.1:9/graphql"  # the discard port: nothing listens there
    ran = script(name, *script_args(name, tmp_path), "--url", url, cwd=tmp_path, token="cs_x")
    assert ran.code == 1, ran.stdout + ran.stderr
    assert "Cannot talk to the API" in ran.stderr
    assert url in ran.stderr
    assert "Traceback" not in ran.stderr


def test_every_script_rejects_an_unknown_token_through_the_server(
    server: DemoServer, tmp_path: Path
) -> None:
    for name in SCRIPTS:
        args = [*script_args(name, tmp_path), "--url", server.url]
        ran = script(name, *args, cwd=tmp_path, token="cs_not-a-token")
        assert ran.code == 1, (name, ran.stdout, ran.stderr)
        assert "UNAUTHENTICATED" in ran.stderr, name
        assert "Traceback" not in ran.stderr, name


def test_a_script_told_to_slow_down_waits_as_the_server_says_and_finishes(
    tmp_path: Path,
) -> None:
    # Two requests a second: the dry run's listing and its delete preview run into 429s,
    # which call() waits out (Retry-After) instead of failing.
    limits = {"RATE_LIMIT_PER_MINUTE": "120", "RATE_LIMIT_BURST": "2", "LOG_LEVEL": "INFO"}
    with demo_server(tmp_path, **limits) as limited:
        runs = [
            script("purge_archive.py", "--url", limited.url, cwd=tmp_path, token=limited.token)
            for _ in range(2)
        ]
        refused = [line for line in limited.stderr.lines if '"status": 429' in line]
    for run in runs:
        assert run.code == 0, run.stderr
        assert "Archived People:" in run.stdout
    assert refused, "the server never said 429: the test did not test the retry"
