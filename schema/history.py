"""A contact's interactions, newest first, in pages.

Through the request's loaders: a page of contacts asking for their history costs one windowed
statement and one grouped count, however many contacts it holds.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from schema.context import Info
from schema.loaders import InteractionWindow
from schema.types import Interaction, InteractionConnection, InteractionEdge, PageInfo
from server import ids
from server.directory import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from server.errors import BadUserInput
from server.models import Interaction as InteractionRow

CURSOR_TYPE = "InteractionCursor"


def _cursor(row: InteractionRow) -> str:
    return ids.encode(CURSOR_TYPE, f"{row.occurred_at.astimezone(UTC).isoformat()}|{row.id}")


def _position(cursor: str) -> tuple[datetime, int]:
    """(occurred_at, id) of the row a cursor points at."""
    decoded = ids.decode_any(cursor)
    try:
        if decoded is None or decoded[0] != CURSOR_TYPE:
            raise ValueError
        moment, _, pk = decoded[1].rpartition("|")
        occurred_at, key = datetime.fromisoformat(moment), int(pk)
        if occurred_at.tzinfo is None:
            raise ValueError
    except ValueError:
        raise BadUserInput("The cursor is not valid for this list.") from None
    return occurred_at, key


async def interaction_page(
    info: Info, contact_id: int, first: int | None, after: str | None
) -> InteractionConnection:
    size = DEFAULT_PAGE_SIZE if first is None else first
    if size < 0 or size > MAX_PAGE_SIZE:
        raise BadUserInput(f"'first' must be between 0 and {MAX_PAGE_SIZE}.")
    position = _position(after) if after is not None else None
    loaders = info.context.loaders
    # One more row than asked for tells whether there is a next page.
    rows, total = await asyncio.gather(
        loaders.interactions.load(InteractionWindow(contact_id, size + 1, position)),
        loaders.interaction_count.load(contact_id),
    )
    has_next = len(rows) > size
    rows = rows[:size]
    cursors = [_cursor(row) for row in rows]
    return InteractionConnection(
        edges=[
            InteractionEdge(cursor=c, node=Interaction.from_model(r))
            for r, c in zip(rows, cursors, strict=True)
        ],
        page_info=PageInfo(
            has_next_page=has_next,
            has_previous_page=after is not None,
            start_cursor=cursors[0] if cursors else None,
            end_cursor=cursors[-1] if cursors else None,
        ),
        total_count=total,
    )
