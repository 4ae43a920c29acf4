"""GraphQL over WebSocket: subprotocol negotiation over Ariadne's two handlers.

`graphql-transport-ws` (graphql-ws library, GraphiQL 2+, Apollo 3.5+, urql)
goes to Ariadne's `GraphQLTransportWSHandler`; `graphql-ws`
(subscriptions-transport-ws: GraphQL Playground, older Apollo) to its
`GraphQLWSHandler`. Both are subclassed only to make each connection own the
tasks it starts, and the legacy one to stop an operation safely.
"""

from __future__ import annotations

import asyncio
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
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect

import json_codec

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
    if task is None or task is asyncio.current_task():
        return
    task.cancel()
    with suppress(asyncio.CancelledError, WebSocketDisconnect):
        await task


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

    async def handle_websocket_subscribe(self, websocket: WebSocket, *args: Any) -> None:
        await super().handle_websocket_subscribe(websocket, *args)
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


class JSONWebSocket(WebSocket):
    """Starlette's WebSocket writing its JSON frames with `json_codec` (orjson, safely)."""

    async def send_json(self, data: Any, mode: str = "text") -> None:
        if mode != "text":
            await super().send_json(data, mode)
            return
        await self.send({"type": "websocket.send", "text": json_codec.dumps(data).decode()})


class NegotiatingWSHandler(GraphQLWebsocketHandlerBase):
    """Picks the handler for the first subprotocol the client offers that we speak."""

    def __init__(self, *handlers_by_subprotocol: tuple[str, GraphQLWebsocketHandlerBase]) -> None:
        super().__init__()
        self.handlers = dict(handlers_by_subprotocol)

    def configure(self, *args: Any, **kwargs: Any) -> None:
        super().configure(*args, **kwargs)
        for handler in self.handlers.values():
            handler.configure(*args, **kwargs)

    def choose(self, scope: Scope) -> GraphQLWebsocketHandlerBase | None:
        for offered in scope.get("subprotocols") or ():
            handler = self.handlers.get(offered)
            if handler is not None:
                return handler
        return None

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.handle_websocket(JSONWebSocket(scope, receive, send))

    async def handle_websocket(self, websocket: WebSocket) -> None:
        handler = self.choose(websocket.scope)
        if handler is not None:
            await handler.handle_websocket(websocket)
            return
        offered = websocket.scope.get("subprotocols") or []
        logger.info("Refused a WebSocket client offering subprotocols %s", offered)
        await websocket.accept()
        await websocket.close(CloseCode.SUBPROTOCOL_NOT_ACCEPTABLE, "Subprotocol not acceptable")
