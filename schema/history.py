"""A contact's interactions, newest first, in pages."""

from __future__ import annotations

from datetime import datetime

from tortoise.expressions import Q

from schema.context import Info
from schema.types import Interaction, InteractionConnection, InteractionEdge, PageInfo
from server import ids
from server.directory import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from server.errors import BadUserInput
from server.models import Interaction as InteractionRow


def _cursor(row: InteractionRow) -> str:
    return ids.encode("InteractionCursor", f"{row.occurred_at.isoformat()}|{row.id}")


def _after(cursor: str) -> Q:
    decoded = ids.decode_any(cursor)
    try:
        if decoded is None or decoded[0] != "InteractionCursor":
            raise ValueError
        moment, _, pk = decoded[1].rpartition("|")
        occurred_at, key = datetime.fromisoformat(moment), int(pk)
    except ValueError:
        raise BadUserInput("The cursor is not valid for this list.") from None
    return Q(occurred_at__lt=occurred_at) | Q(occurred_at=occurred_at, id__lt=key)


async def interaction_page(
    info: Info, contact_id: int, first: int | None, after: str | None
) -> InteractionConnection:
    size = DEFAULT_PAGE_SIZE if first is None else first
    if size < 0 or size > MAX_PAGE_SIZE:
        raise BadUserInput(f"'first' must be between 0 and {MAX_PAGE_SIZE}.")
    workspace_id = info.context.viewer.workspace_id
    base = InteractionRow.filter(workspace_id=workspace_id, contact_id=contact_id)
    query = base.filter(_after(after)) if after else base
    rows = await query.order_by("-occurred_at", "-id").limit(size + 1)
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
        total_count=await base.count(),
    )
