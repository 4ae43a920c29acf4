"""Ariadne's HTTP handler with a lean path for JSON POSTs, the requests that matter for speed.

A POST with `Content-Type: application/json` skips Starlette's request
parsing and response classes: the body is read straight from the ASGI
channel and parsed with orjson (as `extract_data_from_json_request` parses
it), and the result is written as two ASGI messages. Everything between is
Ariadne's own steps: the document cache, the validation rules, the operation
checks, error formatting and logging, and the status rule of
`create_json_response`, so a request answers exactly as it would through
Ariadne's handler. Ariadne's hooks `handle_request_override`,
`extract_data_from_json_request` and `get_context_for_request` are asked as
Ariadne asks them when a subclass overrides them (their defaults are done
without a coroutine each). An
operation that passed validation and the operation checks once skips them
after, and runs on its plan (plans.py) where it has one. Every other
request (GET, multipart, OPTIONS) goes through Ariadne's handler, with the
same `execute_graphql_query`. Either way an answer is
`application/graphql-response+json` when the client's Accept header prefers
it (GraphQL over HTTP), `application/json` otherwise.

`FastPathApp` is the Starlette app with one shortcut in front: JSON POSTs to
the GraphQL path go to that handler directly, without Starlette's
exception middleware and router, unless middleware has been added to the app
(middleware must see every request, so then nothing is short-cut).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from ariadne.asgi.handlers import GraphQLHTTPHandler
from ariadne.compat import get_execution_context_class_kwargs
from ariadne.constants import DATA_TYPE_JSON
from ariadne.exceptions import HttpBadRequestError, HttpError
from ariadne.graphql import (
    handle_graphql_errors,
    handle_query_result,
    parse_query,
    validate_data,
    validate_operation_is_not_subscription,
    validate_operation_is_query,
    validate_query,
)
from ariadne.types import GraphQLResult
from graphql import DocumentNode, GraphQLError, execute
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

import json_codec
from documents import is_cacheable
from identity_cache import MISSING, IdentityCache
from limits import BodySizeLimit
from plans import compile_plan, is_awaitable

logger = logging.getLogger("chat.http")

# Ariadne's handler methods a subclass may override to change how a JSON POST is answered.
_HOOKS = ("handle_request_override", "extract_data_from_json_request", "get_context_for_request")
_JSON_MEDIA_TYPE = DATA_TYPE_JSON.encode("latin-1")
# GraphQL over HTTP's own media type for responses, answered to clients that ask for it.
GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"
_CONTENT_TYPES = {
    False: (b"content-type", _JSON_MEDIA_TYPE),
    True: (b"content-type", GRAPHQL_RESPONSE_JSON.encode("latin-1")),
}


def wants_graphql_response(accept: str | None) -> bool:
    """Whether an Accept header asks for `application/graphql-response+json` at least as much as
    for `application/json` (or a range covering it), as Apollo Client 4's
    `application/graphql-response+json,application/json;q=0.9` does.

    Such a client reads the body of an error response (400) as a GraphQL response, so it shows
    the server's messages; without an Accept header, or with `*/*`, the answer stays
    `application/json`, as GraphQL over HTTP asks during its transition.
    """
    if not accept:
        return False
    accept = accept.lower()  # media types and parameter names are case-insensitive
    if GRAPHQL_RESPONSE_JSON not in accept:
        return False
    qualities: dict[str, float] = {}
    for media_range in accept.split(","):
        media_type, *parameters = (part.strip() for part in media_range.split(";"))
        quality = 1.0
        for parameter in parameters:
            name, _, value = parameter.partition("=")
            if name.strip() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        qualities[media_type] = max(quality, qualities.get(media_type, 0.0))
    wanted = qualities.get(GRAPHQL_RESPONSE_JSON, 0.0)
    json = max(qualities.get(range_, 0.0) for range_ in (DATA_TYPE_JSON, "application/*", "*/*"))
    return wanted > 0 and wanted >= json


def is_json(content_type: bytes) -> bool:
    """Whether a Content-Type header value is JSON, as Ariadne decides it (its media type, exactly)."""
    return content_type.split(b";", 1)[0] == _JSON_MEDIA_TYPE


def header(scope: Scope, name: bytes) -> str | None:
    """An HTTP request's header `name` (lower case), read from its ASGI scope as Starlette reads it."""
    for key, value in scope["headers"]:
        if key == name:
            return value.decode("latin-1")
    return None


def posts_json(scope: Scope) -> bool:
    """Whether the request is a POST whose (first) Content-Type header is JSON, as Ariadne decides it."""
    if scope["method"] != "POST":
        return False
    for name, value in scope["headers"]:
        if name == b"content-type":
            return is_json(value)
    return False


def json_post_length(scope: Scope) -> int | None:
    """The declared length of a POST with one Content-Type header, JSON; -1 when not declared as a
    number (chunked); None for any other request. One pass over the headers, for the shortcut."""
    if scope["method"] != "POST":
        return None
    content_type = None
    length = -1
    for name, value in scope["headers"]:
        if name == b"content-type":
            if content_type is not None:
                return None
            content_type = value
        elif name == b"content-length":
            length = int(value) if value.isdigit() else -1
    if content_type is None or not is_json(content_type):
        return None
    return length


def log_went_away(request: Request) -> None:
    client = request.client.host if request.client else "?"
    logger.info("Client %s went away before its request body was complete", client)


def result_status(result: dict[str, Any], success: bool) -> int:
    """Ariadne's rule: 200 when the operation ran or produced data, 400 otherwise."""
    return 200 if success or result.get("data") is not None else 400


def whole_body(message: Message) -> bytes | None:
    """The body, when this first message holds all of it (the usual case); else None."""
    if message["type"] == "http.request" and not message.get("more_body", False):
        return message.get("body", b"")
    return None


async def read_rest(receive: Receive, message: Message) -> bytes:
    """The body from its first message on."""
    chunks = []
    while True:
        if message["type"] != "http.request":  # the client went away
            raise ClientDisconnect()
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)
        message = await receive()


def json_body(body: bytes) -> Any:
    try:
        return json_codec.loads(body)
    except ValueError as error:
        raise HttpBadRequestError("Request body is not a valid JSON") from error


def json_response(status: int, content: Any, graphql_response: bool = False) -> tuple[Message, Message]:
    """The two ASGI messages that answer `content` as JSON."""
    body = json_codec.dumps(content)
    headers = [_CONTENT_TYPES[graphql_response], (b"content-length", str(len(body)).encode())]
    return (
        {"type": "http.response.start", "status": status, "headers": headers},
        {"type": "http.response.body", "body": body},
    )


class FastHTTPHandler(GraphQLHTTPHandler):
    """GraphQLHTTPHandler answering JSON POSTs without Starlette's Request/Response round trip."""

    def __init__(self, *args: Any, checked_size: int = 256, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Operations that passed validation and the operation checks, with their plans.
        self._checked = IdentityCache(checked_size)
        # Ariadne's hooks that a subclass overrides are asked as Ariadne asks them; their
        # defaults are done here without a coroutine each.
        self.overridden_hooks = {
            hook for hook in _HOOKS if getattr(type(self), hook) is not getattr(FastHTTPHandler, hook)
        }

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        if posts_json(scope):
            await self.handle_json_post(scope, receive, send)
        else:
            await super().handle(scope, receive, send)

    async def handle_json_post(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A POST whose content type is JSON (the caller has checked)."""
        if self.subscription_handlers:
            await super().handle(scope, receive, send)
            return
        request = Request(scope, receive)
        # Read the body here, once, and leave it where Starlette's Request keeps it, so that
        # request.body() and request.json() in hooks still answer without reading again.
        try:
            first = await receive()
            body = whole_body(first)
            if body is None:
                body = await read_rest(receive, first)
            request._body = body
        except ClientDisconnect:
            log_went_away(request)
            return
        if "handle_request_override" in self.overridden_hooks:
            response = await self.handle_request_override(request)
            if response is not None:
                await response(scope, receive, send)
                return
        try:
            if "extract_data_from_json_request" in self.overridden_hooks:
                data = await self.extract_data_from_json_request(request)
            else:
                data = json_body(body)
        except HttpError as error:
            await PlainTextResponse(error.message or error.status, status_code=HTTPStatus.BAD_REQUEST)(
                scope, receive, send
            )
            return
        success, result = await self.execute_graphql_query(request, data)
        media = wants_graphql_response(header(scope, b"accept"))
        start, answer = json_response(result_status(result, success), result, media)
        await send(start)
        await send(answer)

    async def execute_graphql_query(
        self,
        request: Any,
        data: Any,
        *,
        context_value: Any = None,
        query_document: DocumentNode | None = None,
    ) -> GraphQLResult:
        """Ariadne's `graphql()`, step for step, without the parts this server does not configure.

        Its extension manager, middleware and root value handling cost about a fifth of a small
        request and do nothing here; a handler given extensions, middleware or a root value takes
        Ariadne's own path. The steps kept are Ariadne's functions: the same checks, the same
        validation rules (`validation_rules`, introspection) through the same `query_validator`,
        the same error logging and formatting. What the checks decided is remembered per
        document, operation name, method and rules, with the operation's plan; graphql-core's
        `execute` runs what has no plan.
        """
        if self.extensions or self.middleware or self.root_value is not None or self.schema is None:
            return await super().execute_graphql_query(
                request, data, context_value=context_value, query_document=query_document
            )
        if context_value is None:
            context_value = self.context_for_request(request, data)
            if is_awaitable(context_value):
                context_value = await context_value
        try:
            validate_data(data)
            variables, operation_name = data.get("variables"), data.get("operationName")
            document = query_document or parse_query(context_value, self.query_parser, data)
            rules = self.validation_rules
            if callable(rules):
                rules = rules(context_value, document, data)
            from_get = isinstance(request, Request) and request.method == "GET"
            # What the checks below decide depends on these alone (schema, introspection and
            # validator are the handler's): a document that passed them once passes them again.
            key = (id(document), operation_name, from_get, tuple(rules) if rules else None)
            plan = self._checked.lookup(key)
            if plan is MISSING:
                validation_errors = validate_query(
                    self.schema,
                    document,
                    rules,
                    enable_introspection=self.introspection,
                    query_validator=self.query_validator,
                )
                if validation_errors:
                    return handle_graphql_errors(validation_errors, **self.errors_to())
                if from_get:
                    validate_operation_is_query(document, operation_name)
                else:
                    validate_operation_is_not_subscription(document, operation_name)
                plan = compile_plan(self.schema, document, operation_name)
                if is_cacheable(document):
                    self._checked.remember(key, (document,), plan)
            result = plan.run(context_value, variables) if plan is not None else None
            if result is None:  # no plan, or variables that do not coerce: graphql-core words it
                result = execute(
                    self.schema,
                    document,
                    context_value=context_value,
                    variable_values=variables,
                    operation_name=operation_name,
                    **get_execution_context_class_kwargs(self.execution_context_class),
                )
            if is_awaitable(result):
                result = await result
        except GraphQLError as error:
            return handle_graphql_errors([error], **self.errors_to())
        if result.errors:
            return handle_query_result(result, **self.errors_to())
        return result.data is not None, {"data": result.data}  # Ariadne's answer when all went well

    def context_for_request(self, request: Any, data: Any) -> Any:
        """Ariadne's `get_context_for_request` without its coroutine (unless a subclass overrides it):
        the context, or an awaitable of it."""
        if "get_context_for_request" in self.overridden_hooks:
            return self.get_context_for_request(request, data)
        if callable(self.context_value):
            return self.context_value(request, data)
        return self.context_value or {"request": request}

    def errors_to(self) -> dict[str, Any]:
        """Where Ariadne's error handling logs and how it formats."""
        return {"logger": self.logger, "error_formatter": self.error_formatter, "debug": self.debug}

    async def graphql_http_server(self, request: Request) -> Response:
        """Ariadne's path (multipart uploads, GET), ending an incomplete upload cleanly.

        A client that goes away before its body is complete is logged as one
        INFO line (Ariadne lets the disconnect escape as a server error), and
        the request's temporary upload files are closed, so deleted, once it
        is answered.
        """
        try:
            return await super().graphql_http_server(request)
        except ClientDisconnect:
            log_went_away(request)
            return Response("Request body incomplete", status_code=HTTPStatus.BAD_REQUEST)
        finally:
            await request.close()

    async def extract_data_from_json_request(self, request: Request) -> Any:
        return json_body(await request.body())

    async def create_json_response(self, request: Request, result: dict, success: bool) -> Response:
        """The same answer for requests that take Ariadne's path (GET queries when enabled)."""
        media_type = (
            GRAPHQL_RESPONSE_JSON if wants_graphql_response(request.headers.get("accept")) else DATA_TYPE_JSON
        )
        return Response(json_codec.dumps(result), result_status(result, success), media_type=media_type)


class FastPathApp(Starlette):
    """Starlette, with JSON POSTs to `graphql_path` sent straight to the GraphQL HTTP handler.

    `body_limit` wraps both ways in (the shortcut and Starlette's own stack),
    so every HTTP request passes it, except a JSON POST whose declared
    Content-Length is within the limit: the limit would let it through
    untouched, so it goes straight in. Middleware added to the app must see
    every request, so with any, nothing is short-cut.
    """

    def __init__(
        self,
        *,
        graphql_path: str,
        graphql_handler: FastHTTPHandler,
        body_limit: Callable[[ASGIApp], BodySizeLimit] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.graphql_path = graphql_path
        self.graphql_handler = graphql_handler
        self._shortcut: ASGIApp = graphql_handler.handle_json_post
        self._starlette: ASGIApp = super().__call__
        # A JSON POST that declares a length within this needs nothing from the limit: the server
        # frames its body by that length.
        self._declared_within: float = math.inf
        if body_limit is not None:
            limited = body_limit(graphql_handler.handle_json_post)
            self._shortcut, self._starlette = limited, body_limit(super().__call__)
            self._declared_within = limited.max_body_size

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == self.graphql_path and not self.user_middleware:
            length = json_post_length(scope)
            if length is not None and 0 <= length <= self._declared_within:
                scope["app"] = self
                await self.graphql_handler.handle_json_post(scope, receive, send)
                return
            if posts_json(scope):  # several Content-Type headers, a length over the limit, chunked
                scope["app"] = self
                await self._shortcut(scope, receive, send)
                return
        await self._starlette(scope, receive, send)
