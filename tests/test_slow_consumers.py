"""A subscriber that stops reading slows down neither the sender nor anyone else."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import time

import httpx
import websockets

from app import create_app
from settings import Settings
from tests.conftest import ThreadedServer
from tests.operations import CREATE_USER, SEND, SUBSCRIBE

MESSAGES = 1000
QUEUE_SIZE = 100


async def subscribe(url: str, user_id: str, **connect_kwargs) -> websockets.ClientConnection:
    ws = await websockets.connect(url, subprotocols=["graphql-transport-ws"], **connect_kwargs)
    await ws.send(json.dumps({"type": "connection_init"}))
    assert json.loads(await ws.recv())["type"] == "connection_ack"
    payload = {"query": SUBSCRIBE, "variables": {"userId": user_id}}
    await ws.send(json.dumps({"type": "subscribe", "id": "s", "payload": payload}))
    sync = {"query": '{ userId(username: "a") }'}
    await ws.send(json.dumps({"type": "subscribe", "id": "q", "payload": sync}))
    while json.loads(await ws.recv()).get("id") != "q":
        pass
    return ws


def stalled_socket(port: int) -> socket.socket:
    """A connected socket with a tiny receive buffer, so that not reading stalls TCP at once."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    return sock


async def scenario(server: ThreadedServer) -> tuple[list[float], list[float], list[str]]:
    async with httpx.AsyncClient(base_url=server.url) as http:
        for name in ("a", "b"):
            await http.post("/", json={"query": CREATE_USER, "variables": {"username": name}})
        stalled = await subscribe(server.ws_url, "2", sock=stalled_socket(server.port), max_queue=1)
        stalled.transport.pause_reading()  # the client stops reading at the TCP level
        reader = await subscribe(server.ws_url, "2")
        assert server.call(lambda: server.app.state.hub.count("2")) == 2

        sent_at: dict[str, float] = {}
        latencies: list[float] = []
        received: list[str] = []

        async def read() -> None:
            while len(received) < MESSAGES:
                frame = json.loads(await reader.recv())
                if frame["type"] == "next" and frame["id"] == "s":
                    content = frame["payload"]["data"]["messages"]["content"]
                    latencies.append(time.perf_counter() - sent_at[content])
                    received.append(content)

        reading = asyncio.create_task(read())
        send_times = []
        padding = "x" * 4000  # fills the stalled socket's buffers quickly
        for n in range(MESSAGES):
            content = f"{n:04d} {padding}"
            sent_at[content] = started = time.perf_counter()
            variables = {"from": "1", "to": "2", "content": content}
            answer = await http.post("/", json={"query": SEND, "variables": variables})
            send_times.append(time.perf_counter() - started)
            assert answer.json()["data"]["createMessage"]["success"] is True
        await asyncio.wait_for(reading, 30)
        await reader.close()
        stalled.transport.abort()
        return send_times, latencies, [content[:4] for content in received]


def percentile(values: list[float], fraction: float) -> float:
    return sorted(values)[int(fraction * (len(values) - 1))]


def test_a_stalled_subscriber_is_ended_and_nobody_waits_for_it(caplog):
    caplog.set_level(logging.INFO)
    settings = Settings(subscription_queue_size=QUEUE_SIZE)
    server = ThreadedServer(create_app(settings), ws_ping_interval=0.5, ws_ping_timeout=0.5).start()
    try:
        send_times, latencies, received = asyncio.run(scenario(server))
        assert received == [f"{n:04d}" for n in range(MESSAGES)], "the reader gets every message, in order"
        assert "Ending a subscription of user 2: 100 messages undelivered" in caplog.text
        # Bounded, not fast: a publisher waiting on the stalled socket would wait forever.
        assert percentile(send_times, 0.99) < 0.25, f"publisher p99 {percentile(send_times, 0.99):.3f}s"
        assert percentile(latencies, 0.99) < 0.5, f"reader p99 {percentile(latencies, 0.99):.3f}s"
        deadline = time.monotonic() + 10
        while server.call(server.app.state.connections.count) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert server.call(server.app.state.connections.count) == 0
        assert server.call(server.app.state.hub.count) == 0
    finally:
        server.stop()
