"""Fuzzing: every Query and Mutation field, generated from the schema the app serves.

hypothesis-graphql writes documents for one root field at a time (arguments included, with
real and forged IDs, hostile strings and dates); each goes to the real app, in-process,
with a real ADMIN token, into a workspace with data in it. A valid document must get a 200;
an invalid one (one schema violation, sent accepting application/graphql-response+json) a
400 without data, or a 200. In no answer may an error be masked as INTERNAL_SERVER_ERROR,
or lack a code, or anything name the server's insides.

Documents are drawn up front, deterministically (a fixed seed per field, no example
database), and all of them are sent even after a failure, so a failing run lists the
offending documents with their answers (the causes are in the captured log, under
contacts_server.errors). importContactsCsv takes an Upload, which no document can carry:
it has its own test, with generated CSV files.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, TypeVar

import graphql
import httpx
import pytest
from conftest import World, bucket_of, gid
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from hypothesis_graphql import nodes
from hypothesis_graphql import strategies as gql_strategies
from hypothesis_graphql.strategies import Mode

from schema import build_schema
from server import ids
from server.app import GRAPHQL_RESPONSE_JSON
from server.models import Direction, Interaction, InteractionKind
from server.policy import StageCategory
from server.settings import Environment, Settings

T = TypeVar("T")

# Examples per root field. ~40 fields; the whole file stays well under two minutes a database.
QUERY_EXAMPLES = 30
MUTATION_EXAMPLES = 40
# Documents with one schema violation each (a wrong type, a missing argument...).
INVALID_EXAMPLES = 8
CSV_EXAMPLES = 40
BASE_SEED = 20_240_601

# Names of the server's insides that no answer may carry (unless the document itself did).
LEAKS = (
    "Traceback",
    'File "',
    ".py",
    "SELECT ",
    "INSERT ",
    "UPDATE ",
    "sqlite",
    "asyncpg",
    "tortoise",
    "IntegrityError",
    "OperationalError",
    "constraint",
    "Exception",
)

SCHEMA = build_schema(Settings(environment=Environment.TEST))._schema
QUERY_FIELDS = sorted(SCHEMA.query_type.fields) if SCHEMA.query_type else []
# The upload is fuzzed with files below; a document cannot carry one.
UPLOAD_FIELDS = {"importContactsCsv"}
MUTATION_FIELDS = (
    sorted(set(SCHEMA.mutation_type.fields) - UPLOAD_FIELDS) if SCHEMA.mutation_type else []
)


def test_every_root_field_is_fuzzed() -> None:
    assert QUERY_FIELDS, "no Query fields?"
    assert MUTATION_FIELDS, "no Mutation fields?"
    assert SCHEMA.mutation_type is not None
    assert set(MUTATION_FIELDS) | UPLOAD_FIELDS == set(SCHEMA.mutation_type.fields)


# ---------------------------------------------------------------- scalar strategies

# Text that tends to break things: SQL and LIKE metacharacters, NULs, very long values,
# odd Unicode, email- and phone-shaped strings.
NASTY_STRINGS = st.sampled_from(
    [
        "",
        " ",
        "%",
        "_",
        "\\",
        "'",
        '"',
        "'; DROP TABLE contact; --",
        "a\x00b",
        "\x00",
        "ﬃ",
        "İ",
        "ß",
        "🏃‍♀️",
        "\u202e",
        "\ud7ff",
        "a" * 201,
        "b" * 321,
        "x" * 5_000,
        "ada@example.com",
        "ADA@EXAMPLE.COM",
        "@",
        "a@",
        "@b",
        "a@b@c",
        "+1 202 555 0100",
        "+999999999999999999999",
        "0",
        "-1",
        "1e309",
        "NaN",
        "null",
        "Lead",
        "Past",
    ]
)
STRINGS = st.one_of(
    st.text(max_size=20),
    NASTY_STRINGS,
    st.text(min_size=190, max_size=400),
    st.emails(),
)

TIMEZONES = st.sampled_from([UTC, timezone(timedelta(hours=14)), timezone(timedelta(hours=-12))])
DATETIMES = st.one_of(
    st.datetimes(timezones=TIMEZONES).map(datetime.isoformat),
    st.datetimes().map(datetime.isoformat),
    st.sampled_from(
        [
            "2024-02-30T00:00:00Z",
            "2024-13-01T00:00:00Z",
            "0001-01-01T00:00:00+14:00",
            "9999-12-31T23:59:59-12:00",
            "2024-01-01",
            "2024-01-01T25:00:00",
            "now",
            "",
            "1700000000",
        ]
    ),
    st.text(max_size=30),
)


ID_TYPES = ("Contact", "Stage", "User", "Tag", "Bucket", "Audience", "ApiToken", "Interaction")
# Keys at and past the edges: 32-bit primary keys end at 2**31 - 1; "²" and "٣" are digits
# to str.isdigit() but not to int() or to the database.
FORGED_KEYS = (0, -1, "01", 2**31 - 1, 2**31, 10**18 - 1, 2**63, "²", "٣", "1 ", "my_people")


def id_strategy(known: list[str]) -> st.SearchStrategy[str]:
    """Real IDs of this workspace (and another's), forged and mangled ones, and garbage."""
    forged = [ids.encode(type_name, key) for type_name in ID_TYPES for key in FORGED_KEYS]
    mangled = [f"{value}x" for value in known] + [value[:-1] for value in known]
    return st.one_of(
        st.sampled_from(known),
        st.sampled_from(forged),
        st.sampled_from(mangled),
        STRINGS,
    )


# ---------------------------------------------------------------- the workspace


@dataclass
class Target:
    client: httpx.AsyncClient
    headers: dict[str, str]
    ids: list[str]
    sent: list[str] = dataclasses.field(default_factory=list)


@pytest.fixture
async def target(world: World, other_world: World, client: httpx.AsyncClient) -> Target:
    """A workspace with contacts in every state, a bucket, tags, a saved audience, history."""
    headers = {"Authorization": f"Bearer {world.admin.token}"}
    plain = await world.contact(emails=["ada@example.com"], phones=["+12025550100"])
    await world.contact(
        "Grace", "Hopper", stage=StageCategory.LEAD, assignee=world.member, tags=["vip"]
    )
    await world.contact("Past", "Client", stage=StageCategory.PAST, emails=["past@example.com"])
    await world.contact("Gone", "Away", archived=True, phones=["+12025550111"])
    await world.contact(None, None, emails=["only@example.com"])
    await bucket_of(world, "Fuzz bucket", plain)
    foreign = await other_world.contact("Other", "Workspace")

    async def run(document: str) -> dict[str, Any]:
        response = await client.post("/graphql", json={"query": document}, headers=headers)
        body = response.json()
        assert "errors" not in body, body
        data: dict[str, Any] = body["data"]
        return data

    await run('mutation { saveAudience(input: {name: "Fuzz", filter: {status: ACTIVE}}) { id } }')
    await Interaction.create(
        workspace=world.workspace,
        contact=plain,
        kind=InteractionKind.EMAIL,
        direction=Direction.INBOUND,
        occurred_at=datetime(2024, 5, 1, 10, tzinfo=UTC),
        subject="Hi",
    )
    data = await run(
        "{ viewer { id workspace { id } } users { id } stages { id } tags { id } "
        "buckets { id } audiences { id } apiTokens { id user { id } } "
        "contacts(first: 50) { edges { node { id "
        "interactions { edges { node { id } } } } } } }"
    )
    known = [data["viewer"]["id"], data["viewer"]["workspace"]["id"]]
    for key in ("users", "stages", "tags", "buckets", "audiences"):
        known += [row["id"] for row in data[key]]
    # Never the admin's own token: revoking it would end the run with 401s.
    known += [row["id"] for row in data["apiTokens"] if row["user"]["id"] != world.admin.id]
    for edge in data["contacts"]["edges"]:
        known.append(edge["node"]["id"])
        known += [i["node"]["id"] for i in edge["node"]["interactions"]["edges"]]
    known += [gid(foreign), other_world.stage_id(StageCategory.LEAD), other_world.admin.id]
    return Target(client, headers, known)


# ---------------------------------------------------------------- drawing and checking


def draw(strategy: st.SearchStrategy[T], count: int, name: str) -> list[T]:
    """`count` examples of `strategy`, the same ones on every run."""
    drawn: list[T] = []

    @seed(BASE_SEED + zlib.crc32(name.encode()))
    @settings(
        max_examples=count,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def collect(example: T) -> None:
        drawn.append(example)

    collect()
    return drawn


def scalars(known: list[str]) -> dict[str, st.SearchStrategy[graphql.ValueNode]]:
    return {
        "ID": id_strategy(known).map(nodes.String),
        "String": STRINGS.map(nodes.String),
        "DateTime": DATETIMES.map(nodes.String),
    }


def problems_with(sent: str, response: httpx.Response, *, valid: bool = True) -> list[str]:
    """What is wrong with the answer to one document (nothing, ideally).

    `sent` is all the test has sent so far: a leak marker in it may come back as data.

    A valid document is answered 200, errors and all. An invalid one goes out accepting
    application/graphql-response+json: 400 without `data` when validation refuses it, or
    200 when the violation only shows as it runs (a value that a resolver rejects).
    """
    found: list[str] = []
    if response.status_code not in ((200,) if valid else (200, 400)):
        found.append(f"HTTP {response.status_code}")
    try:
        body = response.json()
    except ValueError:
        return [*found, "body is not JSON"]
    errors = body.get("errors") or []
    if response.status_code == 400 and ("data" in body or not errors):
        found.append("a 400 must carry errors and no data")
    for error in errors:
        code = (error.get("extensions") or {}).get("code")
        if code is None:
            found.append(f"error without a code: {error.get('message')!r}")
        elif code == "INTERNAL_SERVER_ERROR":
            found.append("INTERNAL_SERVER_ERROR")
    text = "\n".join(strings_in(body))
    for leak in LEAKS:
        if leak in text and leak not in sent:
            found.append(f"names {leak!r}")
    return found


def strings_in(value: object) -> Iterator[str]:
    """Every key and string in a JSON value, unescaped."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from strings_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings_in(item)


def report(failures: list[str], count: int, what: str) -> str:
    return f"{len(failures)} of {count} {what} failed:\n" + "\n".join(failures[:8])


async def fuzz(target: Target, documents: list[str], *, valid: bool = True) -> None:
    headers = target.headers if valid else {**target.headers, "Accept": GRAPHQL_RESPONSE_JSON}
    failures: list[str] = []
    for document in documents:
        target.sent.append(document)
        response = await target.client.post("/graphql", json={"query": document}, headers=headers)
        if problems := problems_with("\n".join(target.sent), response, valid=valid):
            failures.append(
                f"- {', '.join(problems)}\n  document: {' '.join(document.split())}\n"
                f"  answer: HTTP {response.status_code} {response.text[:400]}"
            )
    assert not failures, report(failures, len(documents), "documents")


def operation(
    make: Callable[..., st.SearchStrategy[str]],
    field: str,
    known: list[str],
    mode: Mode = Mode.POSITIVE,
) -> st.SearchStrategy[str]:
    return make(SCHEMA, fields=[field], custom_scalars=scalars(known), mode=mode)


def takes_arguments(type_: graphql.GraphQLObjectType | None, field: str) -> bool:
    """Whether a root field has arguments, the only place an invalid document can be made."""
    return type_ is not None and bool(type_.fields[field].args)


@pytest.fixture(autouse=True)
def quiet_strawberry(caplog: pytest.LogCaptureFixture) -> None:
    # Strawberry logs every expected error (BAD_USER_INPUT...) with its traceback, thousands
    # of them here. Unexpected ones still reach the log, through contacts_server.errors.
    caplog.set_level(logging.CRITICAL, logger="strawberry.execution")


# ---------------------------------------------------------------- the tests


@pytest.mark.parametrize("field", QUERY_FIELDS)
async def test_query_field_answers_every_generated_document(target: Target, field: str) -> None:
    valid = operation(gql_strategies.queries, field, target.ids)
    await fuzz(target, draw(valid, QUERY_EXAMPLES, f"query.{field}"))
    if takes_arguments(SCHEMA.query_type, field):
        invalid = operation(gql_strategies.queries, field, target.ids, Mode.NEGATIVE)
        await fuzz(target, draw(invalid, INVALID_EXAMPLES, f"invalid.query.{field}"), valid=False)


@pytest.mark.parametrize("field", MUTATION_FIELDS)
async def test_mutation_field_answers_every_generated_document(target: Target, field: str) -> None:
    valid = operation(gql_strategies.mutations, field, target.ids)
    await fuzz(target, draw(valid, MUTATION_EXAMPLES, f"mutation.{field}"))
    if takes_arguments(SCHEMA.mutation_type, field):
        invalid = operation(gql_strategies.mutations, field, target.ids, Mode.NEGATIVE)
        await fuzz(
            target, draw(invalid, INVALID_EXAMPLES, f"invalid.mutation.{field}"), valid=False
        )


CSV_COLUMNS = ["first_name", "last_name", "email", "phone", "company", "title", "tags", "other"]
CELLS = st.one_of(STRINGS, st.lists(STRINGS, max_size=3).map(";".join))


@st.composite
def csv_files(draw_: st.DrawFn) -> bytes:
    """A CSV file: a header of known (any case) and unknown columns, rows of nasty cells."""
    kind = draw_(st.sampled_from(["csv", "csv", "csv", "text", "bytes"]))
    if kind == "bytes":
        return draw_(st.binary(max_size=300))
    if kind == "text":
        return draw_(st.text(max_size=300)).encode("utf-8", "surrogatepass")
    columns = draw_(st.lists(st.sampled_from(CSV_COLUMNS), min_size=0, max_size=8))
    header = [draw_(st.sampled_from([c, c.upper(), c.title(), f" {c} "])) for c in columns]
    rows = draw_(st.lists(st.lists(CELLS, min_size=0, max_size=len(columns) + 2), max_size=6))
    separator = draw_(st.sampled_from([",", ";", "\t"]))
    newline = draw_(st.sampled_from(["\n", "\r\n", "\r"]))

    def line(cells: list[str]) -> str:
        return separator.join('"' + c.replace('"', '""') + '"' if "," in c else c for c in cells)

    text = newline.join(line(row) for row in [header, *rows])
    bom = draw_(st.sampled_from(["", "\ufeff"]))
    return (bom + text).encode("utf-8", "surrogatepass")


IMPORT = (
    "mutation($file: Upload!) { importContactsCsv(file: $file) { created updated unchanged "
    "keptArchived suppressed rowErrors { row errors { field message } } } }"
)


async def test_csv_import_answers_every_generated_file(target: Target) -> None:
    failures: list[str] = []
    files = draw(csv_files(), CSV_EXAMPLES, "mutation.importContactsCsv")
    for content in files:
        response = await target.client.post(
            "/graphql",
            data={
                "operations": json.dumps({"query": IMPORT, "variables": {"file": None}}),
                "map": json.dumps({"0": ["variables.file"]}),
            },
            files={"0": ("contacts.csv", content, "text/csv")},
            headers=target.headers,
        )
        target.sent.append(content.decode("utf-8", "replace"))
        if problems := problems_with("\n".join(target.sent), response):
            failures.append(
                f"- {', '.join(problems)}\n  file: {content[:300]!r}\n"
                f"  answer: HTTP {response.status_code} {response.text[:400]}"
            )
    assert not failures, report(failures, len(files), "files")
