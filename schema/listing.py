"""Contact lists: the connection type, audiences, and the one function that pages them."""

from __future__ import annotations

import strawberry
from tortoise.queryset import QuerySet

from schema.context import Info
from schema.inputs import ContactFilter, ContactOrder, criteria_from, order_from
from schema.types import Contact, ContactEdge, Node, PageInfo
from server import ids
from server import models as m
from server.directory import Audience as AudienceValue
from server.directory import AudienceKind, Criteria, contacts_matching, page


@strawberry.type
class ContactConnection:
    edges: list[ContactEdge]
    page_info: PageInfo
    query: strawberry.Private[QuerySet[m.Contact]]

    @strawberry.field(description="All contacts that match, across pages.")
    async def total_count(self) -> int:
        return await self.query.count()


async def contact_connection(
    info: Info,
    narrowing: tuple[Criteria, ...],
    filter: ContactFilter | None,
    order_by: ContactOrder | None,
    first: int | None,
    after: str | None,
    last: int | None,
    before: str | None,
) -> ContactConnection:
    criteria = criteria_from(filter)
    if criteria is not None:
        narrowing = (*narrowing, criteria)
    query = contacts_matching(info.context.viewer.workspace_id, *narrowing)
    result = await page(
        query, order_from(order_by), first=first, after=after, last=last, before=before
    )
    edges = [
        ContactEdge(cursor=cursor, node=Contact.from_model(row))
        for row, cursor in zip(result.contacts, result.cursors, strict=True)
    ]
    return ContactConnection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=result.has_next_page,
            has_previous_page=result.has_previous_page,
            start_cursor=result.cursors[0] if result.cursors else None,
            end_cursor=result.cursors[-1] if result.cursors else None,
        ),
        query=query,
    )


@strawberry.type
class Audience(Node):
    name: str
    kind: AudienceKind
    value: strawberry.Private[AudienceValue]

    @strawberry.field
    async def contact_count(self, info: Info) -> int:
        return await contacts_matching(
            info.context.viewer.workspace_id, self.value.criteria
        ).count()

    @strawberry.field(description="The audience's contacts, narrowed by filter.")
    async def contacts(
        self,
        info: Info,
        filter: ContactFilter | None = None,
        order_by: ContactOrder | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> ContactConnection:
        return await contact_connection(
            info, (self.value.criteria,), filter, order_by, first, after, last, before
        )

    @classmethod
    def from_value(cls, value: AudienceValue) -> Audience:
        return cls(
            id=strawberry.ID(ids.encode("Audience", value.key)),
            name=value.name,
            kind=value.kind,
            value=value,
        )
