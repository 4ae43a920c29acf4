"""GraphQL over WebSocket: subprotocol negotiation over Ariadne's two handlers.

`graphql-transport-ws` (graphql-ws library, GraphiQL 2+, Apollo 3.5+, urql)
goes to Ariadne's `GraphQLTransportWSHandler`; `graphql-ws`
(subscriptions-transport-ws: GraphQL Playground, older Apollo) to its
`GraphQLWSHandler`. Both are subclassed only to fix what is wrong in them:
each connection owns the tasks it starts; a frame that is not a JSON object
closes the socket with 4400, and an operation that cannot run gets an
`error`, where Ariadne crashed the connection; graphql-transport-ws closes
carry their reasons; and the legacy handler stops an operation safely and
ends a query with `complete`.
"""

from __future__ import annotations

import asyncio
import json
import logging
from contextlib import suppress
from enum import IntEnum
from typing import Any

from ariadne.asgi.handlers import (
    GraphQLTransportWSHandler,
    GraphQLWebsocketHandlerBase,
    GraphQLWSHandler,
)
from ariadne.exceptions import WebSocketConnectionError
from ariadne.graphql import parse_query, validate_data
from ariadne.logger import log_error
from ariadne.types import Operation, QueryParser
from graphql import GraphQLError, OperationType, get_operation_ast
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

import json_codec
from connections import POLICY_VIOLATION, Connections, client_address
from errors import ConnectionUnavailable

logger = logging.getLogger("chat.websocket")

TRANSPORT_WS = "graphql-transport-ws"
LEGACY_WS = "graphql-ws"

# Where a connection keeps the tasks it started, keyed by operation id or role.
_TASKS = "chat.tasks"


class CloseCode(IntEnum):
    """Close codes of the graphql-transport-ws protocol (PROTOCOL.md)."""

    BAD_REQUEST = 4400
    UNAUTHORIZED = 4401
    FORBIDDEN = 4403
    SUBPROTOCOL_NOT_ACCEPTABLE = 4406
    CONNECTION_INITIALISATION_TIMEOUT = 4408
    SUBSCRIBER_ALREADY_EXISTS = 4409
    TOO_MANY_INITIALISATION_REQUESTS = 4429
    # RFC 6455's code for a message too big to process, used by both protocols.
    MESSAGE_TOO_BIG = 1009
    # IANA's "Try Again Later": the store could not check the connection's token.
    TRY_AGAIN_LATER = 1013


# A close frame's reason is at most 123 bytes of UTF-8 (RFC 6455, 5.5.1).
_MAX_REASON_BYTES = 123


async def close(websocket: WebSocket, code: int, reason: str) -> None:
    """Close with a protocol code and its reason, unless the socket is already closed."""
    if WebSocketState.DISCONNECTED in (websocket.client_state, websocket.application_state):
        return
    reason = reason.encode()[:_MAX_REASON_BYTES].decode(errors="ignore")
    with suppress(RuntimeError, OSError):  # the client vanished while we closed
        await websocket.close(code, reason)


class GraphQLWebSocket(WebSocket):
    """A WebSocket that refuses what neither protocol allows before a handler sees it.

    Ariadne's handlers call `receive_json()` and crash the connection, with a
    server traceback, on a binary frame, on text that is not JSON, or on JSON
    that is not an object. Here such a frame closes the socket with 4400,
    as graphql-transport-ws asks of an invalid message, and an oversized one
    with 1009; the handler then ends as on a disconnect.
    """

    max_message_size = 64 * 1024

    async def receive_json(self, mode: str = "text") -> Any:
        message = await self.receive()
        self._raise_on_disconnect(message)
        text = message.get("text")
        limit = self.max_message_size
        if text is not None and (
            len(text) > limit or (len(text) * 4 > limit and len(text.encode("utf-8", "replace")) > limit)
        ):
            await self.refuse(CloseCode.MESSAGE_TOO_BIG, f"Message exceeds {limit} bytes")
        data, problem = _json_object(text)
        if problem is not None:
            await self.refuse(CloseCode.BAD_REQUEST, f"Invalid message received: {problem}")
        return data

    async def send_json(self, data: Any, mode: str = "text") -> None:
        # orjson where it writes as json does; valid UTF-8 even for lone surrogates.
        # A result shared by many subscriptions (`execution.Delivery`) is written once.
        await self.send({"type": "websocket.send", "text": json_codec.dumps_frame(data).decode()})

    async def send(self, message: Any) -> None:
        # Starlette raises RuntimeError for a send after the close; for the
        # handlers' tasks that is a disconnect like any other.
        if self.application_state == WebSocketState.DISCONNECTED:
            raise WebSocketDisconnect(1000)
        await super().send(message)

    async def refuse(self, code: int, reason: str) -> Any:
        logger.info("Closing WebSocket from %s (%d): %s", client_address(self), code, reason)
        await close(self, code, reason)
        raise WebSocketDisconnect(code, reason)


def _json_object(text: str | None) -> tuple[dict[str, Any], str | None]:
    """The JSON object in a text frame, or what is wrong with the frame."""
    if text is None:
        return {}, "binary frame"
    try:
        data = json.loads(text)
    except ValueError:
        return {}, "not JSON"
    if not isinstance(data, dict):
        return {}, "not a JSON object"
    return data, None


def _is_object_or_absent(value: Any) -> bool:
    return value is None or isinstance(value, dict)


def transport_message_problem(message: dict[str, Any]) -> str | None:
    """What makes a client's graphql-transport-ws message invalid, or None if it is valid."""
    kind = message.get("type")
    if kind in ("connection_init", "ping", "pong"):
        return None if _is_object_or_absent(message.get("payload")) else "payload is not an object"
    if kind not in ("subscribe", "complete"):
        return f"unknown type {kind!r}" if isinstance(kind, str) else "type is missing"
    operation_id = message.get("id")
    if not isinstance(operation_id, str) or not operation_id:
        return "id is not a non-empty string"
    if kind == "complete":
        return None
    payload = message.get("payload")
    if not isinstance(payload, dict):
        return "payload is not an object"
    if not isinstance(payload.get("query"), str):
        return "query is not a string"
    if not isinstance(payload.get("operationName"), str | None):
        return "operationName is not a string"
    if not _is_object_or_absent(payload.get("variables")):
        return "variables is not an object"
    if not _is_object_or_absent(payload.get("extensions")):
        return "extensions is not an object"
    return None


def checked_operation_type(data: Any, query_parser: QueryParser | None) -> OperationType:
    """The type of the operation a payload asks to run.

    Raises GraphQLError for what Ariadne's handlers would not survive: a
    payload that is not an operation, or a document without the named (or
    any) operation, on which Ariadne raises RuntimeError and drops the
    connection. It parses with the app's parser (its limits apply) once more
    than Ariadne does: one parse per operation started, not per event.
    """
    validate_data(data)
    operation_name = data.get("operationName")
    operation = get_operation_ast(parse_query(None, query_parser, data), operation_name)
    if operation is None:
        if operation_name:
            raise GraphQLError(f"Unknown operation named '{operation_name}'.")
        raise GraphQLError("The document must contain exactly one operation, or name one.")
    return operation.operation


def _tasks(websocket: WebSocket) -> dict[str, asyncio.Task]:
    return websocket.scope.setdefault(_TASKS, {})


def _own_current_task(websocket: WebSocket, key: str) -> asyncio.Task:
    task = asyncio.current_task()
    assert task is not None
    previous = _tasks(websocket).get(key)
    if previous is not None and previous is not task:
        previous.cancel()
    _tasks(websocket)[key] = task
    return task


def _disown(websocket: WebSocket, key: str, task: asyncio.Task) -> None:
    if _tasks(websocket).get(key) is task:
        del _tasks(websocket)[key]


async def _cancel(task: asyncio.Task | None) -> None:
    """Cancel and await a task; a cleanup path must go on whatever the task ended with."""
    if task is None or task is asyncio.current_task():
        return
    task.cancel()
    try:
        await task
    except (asyncio.CancelledError, WebSocketDisconnect):
        pass
    except Exception:
        logger.exception("A WebSocket connection's task failed")


class _ConnectionOwnsTasks:
    """When a connection ends, every task it started is cancelled and awaited."""

    async def handle_websocket(self, websocket: WebSocket) -> None:
        try:
            await super().handle_websocket(websocket)  # type: ignore[misc]
        finally:
            for task in list(_tasks(websocket).values()):
                await _cancel(task)


class TransportWSHandler(_ConnectionOwnsTasks, GraphQLTransportWSHandler):
    """Ariadne's graphql-transport-ws handler, owning its per-connection tasks.

    Ariadne closes with the protocol's codes but no reasons, and lets a
    malformed `subscribe` (no id, no query, variables that are not an
    object) crash the connection; here every rule of PROTOCOL.md closes
    with its code and reason, checked before Ariadne handles the message.
    """

    async def handle_connection_init_timeout(self, websocket: WebSocket, client_context: Any) -> None:
        task = _own_current_task(websocket, "init-timeout")
        try:
            await asyncio.sleep(self.connection_init_wait_timeout.total_seconds())
            if not client_context.connection_init_received:
                await close(
                    websocket,
                    CloseCode.CONNECTION_INITIALISATION_TIMEOUT,
                    "Connection initialisation timeout",
                )
        finally:
            _disown(websocket, "init-timeout", task)

    async def handle_websocket_connection_init_message(
        self, websocket: WebSocket, message: dict[str, Any], client_context: Any
    ) -> None:
        # Ariadne closes a refused connection with 1000 and logs a traceback;
        # the protocol wants 4403 Forbidden. (A second init is refused earlier.)
        client_context.connection_init_received = True
        if self.on_connect is not None:
            try:
                await self.on_connect(websocket, message.get("payload"))
            except ConnectionUnavailable as unavailable:
                await close(websocket, CloseCode.TRY_AGAIN_LATER, unavailable.payload["message"])
                return
            except WebSocketConnectionError as refused:
                logger.info("Refused a connection from %s: %s", client_address(websocket), refused.payload)
                await close(websocket, CloseCode.FORBIDDEN, "Forbidden")
                return
        await websocket.send_json({"type": self.GQL_CONNECTION_ACK})
        client_context.connection_acknowledged = True

    async def observe_async_results(self, websocket: WebSocket, *args: Any) -> None:
        # Ariadne's version lets a disconnect escape the task before it
        # forgets the operation; stopping the operation then re-raises it
        # and the connection's other operations are never closed.
        with suppress(WebSocketDisconnect):
            await super().observe_async_results(websocket, *args)

    async def handle_websocket_message(
        self, websocket: WebSocket, message: dict[str, Any], client_context: Any
    ) -> None:
        problem = transport_message_problem(message)
        kind = message.get("type")
        if problem is not None:
            await close(websocket, CloseCode.BAD_REQUEST, f"Invalid message received: {problem}")
        elif kind == self.GQL_CONNECTION_INIT and client_context.connection_init_received:
            await close(
                websocket, CloseCode.TOO_MANY_INITIALISATION_REQUESTS, "Too many initialisation requests"
            )
        elif kind == self.GQL_SUBSCRIBE and not client_context.connection_acknowledged:
            await close(websocket, CloseCode.UNAUTHORIZED, "Unauthorized")
        elif kind == self.GQL_SUBSCRIBE and message["id"] in client_context.operations:
            await close(
                websocket,
                CloseCode.SUBSCRIBER_ALREADY_EXISTS,
                f"Subscriber for {message['id']} already exists",
            )
        else:
            await super().handle_websocket_message(websocket, message, client_context)

    async def handle_websocket_subscribe(
        self, websocket: WebSocket, data: Any, operation_id: str, client_context: Any
    ) -> None:
        try:
            checked_operation_type(data, self.query_parser)
        except GraphQLError as error:
            log_error(error, self.logger)
            payload = [self.error_formatter(error, self.debug)]
            await websocket.send_json({"type": self.GQL_ERROR, "id": operation_id, "payload": payload})
            return
        await super().handle_websocket_subscribe(websocket, data, operation_id, client_context)
        # Let the new operation's task reach its source, so that stopping it
        # at once still closes (and unregisters) the subscription.
        await asyncio.sleep(0)


class LegacyWSHandler(_ConnectionOwnsTasks, GraphQLWSHandler):
    """Ariadne's graphql-ws handler, fixed to stop an active operation safely.

    Ariadne 1.1's handler closes a running subscription's generator from
    another task ("aclose(): asynchronous generator is already running"),
    which kills the connection and leaks the operation. Like the
    transport handler, this one cancels the task iterating the generator
    first, then closes the generator.

    It also answers a query or mutation with `complete` after its `data`,
    as subscriptions-transport-ws servers do (Ariadne sends none, so those
    clients wait for the end forever), a malformed `start` with `error`
    instead of dropping the connection, and a `start` reusing the id of a
    live operation by stopping that one first, whatever the new one is (Ariadne
    left it running beside a query or a failed start with the same id).
    """

    KNOWN_TYPES = frozenset(
        {
            GraphQLWSHandler.GQL_CONNECTION_INIT,
            GraphQLWSHandler.GQL_CONNECTION_TERMINATE,
            GraphQLWSHandler.GQL_START,
            GraphQLWSHandler.GQL_STOP,
        }
    )

    async def handle_websocket_message(
        self, websocket: WebSocket, message: dict, operations: dict[str, Operation]
    ) -> None:
        kind = message.get("type")
        if kind in self.KNOWN_TYPES:
            await super().handle_websocket_message(websocket, message, operations)
            return
        logger.info("Legacy WebSocket client from %s sent type %r", client_address(websocket), kind)
        payload = {"message": f"Invalid message type: {kind!r}"}
        frame: dict[str, Any] = {"type": self.GQL_ERROR, "payload": payload}
        if isinstance(message.get("id"), str):
            frame["id"] = message["id"]
        await websocket.send_json(frame)

    async def process_single_message(
        self, websocket: WebSocket, data: Any, operation_id: str, operations: dict[str, Operation]
    ) -> None:
        if operation_id in operations:
            # A client reusing a live id replaces that operation, as subscriptions-transport-ws
            # servers do, whatever the new one turns out to be (an error, a query).
            await self.stop_websocket_operation(websocket, operations.pop(operation_id))
        try:
            kind = checked_operation_type(data, self.query_parser)
        except GraphQLError as error:
            log_error(error, self.logger)
            payload = self.error_formatter(error, self.debug)
            await websocket.send_json({"type": self.GQL_ERROR, "id": operation_id, "payload": payload})
            return
        await super().process_single_message(websocket, data, operation_id, operations)
        if kind != OperationType.SUBSCRIPTION and WebSocketState.DISCONNECTED not in (
            websocket.client_state,
            websocket.application_state,
        ):
            await websocket.send_json({"type": self.GQL_COMPLETE, "id": operation_id})

    async def start_websocket_operation(
        self,
        websocket: WebSocket,
        data: Any,
        context_value: Any,
        query_document: Any,
        operation_id: str,
        operations: dict[str, Operation],
    ) -> None:
        await super().start_websocket_operation(
            websocket, data, context_value, query_document, operation_id, operations
        )
        await asyncio.sleep(0)  # see TransportWSHandler.handle_websocket_subscribe

    async def observe_async_results(self, websocket: WebSocket, results: Any, operation_id: str) -> None:
        key = f"operation:{operation_id}"
        task = _own_current_task(websocket, key)
        try:
            await super().observe_async_results(websocket, results, operation_id)
        except WebSocketDisconnect:
            pass
        finally:
            _disown(websocket, key, task)

    async def stop_websocket_operation(self, websocket: WebSocket, operation: Operation) -> None:
        await _cancel(_tasks(websocket).pop(f"operation:{operation.id}", None))
        await super().stop_websocket_operation(websocket, operation)

    async def keep_websocket_alive(self, websocket: WebSocket) -> None:
        task = _own_current_task(websocket, "keepalive")
        try:
            await super().keep_websocket_alive(websocket)
        finally:
            _disown(websocket, "keepalive", task)


class NegotiatingWSHandler(GraphQLWebsocketHandlerBase):
    """Picks the handler for the first subprotocol the client offers that we speak."""

    def __init__(
        self,
        *handlers_by_subprotocol: tuple[str, GraphQLWebsocketHandlerBase],
        connections: Connections,
        max_message_size: int,
    ) -> None:
        super().__init__()
        self.handlers = dict(handlers_by_subprotocol)
        self.connections = connections
        self.websocket_class = type(
            "GraphQLWebSocket", (GraphQLWebSocket,), {"max_message_size": max_message_size}
        )

    def configure(self, *args: Any, **kwargs: Any) -> None:
        super().configure(*args, **kwargs)
        for handler in self.handlers.values():
            handler.configure(*args, **kwargs)

    def choose(self, scope: Scope) -> tuple[str, GraphQLWebsocketHandlerBase] | None:
        for offered in scope.get("subprotocols") or ():
            handler = self.handlers.get(offered)
            if handler is not None:
                return offered, handler
        return None

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.handle_websocket(self.websocket_class(scope, receive, send))

    async def handle_websocket(self, websocket: WebSocket) -> None:
        chosen = self.choose(websocket.scope)
        if chosen is None:
            offered = websocket.scope.get("subprotocols") or []
            logger.info("Refused a WebSocket client offering subprotocols %s", offered)
            await websocket.accept()
            await close(websocket, CloseCode.SUBPROTOCOL_NOT_ACCEPTABLE, "Subprotocol not acceptable")
            return
        subprotocol, handler = chosen
        if not self.connections.admit(websocket):
            logger.info("Refused a WebSocket client: too many connections from %s", client_address(websocket))
            await websocket.accept(subprotocol)
            await close(websocket, POLICY_VIOLATION, "Too many connections from this address")
            return
        try:
            await handler.handle_websocket(websocket)
        finally:
            self.connections.release(websocket)
