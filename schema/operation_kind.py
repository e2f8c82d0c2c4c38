"""Whether a request's operation may write: what decides where its reads go (server/routing.py).

Asked before Strawberry parses the document (the request's reads begin with its token), so
it parses the document itself; a client sends the same few documents again and again, so the
answer for each is kept.
"""

from __future__ import annotations

import functools

from graphql import GraphQLError, OperationType, get_operation_ast, parse

from schema.documents import MAX_CACHED_QUERY


def may_write(query: object, operation_name: object) -> bool:
    """Whether the operation `operation_name` (or the only one) of `query` is a mutation.

    What will not run (no query, a document that does not parse, an operation it does not
    name) writes nothing, so it is False: GraphQL refuses it before any resolver.
    """
    if not isinstance(query, str) or not (
        operation_name is None or isinstance(operation_name, str)
    ):
        return False
    if len(query) > MAX_CACHED_QUERY:
        return _is_mutation(query, operation_name)
    return _kept(query, operation_name)


@functools.lru_cache(maxsize=256)
def _kept(query: str, operation_name: str | None) -> bool:
    return _is_mutation(query, operation_name)


def _is_mutation(query: str, operation_name: str | None) -> bool:
    try:
        document = parse(query)
    except GraphQLError:
        return False
    operation = get_operation_ast(document, operation_name)
    return operation is not None and operation.operation is OperationType.MUTATION
