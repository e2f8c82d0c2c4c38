"""importContactsCsv (GraphQL multipart upload) and the streaming CSV import behind it.

CONTRACT.md's CSV format and the CSV row of its sources table; a bad file changes nothing;
batches are committed as they go, so a crash loses at most the batch in flight and a re-run
is safe; memory stays within a fixed bound for a 100,000-row file.
"""

from __future__ import annotations

import asyncio
import gc
import os
import sys
import tracemalloc
import warnings
from collections.abc import AsyncGenerator
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import GraphQL, World, count_statements, refetch
from sourcing import counts, delete, expect, import_csv, import_error, sync, upload

from server import claims, csv_import, editing, handles, normalize
from server.app import create_app
from server.csv_import import CsvFileError, Progress, file_source, records
from server.models import Contact, ContactTag, Suppression, Tag, Workspace
from server.policy import ContactStatus
from server.settings import Settings
from server.sync import bring_in

MB = 1024 * 1024


def csv_bytes(*lines: str, newline: str = "\n") -> bytes:
    return (newline.join(lines) + newline).encode()


def stream_of(content: bytes, size: int = 1) -> csv_import.ByteStream:
    """The content in chunks of `size` bytes: every boundary falls somewhere awkward."""

    async def chunks() -> AsyncGenerator[bytes, None]:
        for start in range(0, len(content), size):
            yield content[start : start + size]

    return chunks


async def all_records(content: bytes, size: int = 1) -> list[list[str]]:
    return [r async for r in records(stream_of(content, size)(), max_bytes=10 * MB)]


async def names(world: World) -> set[tuple[str | None, str | None]]:
    rows = await Contact.filter(workspace_id=world.workspace.id).values_list(
        "first_name", "last_name"
    )
    return {(first, last) for first, last in rows}


async def tag_names(contact: Contact) -> set[str]:
    tag_ids = await ContactTag.filter(contact_id=contact.id).values_list("tag_id", flat=True)
    return {
        str(name) for name in await Tag.filter(id__in=list(tag_ids)).values_list("name", flat=True)
    }


# ---------------------------------------------------------------- the format, over HTTP


async def test_an_upload_creates_contacts_from_the_known_columns(
    gql: GraphQL, world: World
) -> None:
    content = csv_bytes(
        "First_Name,LAST_NAME, Email ,Phone,Company,Title,Tags,Notes",
        'Ada,Lovelace,"ada@example.com; Ada@Work.Example.com",(202) 555-0100,ACME,CTO,VIP;friends,'
        "ignored",
        "Grace,Hopper,,+44 20 7123 4567,,,,",
        ",,alan@example.com,,,,,",
    )
    report = await import_csv(gql.http, world.member, content)
    assert counts(report) == expect(created=3)
    assert report["rowErrors"] == []
    ada = await Contact.get(workspace_id=world.workspace.id, first_name="Ada")
    assert ada.emails == ["ada@example.com", "ada@work.example.com"]
    assert ada.phones == ["+12025550100"]
    assert (ada.company, ada.title, ada.source) == ("ACME", "CTO", "csv")
    assert await tag_names(ada) == {"VIP", "friends"}
    assert await handles.contact_ids_with(world.workspace.id, "email", "ada@work.example.com") == [
        ada.id
    ]
    assert await names(world) == {("Ada", "Lovelace"), ("Grace", "Hopper"), (None, None)}


async def test_the_authorization_header_alone_suffices_for_an_upload(
    gql: GraphQL, world: World
) -> None:
    # No CSRF-preventing header: tokens come by header only (CONTRACT.md, HTTP).
    response = await upload(gql.http, world.member.token, csv_bytes("first_name", "Ada"))
    assert response.status_code == 200, response.text
    assert response.json()["data"]["importContactsCsv"]["created"] == 1


async def test_an_upload_without_a_token_is_unauthenticated(gql: GraphQL, world: World) -> None:
    response = await upload(gql.http, None, csv_bytes("first_name", "Ada"))
    assert response.status_code == 401
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert await Contact.filter(workspace_id=world.workspace.id).count() == 0


async def test_a_viewer_may_not_import(gql: GraphQL, world: World) -> None:
    code, _ = await import_error(gql.http, world.viewer, csv_bytes("first_name", "Ada"))
    assert code == "FORBIDDEN"
    assert await Contact.filter(workspace_id=world.workspace.id).count() == 0
    # The refusal closed the spooled upload: nothing is left for the collector to warn of.
    with warnings.catch_warnings():
        warnings.simplefilter("error", ResourceWarning)
        gc.collect()


async def test_row_errors_count_the_header_as_row_one_and_the_others_land(
    gql: GraphQL, world: World
) -> None:
    content = csv_bytes(
        "first_name,last_name,email,phone,company,tags",
        "Ada,Lovelace,ada@example.com,,,",  # row 2
        "Bad,Email,not-an-email,,,",  # row 3
        '"Multi',  # row 4 spans two lines: one row
        'line",Name,,,,',
        "",  # row 5: blank
        ",,,,Only a company,",  # row 6
        "Grace,,grace@example.com;nope,,,",  # row 7
        "Alan,Turing,,12,,",  # row 8
        f"Tagged,Row,,,,{'x' * 101}",  # row 9
        "Last,Row,,+12025550100,,",  # row 10
    )
    report = await import_csv(gql.http, world.member, content)
    assert counts(report) == expect(created=3)
    errors = {e["row"]: [f["field"] for f in e["errors"]] for e in report["rowErrors"]}
    assert errors == {
        3: ["email[0]"],
        6: ["first_name"],
        7: ["email[1]"],
        8: ["phone[0]"],
        9: ["tags[0]"],
    }
    # Line breaks inside a name become spaces, as createContact does.
    assert await names(world) == {("Ada", "Lovelace"), ("Multi line", "Name"), ("Last", "Row")}


async def test_a_byte_order_mark_and_crlf_lines_are_fine(gql: GraphQL, world: World) -> None:
    content = b"\xef\xbb\xbf" + csv_bytes(
        "first_name,email", "Ada,ada@example.com", "Zoë,zoe@example.com", newline="\r\n"
    )
    report = await import_csv(gql.http, world.member, content)
    assert counts(report) == expect(created=2)
    assert await names(world) == {("Ada", None), ("Zoë", None)}


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ("first_name\nJos\xe9\n".encode("latin-1"), "UTF-8"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "UTF-8"),
        (b"", "empty"),
        (b"\xef\xbb\xbf", "empty"),
        (csv_bytes("name,mail,telephone", "Ada,a@example.com,1"), "none of the columns"),
        (csv_bytes("email,Email", "a@example.com,b@example.com"), "twice"),
        (csv_bytes("first_name,last_name", 'Ada,"Love"lace'), "not valid CSV at row 2"),
        (csv_bytes("first_name,last_name", 'Ada,"Lovelace', "Grace,Hopper"), "not valid CSV"),
    ],
    ids=[
        "latin-1",
        "binary",
        "empty",
        "only-a-bom",
        "no-known-column",
        "duplicate-column",
        "stray-quote",
        "unclosed-quote",
    ],
)
async def test_a_bad_file_is_a_clear_error_and_changes_nothing(
    gql: GraphQL, world: World, content: bytes, fragment: str
) -> None:
    # A good row first: it must not be written either.
    code, message = await import_error(gql.http, world.member, content)
    assert code == "BAD_USER_INPUT"
    assert fragment in message
    assert await Contact.filter(workspace_id=world.workspace.id).count() == 0


async def test_a_bad_row_after_many_batches_still_changes_nothing(world: World) -> None:
    lines = ["first_name,email"] + [f"P{n},p{n}@example.com" for n in range(50)] + ['x,"y']
    with pytest.raises(CsvFileError, match="not valid CSV"):
        await csv_import.import_csv(
            world.workspace.id,
            stream_of(csv_bytes(*lines), 7),
            max_bytes=MB,
            batch_rows=10,
        )
    assert await Contact.filter(workspace_id=world.workspace.id).count() == 0


async def test_a_file_over_max_upload_mb_is_refused_with_a_clear_error(
    settings: Settings, world: World
) -> None:
    app = create_app(settings.model_copy(update={"max_upload_mb": 1}), manage_database=False)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test"
    ) as http:
        row = "Ada,Lovelace,ada@example.com\n"
        content = ("first_name,last_name,email\n" + row * (MB // len(row) + 10)).encode()
        code, message = await import_error(http, world.member, content)
        assert code == "BAD_USER_INPUT"
        assert "1 MB" in message
        assert "MAX_UPLOAD_MB" in message
        # Just under the limit is fine.
        small = ("first_name,last_name,email\n" + row * 1000).encode()
        assert counts(await import_csv(http, world.member, small)) == expect(
            created=1, updated=0, unchanged=999
        )
    assert await Contact.filter(workspace_id=world.workspace.id).count() == 1


async def test_the_size_limit_holds_for_a_stream_of_unknown_size(world: World) -> None:
    content = csv_bytes("first_name", *(["Ada"] * 1000))
    with pytest.raises(CsvFileError, match="MAX_UPLOAD_MB"):
        await csv_import.import_csv(
            world.workspace.id, stream_of(content, 100), max_bytes=len(content) - 1
        )
    assert await Contact.filter(workspace_id=world.workspace.id).count() == 0


# ---------------------------------------------------------------- the sources table


async def test_csv_updates_an_archived_match_and_it_stays_archived(
    gql: GraphQL, world: World
) -> None:
    ada = await world.contact("Ada", None, emails=["ada@example.com"], archived=True)
    before = await refetch(ada)
    assert before is not None
    report = await import_csv(
        gql.http,
        world.member,
        csv_bytes("first_name,last_name,email,tags", "Ada,Lovelace,ada@example.com,vip"),
    )
    assert counts(report) == expect(updated=1, kept_archived=1)
    after = await refetch(ada)
    assert after is not None
    assert after.status == ContactStatus.ARCHIVED
    assert after.archived_at == before.archived_at
    assert after.last_name == "Lovelace"
    assert await tag_names(ada) == {"vip"}


async def test_delete_then_csv_creates_the_contact_again(gql: GraphQL, world: World) -> None:
    ada = await world.contact("Ada", None, emails=["ada@example.com"])
    await delete(gql, world, ada)
    report = await import_csv(
        gql.http, world.member, csv_bytes("first_name,email", "Ada,ada@example.com")
    )
    assert counts(report) == expect(created=1)
    again = await Contact.get(workspace_id=world.workspace.id)
    assert again.id != ada.id


async def test_delete_with_prevent_resync_then_csv_creates_it_again_and_lifts_the_suppression(
    gql: GraphQL, world: World
) -> None:
    ada = await world.contact("Ada", None, emails=["ada@example.com"], phones=["+12025550100"])
    other = await world.contact("Grace", None, emails=["grace@example.com"])
    await delete(gql, world, ada, other, prevent_resync=True)
    assert await Suppression.filter(workspace_id=world.workspace.id).count() == 3

    report = await import_csv(
        gql.http,
        world.member,
        csv_bytes("first_name,email,phone", "Ada,ada@example.com,202-555-0100"),
    )
    assert counts(report) == expect(created=1)
    # Ada's email and phone are no longer suppressed; Grace's email still is.
    assert await Suppression.filter(workspace_id=world.workspace.id).count() == 1
    ada_report = await sync(gql, world.member, [{"externalId": "1", "emails": ["ada@example.com"]}])
    assert counts(ada_report) == expect(unchanged=1)
    grace_report = await sync(
        gql, world.member, [{"externalId": "2", "emails": ["grace@example.com"]}]
    )
    assert counts(grace_report) == expect(suppressed=1)


# ---------------------------------------------------------------- batches, re-runs, progress


def people(count: int, start: int = 0) -> list[str]:
    return [
        f"First{n},Last{n},p{n}@example.com,+1202555{n % 10_000:04d},Co{n % 7},,t{n % 3}"
        for n in range(start, start + count)
    ]


HEADER = "first_name,last_name,email,phone,company,title,tags"


async def test_importing_the_same_file_again_brings_every_row_back_unchanged(
    world: World,
) -> None:
    content = csv_bytes(HEADER, *people(25), "Only,Name,,,,,", "Only,Name,,,,,", ",Surname,,,X,,")
    first = await csv_import.import_csv(
        world.workspace.id, stream_of(content, 4096), max_bytes=MB, batch_rows=10
    )
    # The two identical name-only rows are one contact.
    assert (first.counts.created, first.counts.unchanged) == (27, 1)
    total = await Contact.filter(workspace_id=world.workspace.id).count()
    with count_statements() as log:
        again = await csv_import.import_csv(
            world.workspace.id, stream_of(content, 4096), max_bytes=MB, batch_rows=10
        )
    assert (again.counts.created, again.counts.updated, again.counts.unchanged) == (0, 0, 28)
    assert await Contact.filter(workspace_id=world.workspace.id).count() == total
    writes = [
        s
        for s in log.statements
        if s.split(" ", 1)[0] in {"INSERT", "UPDATE", "DELETE"}
        # SQLite's claim takes the write lock and changes no row (server/claims.py).
        and not s.startswith(claims.SQLITE_WRITE_LOCK)
    ]
    assert writes == []


async def test_a_crash_loses_at_most_the_batch_in_flight_and_a_rerun_completes_it(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    content = csv_bytes(HEADER, *people(45))
    real = bring_in
    calls = 0

    async def crashing(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 3:
            raise ConnectionError("the database went away")
        return await real(*args, **kwargs)

    monkeypatch.setattr(csv_import, "bring_in", crashing)
    with pytest.raises(csv_import.ImportInterrupted) as interrupted:
        await csv_import.import_csv(
            world.workspace.id, stream_of(content, 1000), max_bytes=MB, batch_rows=10
        )
    assert isinstance(interrupted.value.__cause__, ConnectionError)
    assert interrupted.value.saved.rows == 21  # the header and 20 people
    # Batches 1 and 2 were committed; batch 3 (in flight) left nothing behind.
    assert await Contact.filter(workspace_id=world.workspace.id).count() == 20

    monkeypatch.setattr(csv_import, "bring_in", real)
    result = await csv_import.import_csv(
        world.workspace.id, stream_of(content, 1000), max_bytes=MB, batch_rows=10
    )
    assert (result.counts.created, result.counts.unchanged) == (25, 20)
    assert await Contact.filter(workspace_id=world.workspace.id).count() == 45


async def test_progress_is_reported_after_each_committed_batch(world: World) -> None:
    content = csv_bytes(HEADER, *people(25))
    seen: list[Progress] = []
    await csv_import.import_csv(
        world.workspace.id,
        stream_of(content, 100),
        max_bytes=MB,
        total_bytes=len(content),
        batch_rows=10,
        on_progress=seen.append,
    )
    assert [p.counts.created for p in seen][-1] == 25
    assert len(seen) == 3
    assert [p.bytes_read for p in seen] == sorted(p.bytes_read for p in seen)
    assert seen[-1].bytes_read == len(content)
    assert all(p.total_bytes == len(content) for p in seen)


# ---------------------------------------------------------------- the reader


async def test_records_survive_any_chunk_boundary() -> None:
    content = csv_bytes(
        "a,b",
        '"quoted, comma","two\r\nlines"',
        '"with ""quotes""",x',
        "",
        "last,row",
        newline="\r\n",
    )
    expected = [
        ["a", "b"],
        ["quoted, comma", "two\r\nlines"],
        ['with "quotes"', "x"],
        [],
        ["last", "row"],
    ]
    for size in (1, 2, 3, 5, 64 * 1024):
        assert await all_records(content, size) == expected, size


async def test_a_multibyte_character_split_across_chunks_is_decoded() -> None:
    content = "first_name\nZoë\n日本\n".encode()
    assert await all_records(content, 1) == [["first_name"], ["Zoë"], ["日本"]]


async def test_old_mac_line_ends_and_no_final_line_end_are_fine() -> None:
    assert await all_records(b"a,b\r1,2\r3,4", 1) == [["a", "b"], ["1", "2"], ["3", "4"]]


async def test_an_unclosed_quote_does_not_read_the_whole_file_into_memory() -> None:
    content = b'first_name\n"never closed\n' + b"x" * 64 + b"\n"
    with pytest.raises(CsvFileError):
        [r async for r in records(stream_of(content * 1, 8)(), max_bytes=10 * MB)]
    endless = b'first_name\n"' + b"y,\n" * (csv_import.MAX_RECORD_CHARS // 3 + 10)
    with pytest.raises(CsvFileError, match=r"not valid CSV|never closed|longer than"):
        [r async for r in records(stream_of(endless, 64 * 1024)(), max_bytes=10 * MB)]


# ---------------------------------------------------------------- 100,000 rows


def test_the_caches_of_normalized_values_are_bounded() -> None:
    # Bounded by construction, so the import's memory test below leaves them out.
    for cached in (normalize.normalize_email, normalize.normalize_phone):
        assert cached.cache_info().maxsize == normalize.CACHED_VALUES <= 20_000


async def test_a_100000_row_file_is_imported_within_a_fixed_memory_bound(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The caches of normalized values fill up to their fixed size (see the test above);
    # what must not grow with the file is everything else.
    monkeypatch.setattr(editing, "normalize_email", normalize.normalize_email.__wrapped__)
    monkeypatch.setattr(editing, "normalize_phone", normalize.normalize_phone.__wrapped__)
    path = tmp_path / "big.csv"
    rows = 100_000
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write(HEADER + "\n")
        for n in range(rows):
            # Every row a name, company, title and tag; one in ten an email, one in ten a
            # phone (email-validator is slow under tracemalloc: every row would take minutes).
            email = f"person{n}@example.com" if n % 10 == 0 else ""
            phone = f"+1 202 {n // 10_000:03d} {n % 10_000:04d}" if n % 10 == 5 else ""
            out.write(
                f"First{n},Last{n},{email},{phone},Company {n % 100},Title {n % 5},tag{n % 10}\n"
            )
    size = path.stat().st_size
    assert size > 4 * MB

    peaks: list[int] = []

    def checkpoint(progress: Progress) -> None:
        # The peak of each stretch of 25,000 rows, measured apart: a reader or a batch that
        # kept rows would make each stretch's peak higher than the one before.
        if progress.rows >= 25_000 * (len(peaks) + 1):
            peaks.append(tracemalloc.get_traced_memory()[1])
            tracemalloc.reset_peak()

    tracemalloc.start()
    try:
        result = await csv_import.import_csv(
            world.workspace.id,
            file_source(path),
            max_bytes=50 * MB,
            total_bytes=size,
            on_progress=checkpoint,
        )
        peaks.append(tracemalloc.get_traced_memory()[1])
    finally:
        tracemalloc.stop()

    assert result.counts.created == rows
    assert result.row_errors == []
    assert await Contact.filter(workspace_id=world.workspace.id).count() == rows
    # A fixed bound, well under the file's own size: a batch of 1,000 rows at a time.
    assert len(peaks) == 5
    assert max(peaks) < 4 * MB, [f"{peak / MB:.1f} MB" for peak in peaks]
    # Independent of the file's size: the last stretch needs no more than the first.
    assert peaks[-2] < peaks[0] + MB / 2, [f"{peak / MB:.1f} MB" for peak in peaks]


# ---------------------------------------------------------------- contacts-server import


async def contacts_server(database_url: str, cwd: Path, *args: str) -> tuple[int, str, str]:
    """Run the installed command; (exit code, stdout, stderr)."""
    command = Path(sys.executable).with_name("contacts-server")
    env = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
    process = await asyncio.create_subprocess_exec(
        str(command),
        "--database-url",
        database_url,
        *args,
        cwd=cwd,  # away from the repository's .env
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_the_import_command_reports_counts_and_refused_rows_then_is_safe_to_rerun(
    database: str, tmp_path: Path
) -> None:
    code, out, err = await contacts_server(
        database,
        tmp_path,
        "create-user",
        "--workspace",
        "Cli Co",
        "--email",
        "ada@cli.example.com",
        "--name",
        "Ada",
        "--role",
        "admin",
    )
    assert code == 0, err
    path = tmp_path / "people.csv"
    path.write_bytes(
        csv_bytes(
            "First_Name,Email,Phone,Notes",
            "Ada,ada@example.com,,x",
            "Bad,not-an-email,,",
            "Grace,,+1 202 555 0100,",
        )
    )

    code, out, err = await contacts_server(
        database, tmp_path, "import", str(path), "--workspace", "Cli Co"
    )
    assert code == 0, err
    assert "2 created, 0 updated, 0 unchanged, 1 row(s) refused" in out
    assert "Row 3: email[0]:" in out
    assert "Importing people.csv" in err  # the progress bar (not a terminal: its label)
    workspace = await Workspace.get(name="Cli Co")
    assert await Contact.filter(workspace_id=workspace.id).count() == 2

    code, out, err = await contacts_server(
        database, tmp_path, "import", str(path), "--workspace", "Cli Co"
    )
    assert code == 0, err
    assert "0 created, 0 updated, 2 unchanged, 1 row(s) refused" in out
    assert await Contact.filter(workspace_id=workspace.id).count() == 2


@pytest.mark.parametrize(
    ("name", "content", "workspace", "fragment"),
    [
        ("latin1.csv", "first_name\nJos\xe9\n".encode("latin-1"), "Cli Co", "not UTF-8"),
        ("broken.csv", b'first_name\n"Ada\n', "Cli Co", "not valid CSV"),
        ("missing.csv", None, "Cli Co", "Cannot read"),
        ("people.csv", b"first_name\nAda\n", "No Such Co", "No workspace is called"),
    ],
    ids=["encoding", "malformed", "missing-file", "unknown-workspace"],
)
async def test_the_import_command_fails_in_one_clear_line_and_writes_nothing(
    database: str,
    tmp_path: Path,
    name: str,
    content: bytes | None,
    workspace: str,
    fragment: str,
) -> None:
    from server.auth import ensure_workspace

    ensured = await ensure_workspace("Cli Co")
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    code, _out, err = await contacts_server(
        database, tmp_path, "import", str(path), "--workspace", workspace
    )
    assert code == 1
    errors = [line for line in err.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, err
    assert fragment in errors[0]
    assert "Traceback" not in err
    assert await Contact.filter(workspace_id=ensured.id).count() == 0


REFUSALS = """
mutation Import($file: Upload!) {
  importContactsCsv(file: $file) { created rowErrorCount rowErrorsTruncated rowErrors { row } }
}
"""


async def test_a_file_with_more_bad_rows_than_listed_gives_their_total_and_says_it_was_cut(
    gql: GraphQL, world: World
) -> None:
    bad = [f"Bad{n},Row,not-an-email-{n}" for n in range(csv_import.MAX_ROW_ERRORS + 5)]
    content = csv_bytes("first_name,last_name,email", "Good,Row,good@example.com", *bad)
    response = await upload(gql.http, world.member.token, content, query=REFUSALS)
    report = response.json()["data"]["importContactsCsv"]
    assert report["created"] == 1
    assert report["rowErrorCount"] == csv_import.MAX_ROW_ERRORS + 5
    assert report["rowErrorsTruncated"] is True
    rows = [error["row"] for error in report["rowErrors"]]
    assert rows == list(range(3, 3 + csv_import.MAX_ROW_ERRORS))


async def test_a_file_with_few_bad_rows_lists_them_all_and_says_nothing_was_cut(
    gql: GraphQL, world: World
) -> None:
    content = csv_bytes("first_name,email", "Ok,ok@example.com", "Bad,nope", "Worse,no")
    response = await upload(gql.http, world.member.token, content, query=REFUSALS)
    report = response.json()["data"]["importContactsCsv"]
    assert report == {
        "created": 1,
        "rowErrorCount": 2,
        "rowErrorsTruncated": False,
        "rowErrors": [{"row": 3}, {"row": 4}],
    }


async def test_the_import_command_gives_the_total_of_refused_rows_and_says_how_many_it_left_out(
    database: str, tmp_path: Path
) -> None:
    from server.auth import ensure_workspace

    await ensure_workspace("Cli Co")
    path = tmp_path / "bad.csv"
    extra = 3
    bad = [f"Bad{n},nope{n}" for n in range(csv_import.MAX_ROW_ERRORS + extra)]
    path.write_bytes(csv_bytes("first_name,email", *bad))
    code, out, err = await contacts_server(
        database, tmp_path, "import", str(path), "--workspace", "Cli Co"
    )
    assert code == 0, err
    assert f"0 created, 0 updated, 0 unchanged, {csv_import.MAX_ROW_ERRORS + extra} row(s)" in out
    assert sum(line.startswith("Row ") for line in out.splitlines()) == csv_import.MAX_ROW_ERRORS
    assert out.rstrip().endswith(f"... and {extra} more refused row(s), not listed.")


async def test_an_import_that_fails_midway_says_exactly_which_rows_it_saved_and_a_rerun_finishes(
    gql: GraphQL, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = [f"Person{n},person{n}@example.com" for n in range(2_500)]
    content = csv_bytes("first_name,email", *rows)
    real = bring_in
    calls = 0

    async def failing_second_batch(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise ConnectionResetError("the database went away at person1500@example.com")
        return await real(*args, **kwargs)

    monkeypatch.setattr(csv_import, "bring_in", failing_second_batch)
    code, message = await import_error(gql.http, world.member, content)
    assert code == "IMPORT_INTERRUPTED"
    assert message == (
        "The import stopped after row 1,001: the rows up to it were saved (1,000 created, "
        "0 updated, 0 unchanged), the rest were not. Import the same file again to finish: "
        "the rows already in are matched, not duplicated."
    )
    assert "nothing" not in message.lower()
    assert await Contact.filter(workspace_id=world.workspace.id).count() == 1_000

    monkeypatch.setattr(csv_import, "bring_in", real)
    report = await import_csv(gql.http, world.member, content)
    assert counts(report) == expect(created=1_500, unchanged=1_000)
    assert await Contact.filter(workspace_id=world.workspace.id).count() == 2_500


async def test_an_import_that_fails_before_its_first_batch_saved_nothing_and_says_only_that(
    gql: GraphQL, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def failing(*args: Any, **kwargs: Any) -> Any:
        raise ConnectionResetError("the database went away")

    monkeypatch.setattr(csv_import, "bring_in", failing)
    code, _ = await import_error(gql.http, world.member, csv_bytes("first_name", "Ada", "Grace"))
    assert code == "INTERNAL_SERVER_ERROR"
    assert await Contact.filter(workspace_id=world.workspace.id).count() == 0


async def test_cells_that_look_like_spreadsheet_formulas_are_stored_as_given(
    gql: GraphQL, world: World
) -> None:
    content = csv_bytes(
        "first_name,last_name,company",
        '"=cmd|\' /C calc\'!A0",Formula,"@SUM(1+1)"',
        "+Plus,-Minus,=HYPERLINK(x)",
    )
    report = await import_csv(gql.http, world.member, content)
    assert counts(report) == expect(created=2)
    stored = {
        (c.first_name, c.last_name, c.company)
        for c in await Contact.filter(workspace_id=world.workspace.id)
    }
    assert stored == {
        ("=cmd|' /C calc'!A0", "Formula", "@SUM(1+1)"),
        ("+Plus", "-Minus", "=HYPERLINK(x)"),
    }


def test_the_server_writes_no_csv_anywhere_so_no_formula_can_leave_it_unescaped() -> None:
    # CSV injection is a risk where a server writes CSV that a spreadsheet opens. Ours only
    # reads CSV; a writer added later must escape cells starting with = + - @ (and this
    # test must then check it).
    root = Path(__file__).resolve().parents[1]
    writers = [
        path.relative_to(root)
        for folder in ("server", "schema")
        for path in (root / folder).rglob("*.py")
        if "csv.writer" in path.read_text() or "DictWriter" in path.read_text()
    ]
    assert writers == []
