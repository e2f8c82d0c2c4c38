"""Every error leaves with an `extensions.code`; unexpected ones reveal nothing inside."""

from __future__ import annotations

import logging
from collections.abc import Iterator

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension

from server.errors import DomainError

logger = logging.getLogger("contacts_server.errors")

INTERNAL_MESSAGE = "Something went wrong on our side; nothing of this request was saved."


def _with_code(error: GraphQLError, message: str, code: str) -> GraphQLError:
    return GraphQLError(
        message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        extensions={"code": code},
    )


# The limiters' own messages (strawberry and graphql-core); tests pin each of them.
_TOO_COMPLEX_MARKERS = (
    "exceeds maximum operation depth",
    "aliases found. Allowed",
    "tokens. Parsing",
)


def is_unexpected(error: GraphQLError) -> bool:
    """True for a fault of ours; False for the client's (a bad query, input or permission),
    which is answered with its code and is no cause for alarm."""
    original = error.original_error
    if original is None or isinstance(original, GraphQLError | DomainError):
        return False
    return not (error.extensions and "code" in error.extensions)


def shape_error(error: GraphQLError) -> GraphQLError:
    original = error.original_error
    if original is None and any(marker in error.message for marker in _TOO_COMPLEX_MARKERS):
        return _with_code(error, f"The query is too complex: {error.message}", "QUERY_TOO_COMPLEX")
    if isinstance(original, DomainError):
        return _with_code(error, original.message, original.code)
    if error.extensions and "code" in error.extensions:
        return error
    if not is_unexpected(error):
        # Syntax, validation and variable errors: the client's query is at fault.
        return _with_code(error, error.message, "GRAPHQL_VALIDATION_FAILED")
    return _with_code(error, INTERNAL_MESSAGE, "INTERNAL_SERVER_ERROR")


def log_errors(errors: list[GraphQLError], request_id: str | None) -> None:
    """Logs what went wrong without what the client sent (CONTRACT.md, "Privacy of logs").

    A GraphQLError's text quotes the query around its location, and a client's mistake is
    not an incident: expected errors go to DEBUG. An unexpected one is an ERROR with its
    request ID and its traceback, whose messages JsonFormatter withholds above DEBUG.
    """
    for error in errors:
        if is_unexpected(error):
            logger.error(
                "unexpected error",
                exc_info=error.original_error,
                extra={"fields": {"request_id": request_id, "path": error.path}},
            )
        else:
            logger.debug(
                "client error: %s",
                error.message,
                extra={"fields": {"request_id": request_id, "path": error.path}},
            )


class ErrorCodes(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        errors = getattr(result, "errors", None)
        if result is not None and errors:
            result.errors = [shape_error(error) for error in errors]
