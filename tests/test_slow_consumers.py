"""A subscriber that stops reading slows down neither the sender nor anyone else."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import struct
import time

import httpx
import websockets
from websockets.client import ClientProtocol
from websockets.typing import Subprotocol
from websockets.uri import parse_uri

from app import create_app
from tests.conftest import ThreadedServer, make_settings
from tests.operations import CREATE_USER, SEND, SUBSCRIBE

MESSAGES = 1000
QUEUE_SIZE = 100


STALLED_SUBSCRIPTIONS = 50  # each message is sent 50 times to the stalled socket, filling it fast


async def subscribe(url: str, user_id: str) -> websockets.ClientConnection:
    ws = await websockets.connect(url, subprotocols=["graphql-transport-ws"])
    await ws.send(json.dumps({"type": "connection_init"}))
    assert json.loads(await ws.recv())["type"] == "connection_ack"
    payload = {"query": SUBSCRIBE, "variables": {"userId": user_id}}
    await ws.send(json.dumps({"type": "subscribe", "id": "s", "payload": payload}))
    sync = {"query": '{ userId(username: "a") }'}
    await ws.send(json.dumps({"type": "subscribe", "id": "q", "payload": sync}))
    while json.loads(await ws.recv()).get("id") != "q":
        pass
    return ws


def stalled_client(port: int, user_id: str, count: int) -> socket.socket:
    """Subscribe `count` times over a raw socket, then never read from it again.

    The sans-I/O protocol of `websockets` does the handshake and framing; the
    tiny receive buffer and no reads stall the connection at the TCP level.
    """
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    protocol = ClientProtocol(
        parse_uri(f"ws://127.0.0.1:{port}/"), subprotocols=[Subprotocol("graphql-transport-ws")]
    )
    protocol.send_request(protocol.connect())
    sock.sendall(b"".join(protocol.data_to_send()))
    while not protocol.events_received() and protocol.handshake_exc is None:
        protocol.receive_data(sock.recv(4096))
    assert protocol.handshake_exc is None
    protocol.send_text(json.dumps({"type": "connection_init"}).encode())
    payload = {"query": SUBSCRIBE, "variables": {"userId": user_id}}
    for n in range(count):
        protocol.send_text(json.dumps({"type": "subscribe", "id": str(n), "payload": payload}).encode())
    sock.sendall(b"".join(protocol.data_to_send()))
    return sock


async def scenario(server: ThreadedServer) -> tuple[list[float], list[float], list[str]]:
    async with httpx.AsyncClient(base_url=server.url) as http:
        for name in ("a", "b"):
            await http.post("/", json={"query": CREATE_USER, "variables": {"username": name}})
        stalled = stalled_client(server.port, "2", STALLED_SUBSCRIPTIONS)
        reader = await subscribe(server.ws_url, "2")
        for _ in range(100):
            if server.call(lambda: server.app.state.hub.count("2")) == STALLED_SUBSCRIPTIONS + 1:
                break
            await asyncio.sleep(0.05)
        assert server.call(lambda: server.app.state.hub.count("2")) == STALLED_SUBSCRIPTIONS + 1

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
        padding = "x" * 1000  # with 50 subscriptions, fills the stalled socket quickly
        for n in range(MESSAGES):
            content = f"{n:04d} {padding}"
            sent_at[content] = started = time.perf_counter()
            variables = {"from": "1", "to": "2", "content": content}
            answer = await http.post("/", json={"query": SEND, "variables": variables})
            send_times.append(time.perf_counter() - started)
            assert answer.json()["data"]["createMessage"]["success"] is True
        await asyncio.wait_for(reading, 30)
        await reader.close()
        stalled.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        stalled.close()  # reset: the client vanishes
        return send_times, latencies, [content[:4] for content in received]


def percentile(values: list[float], fraction: float) -> float:
    return sorted(values)[int(fraction * (len(values) - 1))]


def test_a_stalled_subscriber_is_ended_and_nobody_waits_for_it(caplog):
    caplog.set_level(logging.INFO)
    settings = make_settings(subscription_queue_size=QUEUE_SIZE)
    server = ThreadedServer(create_app(settings)).start()
    try:
        send_times, latencies, received = asyncio.run(scenario(server))
        assert received == [f"{n:04d}" for n in range(MESSAGES)], "the reader gets every message, in order"
        ended = caplog.text.count("Ending a subscription of user 2: 100 messages undelivered")
        assert ended == STALLED_SUBSCRIPTIONS, "every subscription of the stalled socket is ended"
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
