"""Lists of objects completed by a plan answer exactly as graphql-core does, errors included."""

from __future__ import annotations

import sys
from collections import OrderedDict
from enum import StrEnum
from typing import Annotated, Any

import pytest
import strawberry
from conftest import GraphQL, World, gid
from graphql.execution import Executor as GraphQLCoreExecutor
from strawberry.extensions import SchemaExtension
from strawberry.types import ExecutionResult

from schema import compiled, lists
from schema.execution import call_resolvers_directly
from schema.lists import ListsCompletedDirectly
from server.policy import StageCategory


@strawberry.type
class Thing:
    id: strawberry.ID
    label: str | None

    @strawberry.field
    def where(self, info: strawberry.Info) -> list[str]:
        return [*map(str, info.path.as_list()), info._raw_info.parent_type.name]

    @strawberry.field
    def parts(self) -> list[Thing]:
        return [Thing(id=strawberry.ID(f"{self.id}.{n}"), label=None) for n in (1, 2)]

    @strawberry.field
    def checked(self) -> str | None:
        if self.label == "boom":
            raise ValueError("No label may explode.")
        return self.label

    @strawberry.field(graphql_type=str)  # type: ignore[untyped-decorator]
    def later(self) -> Any:
        async def label() -> str | None:
            return self.label

        return label()


class Color(StrEnum):
    RED = "red"


@strawberry.type
class Loose:
    """Leaves holding values of other types than their scalar's, as a resolver may hand over."""

    text: str
    key: strawberry.ID
    flag: bool
    texts: list[str]


LOOSE: list[Any] = []


@strawberry.type
class Done:
    thing: Thing
    maybe: Thing | None
    count: int


@strawberry.type
class Refused:
    thing_id: strawberry.ID
    reason: str

    @strawberry.field
    def shout(self) -> str:
        return self.reason.upper()


@strawberry.interface
class Named:
    name: str


@strawberry.type
class Person(Named):
    age: int


@strawberry.interface
class Slow:
    name: str

    @classmethod
    async def resolve_type(cls, obj: Any, info: Any, type_: Any) -> str:
        return "SlowPerson"


@strawberry.type
class SlowPerson(Slow):
    pass


Result = Annotated[Done | Refused, strawberry.union("Result")]

RESULTS: list[Any] = []
THINGS = [Thing(id=strawberry.ID("t1"), label=None), Thing(id=strawberry.ID("t2"), label="b")]
PEOPLE: list[Any] = []


@strawberry.type
class Query:
    @strawberry.field(graphql_type=list[Result])  # type: ignore[untyped-decorator]
    def results(self) -> list[Any]:
        return RESULTS

    @strawberry.field(graphql_type=list[Result | None])  # type: ignore[untyped-decorator]
    def maybe_results(self) -> list[Any]:
        return RESULTS

    @strawberry.field
    def things(self) -> list[Thing]:
        return THINGS

    @strawberry.field
    def people(self) -> list[Named]:
        return PEOPLE

    @strawberry.field
    def loose(self) -> list[Loose]:
        return LOOSE

    @strawberry.field
    def slow_people(self) -> list[Slow]:
        return [SlowPerson(name="s")]


def unchecked(cls: type, **fields: Any) -> Any:
    """An instance holding what a buggy resolver might hand over, whatever its types say."""
    return cls(**fields)


def done(n: int, label: str | None = "x", maybe: bool = False) -> Done:
    thing = Thing(id=strawberry.ID(f"t{n}"), label=label)
    return Done(thing=thing, maybe=thing if maybe else None, count=n)


REGULAR = [done(1), Refused(thing_id=strawberry.ID("t2"), reason="no"), done(3, None, True)]

RESULTS_QUERY = """query($all: Boolean!) {
  results {
    __typename
    ... on Done { thing { id label } again: thing { id } maybe { label } count }
    ... on Refused { thingId reason @include(if: $all) }
    ...More
  }
}
fragment More on Refused { thingId }"""


class GraphQLCoreCompletes(SchemaExtension):
    """Counts the lists graphql-core itself completed item by item."""

    lists = 0


class Counting(ListsCompletedDirectly):
    def complete_iterable_value(self, *args: Any, **kwargs: Any) -> Any:
        GraphQLCoreCompletes.lists += 1
        return super().complete_iterable_value(*args, **kwargs)


class Exclaim(SchemaExtension):
    def resolve(self, _next: Any, root: Any, info: Any, *args: Any, **kwargs: Any) -> Any:
        result = _next(root, info, *args, **kwargs)
        return f"{result}!" if isinstance(result, str) else result


def schema_of(*, ours: bool, direct: bool = True, **options: Any) -> strawberry.Schema:
    """Ours: our executor, and (`direct`) the resolvers that qualify called directly."""
    if ours:
        options["execution_context_class"] = Counting
    schema = strawberry.Schema(query=Query, types=[Person, SlowPerson, Loose], **options)
    if ours and direct:
        call_resolvers_directly(schema)
    return schema


def answer_of(result: ExecutionResult) -> dict[str, Any]:
    return {
        "data": result.data,
        "errors": sorted(
            ((error.message, tuple(error.path or ())) for error in result.errors or []),
            key=repr,
        ),
    }


def run(
    query: str,
    items: list[Any],
    variables: dict[str, Any] | None = None,
    *,
    ours: bool,
    **options: Any,
) -> tuple[dict[str, Any], int]:
    """(data and errors, how many lists graphql-core completed itself)."""
    RESULTS[:] = items
    PEOPLE[:] = items
    schema = schema_of(ours=ours, **options)
    GraphQLCoreCompletes.lists = 0
    result = schema.execute_sync(query, variable_values=variables)
    return answer_of(result), GraphQLCoreCompletes.lists


def both(
    query: str, items: list[Any], variables: dict[str, Any] | None = None, **options: Any
) -> tuple[dict[str, Any], int]:
    answer, fallbacks = run(query, items, variables, ours=True, **options)
    assert answer == run(query, items, variables, ours=False, **options)[0]
    return answer, fallbacks


def test_a_union_list_with_nested_objects_aliases_fragments_and_directives_is_planned() -> None:
    answer, fallbacks = both(RESULTS_QUERY, REGULAR, {"all": True})
    assert fallbacks == 0
    assert answer["errors"] == []
    assert answer["data"]["results"] == [
        {
            "__typename": "Done",
            "thing": {"id": "t1", "label": "x"},
            "again": {"id": "t1"},
            "maybe": None,
            "count": 1,
        },
        {"__typename": "Refused", "thingId": "t2", "reason": "no"},
        {
            "__typename": "Done",
            "thing": {"id": "t3", "label": None},
            "again": {"id": "t3"},
            "maybe": {"label": None},
            "count": 3,
        },
    ]
    skipped, fallbacks = both(RESULTS_QUERY, REGULAR, {"all": False})
    assert fallbacks == 0
    assert skipped["data"]["results"][1] == {"__typename": "Refused", "thingId": "t2"}


@pytest.mark.parametrize(
    ("case", "items"),
    [
        (
            "a null nested object where the type forbids it",
            [done(1), unchecked(Done, thing=None, maybe=None, count=2)],
        ),
        (
            "a value the scalar refuses",
            [done(1), unchecked(Done, thing=done(1).thing, maybe=None, count="x")],
        ),
        ("a null item where the type forbids it", [done(1), None]),
        ("an object of no member type", [done(1), Thing(id=strawberry.ID("t"), label=None)]),
        ("a plain object", [done(1), {"thing": None}]),
    ],
)
def test_an_irregular_item_gives_the_list_to_graphql_core_with_the_same_errors(
    case: str, items: list[Any]
) -> None:
    answer, fallbacks = both(RESULTS_QUERY, items, {"all": True})
    assert fallbacks == 1, case
    assert answer["errors"], case


def test_null_items_of_a_list_that_allows_them_are_planned() -> None:
    query = "{ maybeResults { __typename ... on Done { count } } }"
    answer, fallbacks = both(query, [done(1), None])
    assert fallbacks == 0
    assert answer["data"]["maybeResults"] == [{"__typename": "Done", "count": 1}, None]


def test_a_cast_object_resolves_to_the_type_it_was_cast_to() -> None:
    query = "{ results { __typename ... on Refused { thingId } } }"
    stand_in: Any = strawberry.cast(Refused, done(1))
    stand_in.thing_id = "c"
    answer, _ = both(query, [done(1), stand_in])
    assert answer["data"]["results"][1] == {"__typename": "Refused", "thingId": "c"}


def test_interfaces_and_lists_of_objects_are_planned() -> None:
    answer, fallbacks = both("{ people { name ... on Person { age } } }", [Person(name="a", age=3)])
    assert (answer["data"], fallbacks) == ({"people": [{"name": "a", "age": 3}]}, 0)
    answer, fallbacks = both("{ things { __typename id label } }", [])
    assert fallbacks == 0
    assert answer["data"]["things"] == [
        {"__typename": "Thing", "id": "t1", "label": None},
        {"__typename": "Thing", "id": "t2", "label": "b"},
    ]


async def test_an_asynchronous_resolve_type_leaves_the_list_to_graphql_core() -> None:
    GraphQLCoreCompletes.lists = 0
    schema = strawberry.Schema(
        query=Query, types=[Person, SlowPerson], execution_context_class=Counting
    )
    result = await schema.execute("{ slowPeople { __typename name } }")
    assert (result.errors, result.data) == (
        None,
        {"slowPeople": [{"__typename": "SlowPerson", "name": "s"}]},
    )
    assert GraphQLCoreCompletes.lists == 1


class WatchedThing(Thing):
    """A Thing that counts how often its label is read."""

    reads = 0

    @property
    def label(self) -> str | None:
        WatchedThing.reads += 1
        return self._label

    @label.setter
    def label(self, value: str | None) -> None:
        self._label = value


def test_an_object_of_leaves_shown_on_many_items_is_completed_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    shared = WatchedThing(id=strawberry.ID("s"), label="shared")
    other = WatchedThing(id=strawberry.ID("o"), label="other")
    monkeypatch.setattr(sys.modules[__name__], "THINGS", [shared, other, shared, shared, other])
    query = "{ things { id label } again: things { label } }"
    WatchedThing.reads = 0
    answer, fallbacks = run(query, [], ours=True)
    # Once per object and selection; graphql-core reads it for every item.
    assert (fallbacks, WatchedThing.reads) == (0, 4)
    WatchedThing.reads = 0
    assert answer == run(query, [], ours=False)[0]
    assert WatchedThing.reads == 10
    assert [item["label"] for item in answer["data"]["again"]] == [
        "shared", "other", "shared", "shared", "other"
    ]  # fmt: skip


def test_more_distinct_objects_than_are_remembered_answer_the_same(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(lists, "SHARED_OBJECTS", 2)
    things = [Thing(id=strawberry.ID(f"t{n}"), label=str(n)) for n in range(5)]
    monkeypatch.setattr(sys.modules[__name__], "THINGS", things + things[::-1] + things)
    answer, fallbacks = both("{ things { id label } }", [])
    assert fallbacks == 0
    assert [item["id"] for item in answer["data"]["things"]] == [
        f"t{n}" for n in [0, 1, 2, 3, 4, 4, 3, 2, 1, 0, 0, 1, 2, 3, 4]
    ]


def test_resolvers_called_directly_are_planned_and_see_their_own_place() -> None:
    answer, fallbacks = both("{ things { id where parts { id where } checked } }", [])
    assert fallbacks == 0
    assert answer["data"]["things"][1] == {
        "id": "t2",
        "where": ["things", "1", "where", "Thing"],
        "parts": [
            {"id": "t2.1", "where": ["things", "1", "parts", "0", "where", "Thing"]},
            {"id": "t2.2", "where": ["things", "1", "parts", "1", "where", "Thing"]},
        ],
        "checked": "b",
    }


async def test_an_awaitable_or_an_error_from_a_resolver_leaves_the_list_to_graphql_core() -> None:
    THINGS.append(Thing(id=strawberry.ID("t3"), label="boom"))
    try:
        for query in ("{ things { id later } }", "{ things { id checked } }"):
            GraphQLCoreCompletes.lists = 0
            ours = answer_of(await schema_of(ours=True).execute(query))
            assert GraphQLCoreCompletes.lists == 1, query
            assert ours == answer_of(await schema_of(ours=False).execute(query))
        assert ours["errors"] == [("No label may explode.", ("things", 2, "checked"))]
    finally:
        THINGS.pop()


def test_a_resolver_with_its_wrapping_or_a_middleware_leaves_the_list_to_graphql_core() -> None:
    query = "{ results { ... on Refused { shout } } }"
    answer, fallbacks = both(query, REGULAR, direct=False)
    assert (answer["data"]["results"][1], fallbacks) == ({"shout": "NO"}, 1)
    answer, fallbacks = both("{ things { id } }", [], extensions=[Exclaim])
    assert (answer["data"]["things"], fallbacks) == ([{"id": "t1!"}, {"id": "t2!"}], 1)


def test_leaves_of_other_types_than_their_scalar_takes_answer_as_graphql_core_does(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    loose = [
        unchecked(Loose, text=True, key=7, flag=1, texts=["a", 2, False, Color.RED, 1.5]),
        unchecked(Loose, text=Color.RED, key="k", flag=False, texts=()),
        unchecked(Loose, text="plain", key=strawberry.ID("id"), flag=True, texts=["b"]),
    ]
    monkeypatch.setattr(sys.modules[__name__], "LOOSE", loose)
    answer, fallbacks = both("{ loose { text key flag texts } }", [])
    assert fallbacks == 0
    assert answer["data"]["loose"] == [
        {"text": "true", "key": "7", "flag": True, "texts": ["a", "2", "false", "red", "1.5"]},
        {"text": "red", "key": "k", "flag": False, "texts": []},
        {"text": "plain", "key": "id", "flag": True, "texts": ["b"]},
    ]
    assert type(answer["data"]["loose"][1]["text"]) is Color  # as graphql-core leaves it


def test_more_object_shapes_than_are_kept_are_compiled_again_and_answer_the_same(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(compiled, "KEPT_SHAPES", 1)
    monkeypatch.setattr(compiled, "_compiled", OrderedDict())
    query = "{ a: things { id } b: things { label } c: things { id label } }"
    for _ in range(2):
        answer, fallbacks = both(query, [])
        assert fallbacks == 0
        assert answer["data"] == {
            "a": [{"id": "t1"}, {"id": "t2"}],
            "b": [{"label": None}, {"label": "b"}],
            "c": [{"id": "t1", "label": None}, {"id": "t2", "label": "b"}],
        }
        assert len(compiled._compiled) == 1


def test_a_resolver_builds_its_info_only_when_it_reads_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    built: list[Any] = []
    original = ListsCompletedDirectly.build_resolve_info

    def counted(self: Any, *args: Any, **kwargs: Any) -> Any:
        built.append(args[0])
        return original(self, *args, **kwargs)

    monkeypatch.setattr(ListsCompletedDirectly, "build_resolve_info", counted)
    run("{ things { id checked parts { id } } }", [], ours=True)
    assert len(built) == 1  # the list field's own, which graphql-core builds
    built.clear()
    run("{ things { id where } }", [], ours=True)
    assert len(built) == 1 + len(THINGS)


ARCHIVE = """mutation($ids: [ID!]!) {
  archiveContacts(input: {selection: {ids: $ids}}) {
    results {
      __typename
      ... on ContactArchived { contact { id } }
      ... on RuleViolation { contactId code message }
    }
  }
}"""


def spy_on_graphql_core_lists(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """From now on, the lists graphql-core completes item by item (our plans' fallback)."""
    lists = []
    original = GraphQLCoreExecutor.complete_iterable_value

    def counted(self: Any, *args: Any, **kwargs: Any) -> Any:
        lists.append(args)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(GraphQLCoreExecutor, "complete_iterable_value", counted)
    return lists


async def test_a_bulk_actions_results_are_completed_by_a_plan(
    gql: GraphQL, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    ada = await world.contact("Ada", None)
    grace = await world.contact("Grace", None, assignee=world.member)
    lists = spy_on_graphql_core_lists(monkeypatch)
    data = await gql(ARCHIVE, {"ids": [gid(ada), gid(grace)]}, as_=world.member)
    assert data["archiveContacts"]["results"] == [
        {"__typename": "ContactArchived", "contact": {"id": gid(ada)}},
        {
            "__typename": "ArchiveBlockedByAssignee",
            "contactId": gid(grace),
            "code": "ARCHIVE_BLOCKED_BY_ASSIGNEE",
            "message": data["archiveContacts"]["results"][1]["message"],
        },
    ]
    assert lists == []


PAGE = """{
  contacts(first: 10) {
    edges {
      cursor
      node {
        id displayName emails status
        stage { id name category }
        assignee { id name }
        tags { id name }
        buckets { id name }
      }
    }
  }
}"""


async def test_a_page_of_contacts_is_completed_by_a_plan(
    gql: GraphQL, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    await world.contact("Ada", None, emails=["ada@example.com"], tags=["vip"])
    await world.contact("Grace", None, stage=StageCategory.LEAD, assignee=world.member)
    lists = spy_on_graphql_core_lists(monkeypatch)
    data = await gql(PAGE, as_=world.viewer)
    nodes = [edge["node"] for edge in data["contacts"]["edges"]]
    assert [(n["displayName"], n["emails"], n["status"]) for n in nodes] == [
        ("Ada", ["ada@example.com"], "ACTIVE"),
        ("Grace", [], "ACTIVE"),
    ]
    assert [[tag["name"] for tag in n["tags"]] for n in nodes] == [["vip"], []]
    assert nodes[0]["stage"] is None
    assert nodes[1]["stage"]["category"] == "LEAD"
    assert nodes[1]["assignee"]["name"] == world.member.user.name
    assert lists == []


RICH = """query {
  stages { id name category blocksArchive }
  tags { id name }
  users { id name email role }
  audiences {
    id name kind contactCount
    contacts(first: 5) {
      totalCount
      edges { cursor node { id displayName stage { name blocksArchive } tags { name } } }
    }
  }
  contacts(first: 20) {
    edges {
      cursor
      node {
        id firstName lastName company title emails phones status archivedAt createdAt
        updatedAt displayName
        stage { id name category blocksArchive }
        assignee { id name email workspace { id } }
        tags { id name }
        buckets { id name }
        archiveBlockers {
          __typename
          ... on RuleViolation { code message }
          ... on ArchiveBlockedByStage { stage { name } }
        }
        interactions(first: 3) { edges { node { id kind } } }
      }
    }
    pageInfo { hasNextPage endCursor }
  }
}"""

DRY_RUN = """mutation($ids: [ID!]!) {
  archiveContacts(input: {selection: {ids: $ids}, dryRun: true}) {
    succeeded failed dryRun
    results {
      __typename
      ... on ContactArchived { contact { id displayName stage { name } tags { name } } }
      ... on RuleViolation { contactId code message }
      ... on ArchiveBlockedByStage {
        contact { displayName archiveBlockers { __typename } }
        stage { name }
      }
      ... on ArchiveBlockedByAssignee { assignee { name } }
    }
  }
}"""


async def test_the_apis_lists_answer_exactly_as_without_plans(
    gql: GraphQL, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    ada = await world.contact("Ada", None, emails=["ada@example.com"], tags=["vip", "press"])
    grace = await world.contact("Grace", None, stage=StageCategory.LEAD, assignee=world.member)
    linus = await world.contact("Linus", None, assignee=world.admin, phones=["+12025550100"])
    gone = await world.contact("Gone", None, archived=True)
    ids = [gid(ada), gid(grace), gid(linus), gid(gone), "Q29udGFjdDo5OTk5"]
    lists = spy_on_graphql_core_lists(monkeypatch)
    planned = (await gql(RICH, as_=world.admin), await gql(DRY_RUN, {"ids": ids}, as_=world.admin))
    fallbacks = len(lists)
    monkeypatch.setattr(ListsCompletedDirectly, "_list_plan", lambda *_: None)
    assert planned == (
        await gql(RICH, as_=world.admin),
        await gql(DRY_RUN, {"ids": ids}, as_=world.admin),
    )
    # What graphql-core still walks itself: the lists under fields with arguments, and the
    # archive blockers (an asynchronous resolver); without plans, every list.
    assert fallbacks < len(lists) - fallbacks
    results = planned[1]["archiveContacts"]["results"]
    assert [r["__typename"] for r in results] == [
        "ContactArchived",
        "ArchiveBlockedByStage",
        "ArchiveBlockedByAssignee",
        "ContactIsArchived",
        "ContactNotFound",
    ]
