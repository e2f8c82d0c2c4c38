"""Every error leaves with an `extensions.code`; unexpected ones reveal nothing inside."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension

from schema.limits import DIRECTIVES_MARKER, FIELDS_MARKER, NESTING_MARKER
from server.errors import DomainError

logger = logging.getLogger("contacts_server.errors")

INTERNAL_MESSAGE = "Something went wrong on our side; nothing of this request was saved."
# For a stack overflow while parsing or validating: the document is at fault, and Python's
# own "maximum recursion depth exceeded" says nothing useful to a client.
TOO_DEEP_MESSAGE = "The query is too complex: it nests too deeply."


def _with_code(error: GraphQLError, message: str, code: str) -> GraphQLError:
    return GraphQLError(
        message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        extensions={"code": code},
    )


# The limiters' own messages (schema/limits.py, keeping Strawberry's wording for depth and
# aliases, and graphql-core's parser); tests pin each of them.
_TOO_COMPLEX_MARKERS = (
    "exceeds maximum operation depth",
    "aliases found. Allowed",
    "tokens. Parsing",
    NESTING_MARKER,
    FIELDS_MARKER,
    DIRECTIVES_MARKER,
)
# graphql-core's answers to a document nested too deeply for its recursive code: the
# parser's syntax error, and validation's abort (from 200 nested fragment spreads; the
# limits rule refuses far fewer, so this one comes only beside its error). The abort's
# message must match whole: after 100 errors validation stops with a longer message that
# ends the same way, and that one is not about nesting.
_TOO_DEEP_PARSE_MARKER = "Document is nested too deeply"
_TOO_DEEP_VALIDATION_MESSAGE = "Validation aborted."


def too_complex(error: GraphQLError | None = None) -> GraphQLError:
    """The masked error for a document that overflowed the stack."""
    return GraphQLError(
        TOO_DEEP_MESSAGE,
        nodes=error.nodes if error else None,
        extensions={"code": "QUERY_TOO_COMPLEX"},
    )


def is_unexpected(error: GraphQLError) -> bool:
    """True for a fault of ours; False for the client's (a bad query, input or permission),
    which is answered with its code and is no cause for alarm."""
    original = error.original_error
    # A RecursionError here is a document nested too deeply: refused as QUERY_TOO_COMPLEX.
    if original is None or isinstance(original, GraphQLError | DomainError | RecursionError):
        return False
    return not (error.extensions and "code" in error.extensions)


def shape_error(error: GraphQLError) -> GraphQLError:
    original = error.original_error
    if isinstance(original, RecursionError) or (
        original is None
        and (
            _TOO_DEEP_PARSE_MARKER in error.message or error.message == _TOO_DEEP_VALIDATION_MESSAGE
        )
    ):
        return too_complex(error)
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


_SUGGESTION = re.compile(r"\s*Did you mean [^?]*\?")


def without_suggestions(message: str) -> str:
    """graphql-core's message without its "Did you mean ...?" (names from the schema)."""
    return _SUGGESTION.sub("", message).strip()


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


def one_too_complex(errors: list[GraphQLError]) -> list[GraphQLError]:
    """A document refused as too complex gets that one error alone: graphql-core's abort
    beside the limits rule's error is the same refusal said twice, and the other rules'
    errors (one per repeated unknown directive, say) are what the limit is there to stop."""
    for error in errors:
        if (error.extensions or {}).get("code") == "QUERY_TOO_COMPLEX":
            return [error]
    return errors


class ErrorCodes(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        try:
            yield
        except RecursionError:
            # Raised out of a hook (parsing or validation), it would skip the shaping
            # below; Strawberry answers a GraphQLError raised here as it is.
            raise too_complex() from None
        result = self.execution_context.result
        errors = getattr(result, "errors", None)
        if result is not None and errors:
            result.errors = one_too_complex([shape_error(error) for error in errors])
