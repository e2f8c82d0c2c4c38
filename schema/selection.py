"""A ContactSelection as the domain's list of targets, with the contract's limits."""

from __future__ import annotations

from schema.context import Info
from schema.inputs import ContactSelection, criteria_from
from server import ids
from server.directory import (
    AudienceKind,
    Target,
    built_in_audience,
    distinct_targets,
    find_audience,
    select_audience,
)
from server.errors import BadUserInput


def contact_global_id(pk: int) -> str:
    return ids.encode("Contact", pk)


async def resolve_selection(info: Info, selection: ContactSelection) -> list[Target]:
    settings = info.context.settings
    workspace_id = info.context.viewer.workspace_id
    if selection.ids is not None:
        if selection.audience_id is not None or selection.filter is not None:
            raise BadUserInput("Select contacts by 'ids' or by 'audienceId'/'filter', not both.")
        if selection.except_ids:
            raise BadUserInput("'exceptIds' narrows an audience selection; drop it with 'ids'.")
        if len(selection.ids) > settings.max_ids:
            raise BadUserInput(
                f"At most {settings.max_ids} ids per call; "
                f"select by audience for more, or split the call."
            )
        decoded = [ids.decode(raw, "Contact") for raw in selection.ids]
        return distinct_targets(list(selection.ids), decoded)
    if selection.audience_id is None and selection.filter is None:
        raise BadUserInput("Give 'ids', or an 'audienceId' and/or a 'filter'.")
    if selection.audience_id is not None:
        key = ids.decode_any(selection.audience_id)
        audience = (
            await find_audience(workspace_id, key[1])
            if key is not None and key[0] == "Audience"
            else None
        )
        if audience is None:
            raise BadUserInput(f"No audience with the ID '{selection.audience_id}'.")
    else:
        audience = built_in_audience(AudienceKind.ALL_PEOPLE)
    except_pks = [
        pk for pk in (ids.decode(raw, "Contact") for raw in selection.except_ids or ()) if pk
    ]
    return await select_audience(
        workspace_id,
        audience,
        criteria_from(selection.filter),
        except_pks,
        settings.max_selection,
        contact_global_id,
    )
