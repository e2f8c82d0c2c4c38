"""Hands the GraphQL operation's name to the request log (see server.observability)."""

from __future__ import annotations

from collections.abc import Iterator

from strawberry.extensions import SchemaExtension


class OperationName(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        yield
        request = getattr(self.execution_context.context, "request", None)
        name = self.execution_context.operation_name
        if request is not None and name:
            request.state.operation_name = name[:100]
