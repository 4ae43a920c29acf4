"""SIGTERM: clients are told 1001 (going away), the server exits in time and logs nothing alarming."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import time

import httpx
import pytest
import websockets

from tests.operations import CREATE_USER, SUBSCRIBE


async def open_subscription(url: str, subprotocol: str) -> websockets.ClientConnection:
    ws = await websockets.connect(url, subprotocols=[subprotocol])
    await ws.send(json.dumps({"type": "connection_init"}))
    start = {"graphql-ws": "start", "graphql-transport-ws": "subscribe"}[subprotocol]
    payload = {"query": SUBSCRIBE, "variables": {"userId": "1"}}
    await ws.send(json.dumps({"type": start, "id": "s", "payload": payload}))
    await ws.send(json.dumps({"type": start, "id": "q", "payload": {"query": '{ userId(username: "a") }'}}))
    while json.loads(await ws.recv()).get("id") != "q":
        pass
    return ws


async def close_code(ws: websockets.ClientConnection) -> int | None:
    with pytest.raises(websockets.ConnectionClosed) as closed:
        while True:
            await asyncio.wait_for(ws.recv(), 5)
    return closed.value.rcvd.code if closed.value.rcvd else None


def test_sigterm_closes_subscriptions_with_1001_and_exits_quietly(uvicorn_process):
    httpx.post(uvicorn_process.url, json={"query": CREATE_USER, "variables": {"username": "a"}})

    async def scenario() -> tuple[list[int | None], float]:
        sockets = [
            await open_subscription(uvicorn_process.ws_url, subprotocol)
            for subprotocol in ("graphql-ws", "graphql-transport-ws", "graphql-ws")
        ]
        started = time.monotonic()
        uvicorn_process.process.send_signal(signal.SIGTERM)
        codes = await asyncio.gather(*(close_code(ws) for ws in sockets))
        await asyncio.get_running_loop().run_in_executor(None, uvicorn_process.process.wait, 10)
        return codes, time.monotonic() - started

    codes, elapsed = asyncio.run(scenario())
    assert codes == [1001, 1001, 1001]
    assert elapsed < 5, f"exited after {elapsed:.1f}s"
    log = uvicorn_process.log
    assert "Closing 3 WebSocket connection(s): Server shutting down" in log
    assert not re.search(r"^(WARNING|ERROR|CRITICAL)", log, re.MULTILINE), log
    assert "Traceback" not in log
