"""Clients that vanish without a word leave nothing behind on a real uvicorn server."""

from __future__ import annotations

import asyncio
import json
import time

import httpx
import pytest
import websockets

from tests.operations import CREATE_USER, SUBSCRIBE, USER_ID


async def subscribe_and_vanish(server, subprotocol: str, count: int) -> None:
    start = {"graphql-ws": "start", "graphql-transport-ws": "subscribe"}[subprotocol]
    for n in range(count):
        ws = await websockets.connect(server.ws_url, subprotocols=[subprotocol])
        await ws.send(json.dumps({"type": "connection_init", "payload": {}}))
        await ws.recv()
        for op in range(3):
            payload = {"query": SUBSCRIBE, "variables": {"userId": "1"}}
            await ws.send(json.dumps({"type": start, "id": f"{n}-{op}", "payload": payload}))
        if n % 2:  # half of them vanish once surely subscribed, half at once
            await ws.send(json.dumps({"type": start, "id": "sync", "payload": {"query": USER_ID}}))
            while json.loads(await ws.recv()).get("id") != "sync":
                pass
            assert server.call(server.app.state.hub.count) >= 3
        ws.transport.abort()  # TCP reset: no close frame, no stop


@pytest.mark.parametrize("subprotocol", ["graphql-ws", "graphql-transport-ws"])
def test_abrupt_disconnects_leave_no_subscription(live, subprotocol, server_errors):
    httpx.post(live.url, json={"query": CREATE_USER, "variables": {"username": "ann"}})
    asyncio.run(subscribe_and_vanish(live, subprotocol, 100))
    deadline = time.monotonic() + 10
    while live.call(live.app.state.hub.count) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert live.call(live.app.state.hub.count) == 0
    assert server_errors() == []
