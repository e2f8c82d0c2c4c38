"""Variables coerced directly arrive exactly as graphql-core coerces them, errors included."""

from __future__ import annotations

import json
from typing import Any

import pytest
from graphql import (
    ExecutionResult,
    GraphQLInputObjectType,
    GraphQLSchema,
    OperationDefinitionNode,
    build_schema,
    execute,
    is_input_type,
    parse,
    parse_type,
    type_from_ast,
)
from graphql.execution import Executor as GraphQLCoreExecutor

from schema import Executor
from schema import schema as api_schema
from schema.variables import Coercers, VariablesCoercedDirectly, coerce_variables

SDL = """
enum Kind { PHONE EMAIL }

input Item {
  id: ID!
  name: String
  tags: [String!]
  size: Int = 3
  kind: Kind
}

input Batch {
  kind: Kind!
  items: [Item!]!
  note: String = "none"
}

input Pick @oneOf { a: Int b: String }

input Tree { label: String children: [Tree!] }

type Query {
  batch(input: Batch!): String
  items(items: [Item!], first: Int): String
  pick(pick: Pick!): String
  tree(tree: Tree): String
  count(first: Int = 10): String
}
"""

ITEM = {"id": "1", "name": "Ada", "tags": ["x"], "size": 1, "kind": "EMAIL"}
NULLS = {"id": "7", "name": None, "tags": None, "size": None}
TREE = {"label": "r", "children": [{"label": "c"}]}
BATCH = "query B($input: Batch!) { batch(input: $input) }"
DEFAULTED = "query C($first: Int = 5) { count(first: $first) }"
ITEMS = "query I($items: [Item!], $first: Int) { items(items: $items, first: $first) }"


def batch(items: Any, kind: str = "PHONE") -> dict[str, Any]:
    return {"input": {"kind": kind, "items": items}}


CASES: list[tuple[str, str, dict[str, Any], bool]] = [
    # (name, document, variables, coerced directly)
    ("a batch", BATCH, batch([ITEM, {"id": 2}]), True),
    ("omitted fields take defaults", BATCH, batch([{"id": "7"}]), True),
    ("explicit nulls stay null", BATCH, batch([NULLS]), True),
    ("an omitted nullable variable", ITEMS, {"items": [ITEM]}, True),
    ("a null list", ITEMS, {"items": None, "first": 2}, True),
    ("a missing required field", BATCH, batch([{"name": "x"}]), False),
    ("an unknown field", BATCH, batch([{"id": "1", "colour": "red"}]), False),
    ("a null in a non-null list", BATCH, batch([None]), False),
    ("an unknown enum value", BATCH, batch([], kind="FAX"), False),
    ("a string for an int", BATCH, batch([{"id": "1", "size": "3"}]), False),
    ("a float for an ID", BATCH, batch([{"id": 1.5}]), False),
    ("one value for a list", BATCH, batch({"id": "1"}), False),
    ("a list for an object", BATCH, {"input": [{"kind": "PHONE"}]}, False),
    ("a missing required variable", BATCH, {}, False),
    ("an omitted variable with a default", DEFAULTED, {}, False),
    ("a oneOf input", "query P($pick: Pick!) { pick(pick: $pick) }", {"pick": {"a": 1}}, False),
    ("a recursive input", "query T($tree: Tree) { tree(tree: $tree) }", {"tree": TREE}, False),
]  # fmt: skip


def echo(_info: Any, **arguments: Any) -> str:
    return json.dumps(arguments, sort_keys=True)


ROOT = {name: echo for name in ("batch", "items", "pick", "tree", "count")}


@pytest.fixture(scope="module")
def sdl_schema() -> GraphQLSchema:
    schema = build_schema(SDL)
    # graphql-core hands a coerced input object to its type's out_type (an identity unless
    # set): one that marks what it made shows that it is called, and on what.
    item = schema.type_map["Item"]
    assert isinstance(item, GraphQLInputObjectType)
    item.out_type = lambda value: {**value, "made_by": "out_type"}  # type: ignore[method-assign]
    return schema


def run(schema: GraphQLSchema, document: str, variables: dict[str, Any], executor: Any) -> Any:
    result = execute(
        schema, parse(document), ROOT, variable_values=variables, executor_class=executor
    )
    assert isinstance(result, ExecutionResult)
    errors = [(e.message, e.path) for e in result.errors or ()]
    return result.data, errors


@pytest.mark.parametrize(
    ("name", "document", "variables", "direct"), CASES, ids=[c[0] for c in CASES]
)
def test_variables_reach_resolvers_as_graphql_core_coerces_them(
    sdl_schema: GraphQLSchema, name: str, document: str, variables: dict[str, Any], direct: bool
) -> None:
    expected = run(sdl_schema, document, variables, GraphQLCoreExecutor)
    assert run(sdl_schema, document, variables, VariablesCoercedDirectly) == expected
    operation = parse(document).definitions[0]
    assert isinstance(operation, OperationDefinitionNode)
    taken = coerce_variables(sdl_schema, operation, variables, Coercers()) is not None
    assert taken is direct


def test_refused_variables_are_reported_as_graphql_core_reports_them(
    sdl_schema: GraphQLSchema,
) -> None:
    variables = {"input": {"kind": "PHONE", "items": [{"id": "1", "size": "3"}]}}
    data, errors = run(sdl_schema, BATCH, variables, VariablesCoercedDirectly)
    assert data is None
    assert errors == [
        ("Variable '$input' has invalid value at .items[0].size: "
         "Int cannot represent non-integer value: '3'", None)
    ]  # fmt: skip


def test_the_operation_named_in_the_request_is_the_one_whose_variables_count(
    sdl_schema: GraphQLSchema,
) -> None:
    document = f"{BATCH}\nquery C($first: Int) {{ count(first: $first) }}"
    result = execute(
        sdl_schema,
        parse(document),
        ROOT,
        variable_values={"first": 4},
        operation_name="C",
        executor_class=VariablesCoercedDirectly,
    )
    assert isinstance(result, ExecutionResult)
    assert result.errors is None
    assert result.data == {"count": '{"first": 4}'}


@pytest.mark.parametrize(
    "variable_type",
    ["SyncContactsInput!", "ArchiveContactsInput!", "DeleteContactsInput!", "ContactFilter"],
)
def test_the_api_s_large_inputs_are_coerced_directly(variable_type: str) -> None:
    # A sync's 5,000 contacts (and bulk actions' IDs) are what this is for; if an upgrade
    # or a schema change makes them irregular, the shortcut would be silently lost.
    assert issubclass(Executor, VariablesCoercedDirectly)
    type_ = type_from_ast(api_schema._schema, parse_type(variable_type))
    assert is_input_type(type_)
    assert Coercers()[type_] is not None
