"""A bounded cache of parsed and validated GraphQL documents.

Parsing and validating a small operation costs far more than executing it,
and clients send the same few operation texts again and again. The cache
plugs into Ariadne's `query_parser` and `query_validator` hooks, so every path
(HTTP and both WebSocket protocols) uses it. Both results are exact: a
document depends only on its text, and validation only on the schema, the
document and the rules in use, which together make the validation key.
Failures to parse are not cached, nor are operations longer than
`MAX_CACHED_QUERY_LENGTH` (so the cache's memory stays bounded by its size
whatever clients send); both caches forget the least recently used entry
beyond `size`.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Collection
from typing import Any

from ariadne.types import QueryParser
from graphql import DocumentNode, GraphQLError, GraphQLSchema, parse, validate
from graphql.validation import ASTValidationRule

# Far above any operation a client sends by hand or a tool generates (GraphiQL's introspection: ~3,000).
MAX_CACHED_QUERY_LENGTH = 20_000


def is_cacheable(document: DocumentNode) -> bool:
    """Whether what is derived from `document` may be kept: whether its text is not too long."""
    return document.loc is None or len(document.loc.source.body) <= MAX_CACHED_QUERY_LENGTH


class DocumentCache:
    """Ariadne `query_parser` and `query_validator` hooks backed by two LRU caches."""

    def __init__(self, size: int, parser: QueryParser | None = None) -> None:
        self.size = size
        # The app's parser (with its size limits); graphql-core's plain `parse` by default.
        self._parse = parser or (lambda _context, data: parse(data["query"]))
        self._documents: OrderedDict[str, DocumentNode] = OrderedDict()
        # Keyed by identities: the entry holds the schema and document, so their ids stay theirs.
        self._validations: OrderedDict[
            tuple[Any, ...], tuple[GraphQLSchema, DocumentNode, list[GraphQLError]]
        ] = OrderedDict()

    def parse(self, context: Any, data: dict[str, Any]) -> DocumentNode:
        """Ariadne's `query_parser`: the parsed document of `data["query"]`."""
        text = data["query"]
        document = self._documents.get(text)
        if document is not None:
            self._documents.move_to_end(text)
            return document
        document = self._parse(context, data)
        if len(text) <= MAX_CACHED_QUERY_LENGTH:
            self._remember(self._documents, text, document)
        return document

    def validate(
        self,
        schema: GraphQLSchema,
        document: DocumentNode,
        rules: Collection[type[ASTValidationRule]] | None = None,
        max_errors: int | None = None,
        **options: Any,
    ) -> list[GraphQLError]:
        """Ariadne's `query_validator`: graphql-core's `validate`, remembered per schema, document, rules."""
        key = (
            id(schema),
            id(document),
            None if rules is None else tuple(rules),
            max_errors,
            *options.items(),
        )
        entry = self._validations.get(key)
        if entry is not None and entry[0] is schema and entry[1] is document:
            self._validations.move_to_end(key)
            return list(entry[2])
        errors = validate(schema, document, rules, max_errors, **options)
        if is_cacheable(document):
            self._remember(self._validations, key, (schema, document, errors))
        return list(errors)

    def __len__(self) -> int:
        return len(self._documents)

    def _remember(self, cache: OrderedDict, key: Any, value: Any) -> None:
        if self.size <= 0:
            return
        cache[key] = value
        if len(cache) > self.size:
            cache.popitem(last=False)
