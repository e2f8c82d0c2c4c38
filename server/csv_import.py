"""The CSV import: a file read as a stream, committed in batches through the sync engine.

Memory stays flat whatever the file's size: bytes are decoded incrementally, split into
lines, parsed by the `csv` module one record at a time, and handed to `sync.bring_in` a
batch at a time, each batch in its own transaction. So a crash loses at most the batch in
flight, and importing the same file again is safe: rows already imported match their
contacts and come back unchanged.

Before anything is written, the whole file is read once to check it (size, encoding, CSV
syntax, header): a file that cannot be imported changes nothing.
"""

from __future__ import annotations

import asyncio
import codecs
import csv
import logging
import re
from collections import deque
from collections.abc import AsyncGenerator, Callable, Iterator, Sequence
from contextlib import aclosing
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

from server.errors import BadUserInput, DomainError
from server.models import Workspace
from server.policy import Origin, SourceKind
from server.sync import (
    CSV_ACCOUNT,
    TEXT_COLUMNS,
    Counts,
    ImportResult,
    IncomingContact,
    RowError,
    Source,
    bring_in,
    validate_row,
)

COLUMNS = ("first_name", "last_name", "email", "phone", "company", "title", "tags")
# The cell separator for several emails, phones or tags.
SEPARATOR = ";"
# Rows per transaction.
BATCH_ROWS = 1_000
READ_SIZE = 64 * 1024
MB = 1024 * 1024
# One record (a row, quoted line breaks included) longer than this is not a contact: most
# likely a quote that is never closed.
MAX_RECORD_CHARS = 1_000_000
# The report lists this many bad rows at most (the counts cover every row).
MAX_ROW_ERRORS = 1_000
# Error field names as the file names them.
FIELD_NAMES = {
    "firstName": "first_name",
    "lastName": "last_name",
    "emails": "email",
    "phones": "phone",
    "tagNames": "tags",
}
_LINE_END = re.compile(r"\r\n|\r|\n")


logger = logging.getLogger("contacts_server.errors")


class CsvFileError(BadUserInput):
    """The file as a whole cannot be imported; the message says why, for a person."""


class ImportInterrupted(DomainError):
    """The import failed after some batches were committed: it says which rows were saved,
    never that nothing was. Importing the file again is safe (rows already in match)."""

    code = "IMPORT_INTERRUPTED"

    def __init__(self, saved: Progress) -> None:
        counts = saved.counts
        super().__init__(
            f"The import stopped after row {saved.rows:,}: the rows up to it were saved "
            f"({counts.created:,} created, {counts.updated:,} updated, "
            f"{counts.unchanged:,} unchanged), the rest were not. Import the same file again "
            "to finish: the rows already in are matched, not duplicated."
        )
        self.saved = saved


ByteStream = Callable[[], AsyncGenerator[bytes, None]]


@dataclass(frozen=True, slots=True)
class Progress:
    """Where an import is: after each committed batch, and at the end."""

    rows: int
    bytes_read: int
    total_bytes: int | None
    counts: Counts


ProgressCallback = Callable[[Progress], None]


class _Readable(Protocol):
    async def read(self, size: int = -1) -> bytes: ...

    async def seek(self, offset: int) -> None: ...


# ---------------------------------------------------------------- byte sources


def file_source(path: Path) -> ByteStream:
    """A file on disk, read in chunks off the event loop (each call opens it afresh)."""

    async def chunks() -> AsyncGenerator[bytes, None]:
        handle = await asyncio.to_thread(path.open, "rb")
        try:
            while chunk := await asyncio.to_thread(handle.read, READ_SIZE):
                yield chunk
        finally:
            await asyncio.to_thread(handle.close)

    return chunks


def upload_source(upload: _Readable) -> ByteStream:
    """An uploaded file (Starlette's UploadFile: spooled to disk, so it can be read twice)."""

    async def chunks() -> AsyncGenerator[bytes, None]:
        await upload.seek(0)
        while chunk := await upload.read(READ_SIZE):
            yield chunk

    return chunks


# ---------------------------------------------------------------- reading


class _Lines:
    """Decoded text in, complete lines out (ends kept, as csv wants them: newline='')."""

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8-sig")(errors="strict")
        self._tail = ""
        self.bytes_read = 0

    def feed(self, data: bytes, *, final: bool = False) -> list[str]:
        try:
            text = self._decoder.decode(data, final=final)
        except UnicodeDecodeError as error:
            at = self.bytes_read + error.start
            raise CsvFileError(
                f"The file is not UTF-8 text (an invalid byte at position {at:,}): "
                "save it as 'CSV UTF-8' and import it again."
            ) from None
        self.bytes_read += len(data)
        buffer = self._tail + text
        lines: list[str] = []
        start = 0
        for found in _LINE_END.finditer(buffer):
            if found.group() == "\r" and found.end() == len(buffer) and not final:
                break  # perhaps the first half of a "\r\n"
            lines.append(buffer[start : found.end()])
            start = found.end()
        self._tail = buffer[start:]
        if final and self._tail:
            lines.append(self._tail)
            self._tail = ""
        if len(self._tail) > MAX_RECORD_CHARS:
            raise CsvFileError(
                f"A line is longer than {MAX_RECORD_CHARS:,} characters: this is not a CSV "
                "file of contacts."
            )
        return lines


class _NeedMore(Exception):
    """The csv reader asked for a line that has not arrived yet."""


class _Feed(Iterator[str]):
    """The csv reader's input: lines as they arrive, re-read when a record was cut short."""

    def __init__(self) -> None:
        self.ready: deque[str] = deque()
        self.taken: list[str] = []  # the lines of the record being parsed
        self.taken_chars = 0
        self.ended = False

    def __next__(self) -> str:
        if not self.ready:
            if self.ended:
                raise StopIteration
            raise _NeedMore
        line = self.ready.popleft()
        self.taken.append(line)
        self.taken_chars += len(line)
        return line

    def record_done(self) -> None:
        self.taken.clear()
        self.taken_chars = 0

    def rewind(self) -> None:
        """Put the lines of a record cut short back, to parse it again with more lines."""
        if self.taken_chars > MAX_RECORD_CHARS:
            raise CsvFileError(
                f"A row is longer than {MAX_RECORD_CHARS:,} characters: most likely a quote "
                "that is never closed."
            )
        self.ready.extendleft(reversed(self.taken))
        self.record_done()


class ReadCounter:
    """How many bytes of the file have been read so far."""

    bytes_read = 0


async def records(
    stream: AsyncGenerator[bytes, None],
    max_bytes: int | None,
    counter: ReadCounter | None = None,
) -> AsyncGenerator[list[str], None]:
    """The file's records (the header first), each a list of cells; CsvFileError if bad.

    Blank lines come out as empty records, so that record numbers stay row numbers.
    """
    counter = counter or ReadCounter()
    lines = _Lines()
    feed = _Feed()
    reader = csv.reader(feed, strict=True)
    number = 0

    def parsed() -> Iterator[list[str]]:
        nonlocal number
        while feed.ready:
            try:
                record = next(reader)
            except _NeedMore:
                feed.rewind()
                return
            except StopIteration:
                return
            except csv.Error as error:
                raise CsvFileError(
                    f"The file is not valid CSV at row {number + 1:,}: {error}."
                ) from None
            feed.record_done()
            number += 1
            yield record

    async with aclosing(stream):
        async for chunk in stream:
            if max_bytes is not None and lines.bytes_read + len(chunk) > max_bytes:
                raise CsvFileError(too_large_message(max_bytes))
            feed.ready.extend(lines.feed(chunk))
            counter.bytes_read = lines.bytes_read
            for record in parsed():
                yield record
    feed.ready.extend(lines.feed(b"", final=True))
    feed.ended = True
    for record in parsed():
        yield record


def too_large_message(max_bytes: int) -> str:
    return (
        f"The file is larger than {max_bytes / MB:,.0f} MB, the most this server "
        "imports at once (MAX_UPLOAD_MB): split it into smaller files."
    )


def header_columns(header: Sequence[str]) -> dict[str, int]:
    """Known column -> position, matched case-insensitively; unknown columns are ignored."""
    columns: dict[str, int] = {}
    for position, raw in enumerate(header):
        name = re.sub(r"[\s\-]+", "_", raw.strip().casefold())
        if name not in COLUMNS:
            continue
        if name in columns:
            raise CsvFileError(f"The column '{name}' appears twice in the header row.")
        columns[name] = position
    if not columns:
        raise CsvFileError(
            f"The header row (the first row) names none of the columns {', '.join(COLUMNS)}."
        )
    return columns


def _cells(record: Sequence[str], columns: dict[str, int]) -> dict[str, str]:
    return {
        name: record[position].strip() if position < len(record) else ""
        for name, position in columns.items()
    }


def _split(cell: str) -> list[str]:
    return [part.strip() for part in cell.split(SEPARATOR) if part.strip()]


def _row(phone_region: str, number: int, cells: dict[str, str]) -> IncomingContact | RowError:
    given: dict[str, Any] = {column: cells.get(column) for column in TEXT_COLUMNS}
    given["emails"] = _split(cells.get("email", ""))
    given["phones"] = _split(cells.get("phone", ""))
    given["tag_names"] = _split(cells.get("tags", ""))
    # A row with only a name is found again on a re-import by its name.
    return validate_row(phone_region, number, given, field_names=FIELD_NAMES, key_by_name=True)


async def check_file(stream: ByteStream, max_bytes: int | None) -> int:
    """Read the whole file once without writing anything: CsvFileError if it is unusable.

    Returns the number of rows, the header included.
    """
    count = 0
    async with aclosing(records(stream(), max_bytes)) as reading:
        async for record in reading:
            if count == 0:
                header_columns(record)
            count += 1
    if count == 0:
        raise CsvFileError(
            f"The file is empty: its first row must name the columns ({', '.join(COLUMNS)})."
        )
    return count


async def import_csv(
    workspace_id: int,
    stream: ByteStream,
    *,
    max_bytes: int | None,
    total_bytes: int | None = None,
    on_progress: ProgressCallback | None = None,
    batch_rows: int = BATCH_ROWS,
    check_first: bool = True,
) -> ImportResult:
    """Import a CSV file (CONTRACT.md's format) into the workspace; see the module.

    `max_bytes`: the size limit (MAX_UPLOAD_MB for uploads; None for none).

    `stream` is called once per read: twice, unless `check_first` is False (for a stream
    that cannot be read again; then a bad file stops the import after the batches before
    it were committed).
    """
    if max_bytes is not None and total_bytes is not None and total_bytes > max_bytes:
        raise CsvFileError(too_large_message(max_bytes))
    if check_first:
        await check_file(stream, max_bytes)
    workspace = await Workspace.get(id=workspace_id)
    source = Source(Origin.CSV, SourceKind.CSV, CSV_ACCOUNT)
    result = ImportResult()
    batch: list[IncomingContact] = []
    columns: dict[str, int] | None = None
    number = 0
    counter = ReadCounter()

    def keep(errors: Sequence[RowError]) -> None:
        room = max(MAX_ROW_ERRORS - len(result.row_errors), 0)
        result.row_errors.extend(errors[:room])
        result.row_errors_unlisted += max(len(errors) - room, 0)

    saved: Progress | None = None

    async def commit() -> None:
        nonlocal saved
        try:
            landed = await bring_in(workspace, source, batch)
        except Exception as error:
            if saved is None or isinstance(error, DomainError):
                raise  # nothing committed yet, or a refusal that says what it is itself
            logger.error("CSV import interrupted", exc_info=error)
            raise ImportInterrupted(saved) from error
        result.counts.add(landed.counts)
        keep(landed.row_errors)
        batch.clear()
        saved = Progress(number, counter.bytes_read, total_bytes, replace(result.counts))
        if on_progress is not None:
            on_progress(saved)

    async with aclosing(records(stream(), max_bytes, counter)) as reading:
        async for record in reading:
            number += 1
            if columns is None:
                columns = header_columns(record)
                continue
            cells = _cells(record, columns)
            if not any(cells.values()):
                continue  # a blank row
            checked = _row(workspace.phone_region, number, cells)
            if isinstance(checked, RowError):
                keep([checked])
                continue
            batch.append(checked)
            if len(batch) >= batch_rows:
                await commit()
    if columns is None:
        raise CsvFileError(
            f"The file is empty: its first row must name the columns ({', '.join(COLUMNS)})."
        )
    await commit()
    result.row_errors.sort(key=lambda error: error.row)
    return result
