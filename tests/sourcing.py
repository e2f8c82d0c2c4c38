"""Helpers shared by the tests of sync, CSV import, logged interactions and suppressions."""

from __future__ import annotations

import json
from typing import Any

import httpx
from conftest import GraphQL, Person, World, gid

from server.models import Contact

REPORT = """
created updated unchanged keptArchived suppressed
rowErrors { row errors { field message } }
"""

SYNC = f"""
mutation Sync($input: SyncContactsInput!) {{
  syncContacts(input: $input) {{ {REPORT} }}
}}
"""

IMPORT = f"""
mutation Import($file: Upload!) {{
  importContactsCsv(file: $file) {{ {REPORT} }}
}}
"""

ARCHIVE = """
mutation Archive($ids: [ID!]!) {
  archiveContacts(input: {selection: {ids: $ids}}) { succeeded results { __typename } }
}
"""

DELETE = """
mutation Delete($ids: [ID!]!, $preventResync: Boolean!) {
  deleteContacts(input: {selection: {ids: $ids}, preventResync: $preventResync}) {
    succeeded results { __typename }
  }
}
"""

CREATE = """
mutation Create($input: ContactInput!) {
  createContact(input: $input) {
    __typename
    ... on ContactCreated { contact { id emails phones status } }
    ... on InvalidContactInput { errors { field message } }
  }
}
"""

LOG = """
mutation Log($input: LogInteractionInput!) {
  logInteraction(input: $input) {
    __typename
    ... on InteractionLogged {
      contactCreated
      interaction { id kind direction occurredAt subject }
      contact { id status emails phones interactions { totalCount } }
    }
    ... on InteractionSuppressed { reason }
    ... on InvalidContactInput { errors { field message } }
  }
}
"""


def counts(report: dict[str, Any]) -> dict[str, int]:
    """The report's counts, without rowErrors."""
    return {key: value for key, value in report.items() if key != "rowErrors"}


def expect(
    created: int = 0,
    updated: int = 0,
    unchanged: int = 0,
    kept_archived: int = 0,
    suppressed: int = 0,
) -> dict[str, int]:
    return {
        "created": created,
        "updated": updated,
        "unchanged": unchanged,
        "keptArchived": kept_archived,
        "suppressed": suppressed,
    }


async def sync(
    gql: GraphQL,
    person: Person,
    contacts: list[dict[str, Any]],
    *,
    source: str = "PHONE",
    account: str = "Ada's iPhone",
) -> dict[str, Any]:
    data = await gql(
        SYNC,
        {"input": {"source": source, "sourceAccount": account, "contacts": contacts}},
        as_=person,
    )
    report: dict[str, Any] = data["syncContacts"]
    return report


async def archive(gql: GraphQL, world: World, *contacts: Contact) -> None:
    data = await gql(ARCHIVE, {"ids": [gid(c) for c in contacts]}, as_=world.member)
    assert data["archiveContacts"]["succeeded"] == len(contacts), data


async def delete(
    gql: GraphQL, world: World, *contacts: Contact, prevent_resync: bool = False
) -> None:
    """Archive (if needed) and delete the contacts, as an admin."""
    active = [c for c in contacts if c.status == "active"]
    if active:
        await archive(gql, world, *active)
    data = await gql(
        DELETE,
        {"ids": [gid(c) for c in contacts], "preventResync": prevent_resync},
        as_=world.admin,
    )
    assert data["deleteContacts"]["succeeded"] == len(contacts), data


async def upload(
    http: httpx.AsyncClient,
    token: str | None,
    content: bytes,
    name: str = "contacts.csv",
    query: str = IMPORT,
) -> httpx.Response:
    """importContactsCsv as a GraphQL multipart request (operations, map, file)."""
    operations = {"query": query, "variables": {"file": None}}
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return await http.post(
        "/graphql",
        data={"operations": json.dumps(operations), "map": json.dumps({"0": ["variables.file"]})},
        files={"0": (name, content, "text/csv")},
        headers=headers,
    )


async def import_csv(http: httpx.AsyncClient, person: Person, content: bytes) -> dict[str, Any]:
    """The report of an upload that must succeed."""
    response = await upload(http, person.token, content)
    body = response.json()
    assert response.status_code == 200, body
    assert "errors" not in body, body["errors"]
    report: dict[str, Any] = body["data"]["importContactsCsv"]
    return report


async def import_error(http: httpx.AsyncClient, person: Person, content: bytes) -> tuple[str, str]:
    """(code, message) of an upload that must fail."""
    response = await upload(http, person.token, content)
    body = response.json()
    assert response.status_code == 200, body
    assert body.get("errors"), body
    error = body["errors"][0]
    return error["extensions"]["code"], error["message"]


async def contacts_of(world: World) -> list[Contact]:
    return await Contact.filter(workspace_id=world.workspace.id).order_by("id")
