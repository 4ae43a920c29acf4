"""Limits on what one request may cost: body size, query size, depth, aliases, fields.

Parsing stops at the token limit, so a huge query is refused before it is
built; the validation rules below cover what graphql-core has no rule for.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from graphql import (
    ASTValidationRule,
    DocumentNode,
    FieldNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    ValidationContext,
    parse,
)
from starlette.exceptions import HTTPException
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from settings import Settings


def query_parser(settings: Settings):
    """An Ariadne `query_parser` that refuses oversized documents while parsing."""

    def parse_query(_context: Any, data: dict[str, Any]) -> DocumentNode:
        return parse(
            data["query"],
            max_lexical_tokens=settings.max_query_tokens,
            max_comments=settings.max_query_tokens,
            max_source_length=settings.max_query_length,
        )

    return parse_query


def validation_rules(settings: Settings):
    """Ariadne's `validation_rules` hook: the limits, and queries only over GET."""
    limits = (
        _depth_limit(settings.max_query_depth),
        _alias_limit(settings.max_aliases),
        _root_field_limit(settings.max_root_fields),
    )
    with_get = (*limits, QueriesOnlyOverGet)

    def rules(context: Any, _document: DocumentNode, _data: Any) -> tuple[type[ASTValidationRule], ...]:
        request = context["request"]
        return with_get if request.scope.get("method") == "GET" else limits

    return rules


class QueriesOnlyOverGet(ASTValidationRule):
    """GET must not change anything (HTTP semantics, and no CSRF through links)."""

    def enter_operation_definition(self, node: OperationDefinitionNode, *_: Any) -> None:
        if node.operation != OperationType.QUERY:
            self.report_error(
                GraphQLError(
                    f"Only queries can be sent with GET; send this {node.operation.value} with POST.", node
                )
            )


def _selections(
    selection_set: SelectionSetNode | None, context: ValidationContext, seen: frozenset[str]
) -> Iterable[tuple[FieldNode, frozenset[str]]]:
    """The fields of a selection set, looking through fragments (each once per path)."""
    if selection_set is None:
        return
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            yield selection, seen
        elif isinstance(selection, InlineFragmentNode):
            yield from _selections(selection.selection_set, context, seen)
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            fragment = context.get_fragment(name)
            if fragment is not None and name not in seen:
                yield from _selections(fragment.selection_set, context, seen | {name})


def _depth_limit(max_depth: int) -> type[ASTValidationRule]:
    class QueryDepthLimit(ASTValidationRule):
        """Refuse operations nested deeper than the limit (introspection is exempt)."""

        def enter_operation_definition(self, node: OperationDefinitionNode, *_: Any) -> None:
            roots = _selections(node.selection_set, self.context, frozenset())
            stack = [(field, seen, 1) for field, seen in roots]
            while stack:
                field, seen, depth = stack.pop()
                if field.name.value.startswith("__"):
                    continue
                if depth > max_depth:
                    self.report_error(
                        GraphQLError(f"Query is nested too deeply: the limit is {max_depth} levels.", node)
                    )
                    return
                stack.extend(
                    (child, child_seen, depth + 1)
                    for child, child_seen in _selections(field.selection_set, self.context, seen)
                )

    return QueryDepthLimit


def _alias_limit(max_aliases: int) -> type[ASTValidationRule]:
    class AliasLimit(ASTValidationRule):
        """Refuse documents with more aliased fields than the limit."""

        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            self.aliases = 0

        def enter_field(self, node: FieldNode, *_: Any) -> None:
            if node.alias is not None:
                self.aliases += 1
                if self.aliases == max_aliases + 1:
                    self.report_error(
                        GraphQLError(f"Query uses too many aliases: the limit is {max_aliases}.", node)
                    )

    return AliasLimit


def _root_field_limit(max_fields: int) -> type[ASTValidationRule]:
    class RootFieldLimit(ASTValidationRule):
        """Refuse operations that ask for more top-level fields than the limit."""

        def enter_operation_definition(self, node: OperationDefinitionNode, *_: Any) -> None:
            count = sum(1 for _ in _selections(node.selection_set, self.context, frozenset()))
            if count > max_fields:
                self.report_error(
                    GraphQLError(f"Too many top-level fields: the limit is {max_fields}.", node)
                )

    return RootFieldLimit


class BodySizeLimit:
    """ASGI middleware: answer 413 to an HTTP request whose body exceeds its limit.

    A JSON (or any other) body may hold `max_body_size` bytes; a
    `multipart/form-data` body, which carries uploads, `max_multipart_size`.
    A declared Content-Length over the limit is refused before any byte is
    read (and a body within it needs no counting: the server frames the body by
    it); a chunked body is counted as it arrives and refused with an
    HTTPException: Starlette's exception middleware answers it on Starlette's
    path, and this wrapper on the fast path, which has none.
    """

    def __init__(self, app: ASGIApp, max_body_size: int, max_multipart_size: int | None = None) -> None:
        self.app = app
        self.max_body_size = max_body_size
        self.max_multipart_size = max_body_size if max_multipart_size is None else max_multipart_size

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.max_body_size
        declared: bytes | None = None
        for name, value in scope["headers"]:
            if name == b"content-length":
                declared = value
            elif name == b"content-type" and value.lower().startswith(b"multipart/form-data"):
                limit = self.max_multipart_size
        if declared is not None and declared.isdigit():
            if int(declared) > limit:
                await PlainTextResponse(f"Request body exceeds {limit} bytes", status_code=413)(
                    scope, receive, send
                )
                return
            # The server frames the body by its Content-Length: it cannot grow past it.
            await self.app(scope, receive, send)
            return

        detail = f"Request body exceeds {limit} bytes"
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise HTTPException(413, detail)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except HTTPException as error:
            if error.status_code != 413 or started:
                raise
            await PlainTextResponse(detail, status_code=413)(scope, receive, send)
