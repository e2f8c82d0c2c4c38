"""The operation a request runs: named when its document has several, and handed to the
request log by name (see server.observability)."""

from __future__ import annotations

from collections.abc import Iterator

from graphql import GraphQLError, OperationDefinitionNode
from strawberry.extensions import SchemaExtension

MUST_NAME = (
    "This document has several operations: name the one to run in operationName "
    '(e.g. {"operationName": "%s"}).'
)


class OperationName(SchemaExtension):
    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        request = getattr(context.context, "request", None)
        document = context.graphql_document
        given = getattr(getattr(request, "state", None), "operation_name_given", True)
        if document is not None and not given:
            operations = [
                node for node in document.definitions if isinstance(node, OperationDefinitionNode)
            ]
            if len(operations) > 1:
                # Strawberry would run the first one; the spec says the request is an error.
                first = operations[0].name
                raise GraphQLError(
                    MUST_NAME % (first.value if first else "..."),
                    extensions={"code": "GRAPHQL_VALIDATION_FAILED"},
                )
        yield

    def on_operation(self) -> Iterator[None]:
        yield
        request = getattr(self.execution_context.context, "request", None)
        name = self.execution_context.operation_name
        if request is not None and name:
            request.state.operation_name = name[:100]
