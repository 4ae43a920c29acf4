"""GraphQL over WebSocket: subprotocol negotiation over Ariadne's two handlers.

`graphql-transport-ws` (graphql-ws library, GraphiQL 2+, Apollo 3.5+, urql)
goes to Ariadne's `GraphQLTransportWSHandler`; `graphql-ws`
(subscriptions-transport-ws: GraphQL Playground, older Apollo) to its
`GraphQLWSHandler`. Both are subclassed only to make each connection own the
tasks it starts, and the legacy one to stop an operation safely.
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
from ariadne.types import Operation
from graphql import GraphQLError
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from connections import POLICY_VIOLATION, Connections, client_address

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
    # RFC 6455 codes used by both protocols.
    MESSAGE_TOO_BIG = 1009


class GuardedWebSocket(WebSocket):
    """A WebSocket that refuses what neither protocol allows before a handler sees it.

    Ariadne's handlers read with `receive_json()`: a binary frame, text that
    is not a JSON object, or an oversized message would raise inside them and
    kill the connection with a traceback. Here each closes the connection
    with a code and a reason, and the handler ends as on a disconnect.
    """

    max_message_size = 64 * 1024

    async def receive_json(self, mode: str = "text") -> Any:
        message = await self.receive()
        self._raise_on_disconnect(message)
        text = message.get("text")
        if text is None:
            await self.refuse(CloseCode.BAD_REQUEST, "Binary frames are not supported")
        limit = self.max_message_size
        if len(text) > limit or (len(text) * 4 > limit and len(text.encode("utf-8", "replace")) > limit):
            await self.refuse(CloseCode.MESSAGE_TOO_BIG, f"Message exceeds {limit} bytes")
        try:
            data = json.loads(text)
        except ValueError:
            await self.refuse(CloseCode.BAD_REQUEST, "Message is not valid JSON")
        if not isinstance(data, dict):
            await self.refuse(CloseCode.BAD_REQUEST, "Message must be a JSON object")
        return data

    async def send_json(self, data: Any, mode: str = "text") -> None:
        try:
            await super().send_json(data, mode)
        except UnicodeEncodeError:
            # A lone surrogate echoed back (in an error message, say) cannot be
            # UTF-8 encoded: send it \u-escaped, which JSON allows.
            await self.send_text(json.dumps(data, separators=(",", ":")))

    async def send(self, message: Any) -> None:
        # Starlette raises RuntimeError for a send after the close; for the
        # handlers' tasks that is a disconnect like any other.
        if self.application_state == WebSocketState.DISCONNECTED:
            raise WebSocketDisconnect(1000)
        await super().send(message)

    async def refuse(self, code: int, reason: str) -> Any:
        logger.info("Closing WebSocket from %s (%d): %s", client_address(self), code, reason)
        await self.close(code, reason)
        raise WebSocketDisconnect(code, reason)


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
    """Ariadne's graphql-transport-ws handler, owning its per-connection tasks."""

    async def handle_connection_init_timeout(self, websocket: WebSocket, client_context: Any) -> None:
        task = _own_current_task(websocket, "init-timeout")
        try:
            await super().handle_connection_init_timeout(websocket, client_context)
        finally:
            _disown(websocket, "init-timeout", task)

    async def observe_async_results(self, websocket: WebSocket, *args: Any) -> None:
        # Ariadne's version lets a disconnect escape the task before it
        # forgets the operation; stopping the operation then re-raises it
        # and the connection's other operations are never closed.
        with suppress(WebSocketDisconnect):
            await super().observe_async_results(websocket, *args)

    async def handle_websocket_subscribe(self, websocket: WebSocket, *args: Any) -> None:
        try:
            await super().handle_websocket_subscribe(websocket, *args)
        except GraphQLError as error:  # a payload that is not an operation
            await websocket.refuse(CloseCode.BAD_REQUEST, f"Invalid subscribe payload: {error.message}")
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
        if message.get("type") not in self.KNOWN_TYPES:
            text = f"Invalid message type: {message.get('type')!r}"
            await self.send_error(websocket, message.get("id"), text)
            return
        try:
            await super().handle_websocket_message(websocket, message, operations)
        except GraphQLError as error:  # a start payload that is not an operation
            await self.send_error(websocket, message.get("id"), error.message)

    async def send_error(self, websocket: WebSocket, operation_id: Any, text: str) -> None:
        logger.info("Legacy WebSocket client error from %s: %s", client_address(websocket), text)
        frame: dict[str, Any] = {"type": GraphQLWSHandler.GQL_ERROR, "payload": {"message": text}}
        if isinstance(operation_id, str):
            frame["id"] = operation_id
        await websocket.send_json(frame)

    async def start_websocket_operation(
        self,
        websocket: WebSocket,
        data: Any,
        context_value: Any,
        query_document: Any,
        operation_id: str,
        operations: dict[str, Operation],
    ) -> None:
        if operation_id in operations:
            # A client reusing a live id replaces that operation, as
            # subscriptions-transport-ws servers do.
            await self.stop_websocket_operation(websocket, operations.pop(operation_id))
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
            "GuardedWebSocket", (GuardedWebSocket,), {"max_message_size": max_message_size}
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
            await websocket.close(CloseCode.SUBPROTOCOL_NOT_ACCEPTABLE, "Subprotocol not acceptable")
            return
        if not self.connections.admit(websocket):
            logger.info("Refused a WebSocket client: too many connections from %s", client_address(websocket))
            await websocket.accept(chosen[0])
            await websocket.close(POLICY_VIOLATION, "Too many connections from this address")
            return
        handler = chosen[1]
        try:
            await handler.handle_websocket(websocket)
        finally:
            self.connections.release(websocket)
