"""A raw WebSocket client's helpers (the `websockets` library) for the protocol tests."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
import websockets

TRANSPORT = "graphql-transport-ws"
LEGACY = "graphql-ws"
INIT = json.dumps({"type": "connection_init", "payload": {}})
PING = json.dumps({"type": "ping"})


async def receive(ws: Any, wait: float = 5) -> dict:
    return json.loads(await asyncio.wait_for(ws.recv(), wait))


async def acknowledged(ws: Any) -> None:
    await ws.send(INIT)
    assert await receive(ws) == {"type": "connection_ack"}


async def round_trip(ws: Any) -> list[dict]:
    """Ping and return every frame up to the pong: the server has handled all sent before."""
    await ws.send(PING)
    frames = []
    while (frame := await receive(ws))["type"] != "pong":
        frames.append(frame)
    return frames


async def close_of(ws: Any, wait: float = 5) -> tuple[int, str]:
    """Read until the server closes the socket; its close code and reason."""
    with pytest.raises(websockets.ConnectionClosed) as closed:
        async with asyncio.timeout(wait):
            while True:
                await ws.recv()
    assert closed.value.rcvd is not None, "the connection ended without a close frame"
    return closed.value.rcvd.code, closed.value.rcvd.reason
