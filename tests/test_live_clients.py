"""The tutorial flow against `uvicorn app:app`, with the Python `gql` client on each subprotocol."""

from __future__ import annotations

import asyncio
import contextlib
import json

import httpx
import pytest
import websockets
from gql import Client
from gql import gql as document
from gql.transport.httpx import HTTPXAsyncTransport
from gql.transport.websockets import WebsocketsTransport

from tests.operations import (
    CREATE_USER_ONE,
    CREATE_USER_TWO,
    SEND,
    SEND_HELLO,
    SUBSCRIBE_USER_TWO,
    USER_ID,
)

SUBPROTOCOLS = [WebsocketsTransport.APOLLO_SUBPROTOCOL, WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL]


async def subscribed(ws_session, query: str) -> tuple[asyncio.Task, asyncio.Queue]:
    """Start a subscription in a task; return once the server has registered it."""
    received: asyncio.Queue = asyncio.Queue()

    async def consume() -> None:
        async for result in ws_session.subscribe(document(query)):
            await received.put(result)

    listeners = ws_session.transport.listeners
    before = len(listeners)
    task = asyncio.create_task(consume())
    for _ in range(200):
        if len(listeners) > before:
            break
        await asyncio.sleep(0.01)
    # The server handles one socket's messages in order: once this answers,
    # the subscription above is registered.
    await ws_session.execute(document(USER_ID))
    return task, received


async def tutorial_flow(server, subprotocol: str) -> None:
    http = Client(transport=HTTPXAsyncTransport(url=server.url))
    ws = Client(transport=WebsocketsTransport(url=server.ws_url, subprotocols=[subprotocol]))
    async with http as http_session, ws as ws_session:
        assert ws_session.transport.subprotocol == subprotocol
        assert await http_session.execute(document(CREATE_USER_ONE)) == {
            "createUser": {"success": True, "user": {"userId": "1", "username": "user_one"}}
        }
        await http_session.execute(document(CREATE_USER_TWO))
        await http_session.execute(
            document(CREATE_USER_ONE.replace("user_one", "user_three"))
        )
        assert await http_session.execute(document(USER_ID)) == {"userId": "1"}

        task, received = await subscribed(ws_session, SUBSCRIBE_USER_TWO)
        to_three = document(SEND)
        to_three.variable_values = {"from": "1", "to": "3", "content": "not for user two"}
        await http_session.execute(to_three)
        sent = await http_session.execute(document(SEND_HELLO))
        assert sent["createMessage"]["success"] is True

        event = await asyncio.wait_for(received.get(), timeout=5)
        assert event == {"messages": {"content": "Hello there", "senderId": "1", "recipientId": "2"}}

        task.cancel()  # gql sends the protocol's stop/complete for the operation
        with pytest.raises(asyncio.CancelledError):
            await task


async def next_frame(ws, wait: float = 5) -> dict:
    """The next frame that is not a legacy keep-alive."""
    while True:
        frame = json.loads(await asyncio.wait_for(ws.recv(), wait))
        if frame["type"] != "ka":
            return frame


async def frames_until(ws, operation_id: str, kinds=("data", "next")) -> list[dict]:
    frames = []
    while not frames or not (frames[-1].get("id") == operation_id and frames[-1]["type"] in kinds):
        frames.append(await next_frame(ws))
    return frames


async def raw_unsubscribe(server, subprotocol: str) -> list[dict]:
    """Subscribe, unsubscribe, send: return every frame the server sent after the unsubscribe."""
    stop = {"graphql-ws": "stop", "graphql-transport-ws": "complete"}[subprotocol]
    start = {"graphql-ws": "start", "graphql-transport-ws": "subscribe"}[subprotocol]
    async with httpx.AsyncClient(base_url=server.url) as http:
        for op in (CREATE_USER_ONE, CREATE_USER_TWO):
            await http.post("/", json={"query": op})
        async with websockets.connect(server.ws_url, subprotocols=[subprotocol]) as ws:
            await ws.send(json.dumps({"type": "connection_init", "payload": {}}))
            assert (await next_frame(ws))["type"] == "connection_ack"
            await ws.send(json.dumps({"type": start, "id": "s", "payload": {"query": SUBSCRIBE_USER_TWO}}))
            await ws.send(json.dumps({"type": start, "id": "q", "payload": {"query": USER_ID}}))
            await frames_until(ws, "q")
            await http.post("/", json={"query": SEND_HELLO})
            event = (await frames_until(ws, "s"))[-1]
            assert event["payload"]["data"]["messages"]["content"] == "Hello there"

            await ws.send(json.dumps({"type": stop, "id": "s"}))
            await ws.send(json.dumps({"type": start, "id": "q2", "payload": {"query": USER_ID}}))
            await http.post("/", json={"query": SEND_HELLO})
            after = []
            with contextlib.suppress(TimeoutError):
                while True:
                    after.append(await next_frame(ws, wait=0.5))
            return after


@pytest.mark.parametrize("subprotocol", SUBPROTOCOLS)
def test_nothing_arrives_after_unsubscribing(uvicorn_process, subprotocol):
    after = asyncio.run(raw_unsubscribe(uvicorn_process, subprotocol))
    operations = {frame.get("id") for frame in after if frame["type"] != "ka"}
    assert operations == {"q2"}, after


@pytest.mark.parametrize("subprotocol", SUBPROTOCOLS)
def test_tutorial_flow_with_gql(uvicorn_process, subprotocol):
    asyncio.run(tutorial_flow(uvicorn_process, subprotocol))
    assert "Traceback" not in uvicorn_process.log
    assert "ERROR" not in uvicorn_process.log
