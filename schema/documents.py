"""Query documents parsed once: clients send the same few queries again and again.

Strawberry's own `ParserCache` caches graphql-core's `parse`, so a syntax error would be
raised inside the extension instead of being reported through the usual path (where
`ErrorCodes` gives it a code). `ParsedOnce` only reuses documents that parsed: on a miss,
Strawberry parses as always, errors included, and a document that parsed is kept.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator

from graphql import DocumentNode
from strawberry.extensions import SchemaExtension

# Longer queries are parsed every time: the cache stays under ~256 x 20 KB of text.
MAX_CACHED_QUERY = 20_000


class ParsedDocuments:
    """The documents of the last `size` distinct queries that parsed, by query text."""

    def __init__(self, size: int = 256) -> None:
        if size < 1:
            raise ValueError(f"size must be at least 1, not {size}")
        self.size = size
        self._documents: OrderedDict[str, DocumentNode] = OrderedDict()

    def get(self, query: str) -> DocumentNode | None:
        document = self._documents.get(query)
        if document is not None:
            self._documents.move_to_end(query)
        return document

    def keep(self, query: str, document: DocumentNode) -> None:
        if len(query) > MAX_CACHED_QUERY:
            return
        self._documents[query] = document
        self._documents.move_to_end(query)
        while len(self._documents) > self.size:
            self._documents.popitem(last=False)

    def __len__(self) -> int:
        return len(self._documents)


class ParsedOnce(SchemaExtension):
    """Hands Strawberry the document of a query parsed before (see the module)."""

    def __init__(self, documents: ParsedDocuments) -> None:
        super().__init__()
        self.documents = documents

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        query = context.query
        known = self.documents.get(query) if query else None
        if known is not None:
            # Strawberry parses only when no document is set yet.
            context.graphql_document = known
        yield
        if query and known is None and context.graphql_document is not None:
            self.documents.keep(query, context.graphql_document)
