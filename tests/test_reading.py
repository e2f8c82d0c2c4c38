"""`server.reading.models_of` reads the models Tortoise itself reads, relations shared."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import World, count_statements
from tortoise.models import Model

from server.directory import Order, OrderField, contacts_matching, ordered
from server.models import Contact
from server.policy import StageCategory
from server.reading import models_of

# What Tortoise records on a model about where it came from.
RECORDED = ("_partial", "_saved_in_db", "_custom_generated_pk", "_await_when_save")


def fields_of(model: Model | None) -> dict[str, Any] | None:
    """A model's attributes but its fetched relations, with each value's type and zone."""
    if model is None:
        return None
    return {
        name: (value, type(value), getattr(value, "tzinfo", None))
        for name, value in vars(model).items()
        if not name.startswith("_") or name in RECORDED
    }


def described(contact: Contact, relations: tuple[str, ...]) -> dict[str, Any]:
    return {
        "fields": fields_of(contact),
        "never_archived": getattr(contact, "never_archived", None),
        **{name: fields_of(getattr(contact, f"_{name}", None)) for name in relations},
    }


async def people(world: World) -> None:
    for n, (stage, assigned, archived) in enumerate(
        [
            (StageCategory.LEAD, True, False),
            (StageCategory.LEAD, False, False),
            (None, True, True),
            (StageCategory.PAST, False, True),
            (None, False, False),
            (StageCategory.LEAD, True, False),
        ]
    ):
        await world.contact(
            f"P{n}",
            "Reader",
            emails=[f"p{n}@example.com"],
            stage=stage,
            assignee=world.member if assigned else None,
            archived=archived,
        )


@pytest.mark.parametrize("field", list(OrderField))
@pytest.mark.parametrize("descending", [False, True])
@pytest.mark.parametrize("relations", [("stage", "assignee"), ("stage",), ("assignee",)])
async def test_the_models_read_are_those_tortoise_reads(
    world: World, field: OrderField, descending: bool, relations: tuple[str, ...]
) -> None:
    await people(world)
    query = ordered(
        contacts_matching(world.workspace.id).select_related(*relations),
        Order(field, descending),
    ).limit(5)
    ours = await models_of(query)
    theirs = await query
    assert [described(c, relations) for c in ours] == [described(c, relations) for c in theirs]
    assert len(ours) == 5
    assert all(isinstance(contact, Contact) for contact in ours)


async def test_contacts_with_the_same_stage_or_assignee_share_its_model(world: World) -> None:
    await people(world)
    by_name = Order(OrderField.NAME)
    query = contacts_matching(world.workspace.id).select_related("stage", "assignee")
    with count_statements() as log:
        rows = await models_of(ordered(query, by_name))
    assert log.count == 1
    names = [row.first_name for row in rows]
    assert names == ["P0", "P1", "P2", "P3", "P4", "P5"]
    first, second, third = rows[0], rows[1], rows[2]
    assert first.stage is second.stage is rows[5].stage
    assert first.stage is not None
    assert first.stage.category == StageCategory.LEAD
    assert first.assignee is third.assignee is rows[5].assignee
    assert second.assignee is None
    assert third.stage is None
    # Tortoise's own read makes a model per row.
    theirs = await ordered(query, by_name)
    assert theirs[0].stage is not theirs[1].stage


async def test_an_empty_page_and_a_query_without_relations_read_as_tortoise_reads(
    world: World,
) -> None:
    query = ordered(contacts_matching(world.workspace.id), Order())
    assert await models_of(query.select_related("stage")) == []
    await people(world)
    plain = await models_of(query)
    assert [fields_of(c) for c in plain] == [fields_of(c) for c in await query]
