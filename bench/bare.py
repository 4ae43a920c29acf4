"""The reference: a bare ASGI app on the same uvicorn, no GraphQL.

Its HTTP endpoint reads a JSON body and answers JSON; when the body's
variables name a recipient (`to`), it also sends that recipient's WebSocket
subscribers one frame each before answering. Its WebSocket endpoint speaks
just enough graphql-transport-ws (init/ack, subscribe, ping/pong, complete)
for the benchmark's receiver to drive it exactly as it drives the chat server.
The benchmark's figures are ratios against this app, measured in the same run.
"""

from __future__ import annotations

from typing import Any

import orjson

_HEADERS = [(b"content-type", b"application/json")]

# recipient id -> {(send callable, operation id)}
_subscribers: dict[str, set[tuple[Any, str]]] = {}


async def _read_body(receive: Any) -> bytes:
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            return body


async def _http(scope: Any, receive: Any, send: Any) -> None:
    data = orjson.loads(await _read_body(receive))
    variables = data.get("variables") or {}
    recipient = variables.get("to")
    if recipient is None:
        result: dict[str, Any] = {"data": {"userId": "1"}}
    else:
        message = {
            "content": variables.get("content"),
            "senderId": variables.get("from"),
            "recipientId": recipient,
        }
        for ws_send, operation_id in list(_subscribers.get(recipient, ())):
            frame = {"id": operation_id, "type": "next", "payload": {"data": {"messages": message}}}
            await ws_send({"type": "websocket.send", "text": orjson.dumps(frame).decode()})
        result = {"data": {"createMessage": {"success": True, "errors": None, "message": message}}}
    body = orjson.dumps(result)
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [*_HEADERS, (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _websocket(scope: Any, receive: Any, send: Any) -> None:
    mine: dict[str, str] = {}  # operation id -> recipient id
    try:
        while True:
            event = await receive()
            if event["type"] == "websocket.connect":
                await send({"type": "websocket.accept", "subprotocol": "graphql-transport-ws"})
                continue
            if event["type"] == "websocket.disconnect":
                return
            message = orjson.loads(event.get("text") or event.get("bytes"))
            kind = message.get("type")
            if kind == "connection_init":
                await send({"type": "websocket.send", "text": '{"type":"connection_ack"}'})
            elif kind == "ping":
                await send({"type": "websocket.send", "text": '{"type":"pong"}'})
            elif kind == "subscribe":
                recipient = message["payload"]["variables"]["userId"]
                mine[message["id"]] = recipient
                _subscribers.setdefault(recipient, set()).add((send, message["id"]))
            elif kind == "complete":
                recipient = mine.pop(message["id"], None)
                if recipient is not None:
                    _subscribers[recipient].discard((send, message["id"]))
    finally:
        for operation_id, recipient in mine.items():
            _subscribers[recipient].discard((send, operation_id))


async def app(scope: Any, receive: Any, send: Any) -> None:
    if scope["type"] == "http":
        await _http(scope, receive, send)
    elif scope["type"] == "websocket":
        await _websocket(scope, receive, send)
    elif scope["type"] == "lifespan":
        while True:
            event = await receive()
            if event["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            else:
                await send({"type": "lifespan.shutdown.complete"})
                return
