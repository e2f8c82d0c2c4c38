"""A document of several mutation fields: every field is permitted, or none of it runs;
and its fields commit together, or not at all.

Strawberry checks a field's permission when the field runs, and runs a document's
mutation fields one after another: with `a: createBucket ... b: deleteContacts` as a
MEMBER, the bucket was committed, then deleteContacts was FORBIDDEN and, being non-null,
made the whole answer `data: null` over committed work. This extension checks the
permissions of all the operation's top-level fields (those @skip and @include leave in)
before the first one runs; and a document of two or more mutation fields runs in one
transaction, undone when its answer is `data: null` (a field failed with an error, as
BAD_USER_INPUT), so that `data: null` never stands over committed work.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from typing import Any

from graphql import (
    BooleanValueNode,
    ExecutionResult,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionNode,
    SelectionSetNode,
    VariableNode,
    get_operation_ast,
)
from strawberry.extensions import SchemaExtension
from strawberry.permission import BasePermission
from strawberry.types import ExecutionContext

from schema.permissions import Requires
from server import db
from server.auth import Viewer


def top_level_fields(
    operation: OperationDefinitionNode,
    fragments: Mapping[str, FragmentDefinitionNode],
    variables: Mapping[str, Any],
) -> list[FieldNode]:
    """The operation's root fields that will run, through fragments, in document order."""
    found: list[FieldNode] = []
    seen: set[str] = set()
    # Fragments are followed once each: a spread of one already followed adds nothing.
    pending: list[SelectionSetNode] = [operation.selection_set]
    while pending:
        selection_set = pending.pop(0)
        for selection in selection_set.selections:
            if not _included(selection, variables):
                continue
            if isinstance(selection, FieldNode):
                found.append(selection)
            elif isinstance(selection, InlineFragmentNode):
                pending.append(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                if name not in seen and name in fragments:
                    seen.add(name)
                    pending.append(fragments[name].selection_set)
    return found


def mutation_fields(context: ExecutionContext) -> list[FieldNode]:
    """The root fields a mutation operation will run; none for a query or no document."""
    document = context.graphql_document
    if document is None:
        return []
    operation = get_operation_ast(document, context.operation_name)
    if operation is None or operation.operation is not OperationType.MUTATION:
        return []
    fragments = {
        node.name.value: node
        for node in document.definitions
        if isinstance(node, FragmentDefinitionNode)
    }
    return top_level_fields(operation, fragments, context.variables or {})


def _included(selection: SelectionNode, variables: Mapping[str, Any]) -> bool:
    """False when @skip(if: true) or @include(if: false) leaves the selection out."""
    for directive in selection.directives or ():
        condition = next(
            (arg.value for arg in directive.arguments or () if arg.name.value == "if"),
            None,
        )
        if isinstance(condition, VariableNode):
            value = variables.get(condition.name.value)
        elif isinstance(condition, BooleanValueNode):
            value = condition.value
        else:
            continue
        if (directive.name.value, value) in {("skip", True), ("include", False)}:
            return False
    return True


class PermissionsFirst(SchemaExtension):
    """Refuses a mutation document, before anything runs, when any of its fields is not
    permitted to the viewer; `permissions` are the Mutation fields' permission classes by
    GraphQL name."""

    def __init__(self, permissions: Mapping[str, Sequence[type[BasePermission]]]) -> None:
        self.permissions = permissions

    def on_execute(self) -> Iterator[None]:
        refusal = self._refusal()
        if refusal is not None:
            # A result set here is answered instead of executing (Strawberry's documented
            # way for an extension to skip execution): the same `data: null` and error,
            # path included, that the field itself would have given, with nothing run.
            self.execution_context.result = ExecutionResult(data=None, errors=[refusal])
        yield

    def _refusal(self) -> GraphQLError | None:
        viewer = getattr(self.execution_context.context, "viewer", None)
        if not isinstance(viewer, Viewer):
            return None
        for field in mutation_fields(self.execution_context):
            for permission in self.permissions.get(field.name.value, ()):
                if issubclass(permission, Requires) and not viewer.may(permission.permission):
                    return GraphQLError(
                        permission.message or "You may not do this.",
                        nodes=[field],
                        path=[(field.alias or field.name).value],
                        extensions={"code": "FORBIDDEN"},
                    )
        return None


class AllOrNothing(SchemaExtension):
    """Runs a document of two or more mutation fields in one transaction, rolled back when
    its answer is `data: null`. A single field is one transaction already (its use case's)."""

    async def on_execute(self) -> AsyncIterator[None]:
        if not self._several_mutation_fields():
            yield
            return

        def answered() -> bool:
            result = self.execution_context.result
            return result is not None and getattr(result, "data", None) is not None

        async with db.all_or_nothing(answered):
            yield

    def _several_mutation_fields(self) -> bool:
        return len(mutation_fields(self.execution_context)) > 1
