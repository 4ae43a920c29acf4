"""Generated sequences of client messages on one graphql-transport-ws connection, against a real
uvicorn server: every answer is the one the protocol asks for, frames reach exactly the live
subscriptions in order, and when the connection ends nothing is left behind (no subscription in
the hub, no task on the server's loop) and nothing was logged as a server error."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from typing import Any

import httpx
import pytest
import websockets
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import ThreadedServer
from tests.operations import CREATE_USER_ONE, CREATE_USER_TWO
from websocket import CloseCode

SUBSCRIPTIONS = {
    "live": 'subscription { messages(userId: "2") { content } }',
    "unknown user": 'subscription { messages(userId: "99") { content } }',
    "syntax error": "subscription { messages(",
    "query": '{ userId(username: "user_one") }',
}
GARBAGE = {
    "binary frame": b"\x00\x01",
    "not JSON": "{nope",
    "a JSON array": "[]",
    "an unknown type": '{"type": "nope"}',
    "a subscribe without an id": json.dumps({"type": "subscribe", "payload": {"query": "{ userId }"}}),
    "a query that is not a string": json.dumps({"type": "subscribe", "id": "z", "payload": {"query": 5}}),
}
IDS = ["a", "b", "c"]

# Weighted so that most sequences get past the handshake and publish to live subscriptions.
KINDS = ["subscribe"] * 4 + ["publish"] * 3 + ["complete"] * 2 + ["ping", "pong", "init", "garbage"]


@st.composite
def actions(draw: st.DrawFn) -> list[tuple[str, ...]]:
    sequence: list[tuple[str, ...]] = [("init",)] if draw(st.integers(0, 9)) else []
    for kind in draw(st.lists(st.sampled_from(KINDS), max_size=12)):
        if kind == "subscribe":
            which = "live" if draw(st.integers(0, 3)) else draw(st.sampled_from(list(SUBSCRIPTIONS)))
            sequence.append((kind, draw(st.sampled_from(IDS)), which))
        elif kind == "complete":
            sequence.append((kind, draw(st.sampled_from(IDS))))
        elif kind == "garbage":
            sequence.append((kind, draw(st.sampled_from(list(GARBAGE)))))
        else:
            sequence.append((kind,))
    return sequence


class Connection:
    """The client's side, with what the protocol says the server must answer to each message."""

    def __init__(self, ws: Any, live: ThreadedServer, contents: Any, delivered: list[int]) -> None:
        self.ws, self.live, self.contents, self.delivered = ws, live, contents, delivered
        self.initialised = False
        self.acknowledged = False
        self.active: list[str] = []  # ids of live subscriptions, in the order they started
        self.closed_with: tuple[int, str] | None = None

    async def frames_until_pong(self) -> list[dict]:
        await self.ws.send('{"type": "ping"}')
        frames = []
        while (frame := json.loads(await asyncio.wait_for(self.ws.recv(), 5)))["type"] != "pong":
            frames.append(frame)
        return frames

    async def expect_close(self, code: int) -> None:
        with pytest.raises(websockets.ConnectionClosed) as closed:
            async with asyncio.timeout(5):
                while True:
                    await self.ws.recv()
        assert closed.value.rcvd is not None, "closed without a close frame"
        assert closed.value.rcvd.code == code, closed.value.rcvd
        assert closed.value.rcvd.reason, "a close carries its reason"
        self.closed_with = (closed.value.rcvd.code, closed.value.rcvd.reason)

    async def act(self, action: tuple[str, ...]) -> None:
        kind = action[0]
        if kind == "init":
            await self.ws.send('{"type": "connection_init"}')
            if self.initialised:
                return await self.expect_close(CloseCode.TOO_MANY_INITIALISATION_REQUESTS)
            self.initialised = self.acknowledged = True
            assert json.loads(await asyncio.wait_for(self.ws.recv(), 5)) == {"type": "connection_ack"}
        elif kind == "subscribe":
            await self.subscribe(action[1], action[2])
        elif kind == "complete":
            await self.ws.send(json.dumps({"type": "complete", "id": action[1]}))
            if action[1] in self.active:
                self.active.remove(action[1])
            assert await self.frames_until_pong() == []
        elif kind == "publish":
            await self.publish()
        elif kind == "ping":
            assert await self.frames_until_pong() == []
        elif kind == "pong":
            await self.ws.send('{"type": "pong"}')
            assert await self.frames_until_pong() == []
        else:
            await self.ws.send(GARBAGE[action[1]])
            await self.expect_close(CloseCode.BAD_REQUEST)

    async def subscribe(self, operation_id: str, which: str) -> None:
        await self.ws.send(
            json.dumps({"type": "subscribe", "id": operation_id, "payload": {"query": SUBSCRIPTIONS[which]}})
        )
        if not self.acknowledged:
            return await self.expect_close(CloseCode.UNAUTHORIZED)
        if operation_id in self.active:
            return await self.expect_close(CloseCode.SUBSCRIBER_ALREADY_EXISTS)
        frames = await self.frames_until_pong()
        if which == "live":
            self.active.append(operation_id)
            assert frames == []
        elif which == "query":
            assert frames == [
                {"type": "next", "id": operation_id, "payload": {"data": {"userId": "1"}}},
                {"type": "complete", "id": operation_id},
            ]
        else:
            assert [(frame["type"], frame["id"]) for frame in frames] == [("error", operation_id)]
            assert frames[0]["payload"][0]["message"]

    async def publish(self) -> None:
        content = next(self.contents)
        mutation = 'mutation { createMessage(senderId: "1", recipientId: "2", content: "%s") { success } }'
        answer = await asyncio.to_thread(httpx.post, self.live.url, json={"query": mutation % content})
        assert answer.json() == {"data": {"createMessage": {"success": True}}}
        frames = []
        async with asyncio.timeout(5):
            while len(frames) < len(self.active):
                frames.append(json.loads(await self.ws.recv()))
        assert sorted(frame["id"] for frame in frames) == sorted(self.active)
        self.delivered.append(len(frames))
        for frame in frames:
            assert frame == {
                "type": "next",
                "id": frame["id"],
                "payload": {"data": {"messages": {"content": content}}},
            }
        assert await self.frames_until_pong() == []


def settled(live: ThreadedServer, tasks_before: int) -> None:
    """Wait until the server holds no subscription and no task beyond those it had before."""
    deadline = time.monotonic() + 5
    while True:
        subscriptions = live.call(lambda: live.app.state.hub.count())
        tasks = live.call(lambda: len(asyncio.all_tasks()))
        if subscriptions == 0 and tasks <= tasks_before:
            return
        assert time.monotonic() < deadline, f"{subscriptions} subscriptions and {tasks} tasks left"
        time.sleep(0.02)


@pytest.fixture
def users(live: ThreadedServer) -> None:
    for operation in (CREATE_USER_ONE, CREATE_USER_TWO):
        assert httpx.post(live.url, json={"query": operation}).json()["data"]["createUser"]["success"]


def test_generated_message_sequences_keep_the_protocol_and_leave_nothing_behind(live, users, server_errors):
    contents = (f"message {n}" for n in itertools.count())
    tasks_before = live.call(lambda: len(asyncio.all_tasks()))
    closes: list[int] = []
    delivered: list[int] = []  # frames per publish

    async def run(sequence: list[tuple[str, ...]]) -> None:
        async with websockets.connect(live.ws_url, subprotocols=["graphql-transport-ws"]) as ws:
            connection = Connection(ws, live, contents, delivered)
            for action in sequence:
                await connection.act(action)
                if connection.closed_with is not None:
                    closes.append(connection.closed_with[0])
                    return

    # The same examples in every run, so that what they reach (asserted below) is always reached.
    @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
    @given(sequence=actions())
    def check(sequence: list[tuple[str, ...]]) -> None:
        asyncio.run(run(sequence))
        settled(live, tasks_before)

    check()
    assert server_errors() == []
    # What the sequences reached: each of these closes, and publishes to one and to two subscriptions.
    expected_closes = {
        CloseCode.BAD_REQUEST,
        CloseCode.SUBSCRIBER_ALREADY_EXISTS,
        CloseCode.TOO_MANY_INITIALISATION_REQUESTS,
    }
    assert expected_closes <= set(closes)
    assert sum(count >= 1 for count in delivered) >= 10 and max(delivered) >= 2


LEGACY_KINDS = ["start"] * 4 + ["publish"] * 3 + ["stop"] * 2 + ["unknown type"]


@st.composite
def legacy_actions(draw: st.DrawFn) -> list[tuple[str, ...]]:
    sequence: list[tuple[str, ...]] = []
    for kind in draw(st.lists(st.sampled_from(LEGACY_KINDS), max_size=12)):
        if kind == "start":
            which = "live" if draw(st.integers(0, 3)) else draw(st.sampled_from(list(SUBSCRIPTIONS)))
            sequence.append((kind, draw(st.sampled_from(IDS)), which))
        elif kind == "stop":
            sequence.append((kind, draw(st.sampled_from(IDS))))
        else:
            sequence.append((kind,))
    return sequence


class LegacyConnection:
    """The client's side of a graphql-ws (subscriptions-transport-ws) connection, as GraphQL
    Playground speaks it, with what the server must answer. That protocol has no ping: a query
    started after each message, answered with `data` then `complete`, marks where the server's
    answers to it end. A `start` with the id of a live operation replaces it, as the protocol's
    reference server does, whatever the new operation turns out to be."""

    def __init__(self, ws: Any, live: ThreadedServer, contents: Any, delivered: list[int]) -> None:
        self.ws, self.live, self.contents, self.delivered = ws, live, contents, delivered
        self.active: list[str] = []
        self.barriers = itertools.count()

    async def receive(self) -> dict:
        while (frame := json.loads(await asyncio.wait_for(self.ws.recv(), 5)))["type"] == "ka":
            pass
        return frame

    async def frames_until_barrier(self) -> list[dict]:
        barrier = f"barrier {next(self.barriers)}"
        query = SUBSCRIPTIONS["query"]
        await self.ws.send(json.dumps({"type": "start", "id": barrier, "payload": {"query": query}}))
        frames = []
        while (frame := await self.receive()) != {"type": "complete", "id": barrier}:
            if frame != {"type": "data", "id": barrier, "payload": {"data": {"userId": "1"}}}:
                frames.append(frame)
        return frames

    async def act(self, action: tuple[str, ...]) -> None:
        kind = action[0]
        if kind == "start":
            await self.start(action[1], action[2])
        elif kind == "stop":
            await self.ws.send(json.dumps({"type": "stop", "id": action[1]}))
            if action[1] in self.active:
                self.active.remove(action[1])
            assert await self.frames_until_barrier() == []
        elif kind == "publish":
            await self.publish()
        else:
            await self.ws.send('{"type": "nope", "id": "x"}')
            frames = await self.frames_until_barrier()
            assert [(frame["type"], frame.get("id")) for frame in frames] == [("error", "x")]

    async def start(self, operation_id: str, which: str) -> None:
        payload = {"query": SUBSCRIPTIONS[which]}
        await self.ws.send(json.dumps({"type": "start", "id": operation_id, "payload": payload}))
        if operation_id in self.active:
            self.active.remove(operation_id)  # replaced
        frames = await self.frames_until_barrier()
        if which == "live":
            self.active.append(operation_id)
            assert frames == []
        elif which == "query":
            assert frames == [
                {"type": "data", "id": operation_id, "payload": {"data": {"userId": "1"}}},
                {"type": "complete", "id": operation_id},
            ]
        else:
            assert [(frame["type"], frame["id"]) for frame in frames] == [("error", operation_id)]

    async def publish(self) -> None:
        content = next(self.contents)
        mutation = 'mutation { createMessage(senderId: "1", recipientId: "2", content: "%s") { success } }'
        answer = await asyncio.to_thread(httpx.post, self.live.url, json={"query": mutation % content})
        assert answer.json() == {"data": {"createMessage": {"success": True}}}
        frames = []
        async with asyncio.timeout(5):
            while len(frames) < len(self.active):
                frames.append(await self.receive())
        assert sorted(frame["id"] for frame in frames) == sorted(self.active)
        for frame in frames:
            assert frame == {
                "type": "data",
                "id": frame["id"],
                "payload": {"data": {"messages": {"content": content}}},
            }
        self.delivered.append(len(frames))
        assert await self.frames_until_barrier() == []


def test_generated_legacy_message_sequences_keep_the_protocol_and_leave_nothing_behind(
    live, users, server_errors
):
    contents = (f"legacy message {n}" for n in itertools.count())
    tasks_before = live.call(lambda: len(asyncio.all_tasks()))
    delivered: list[int] = []  # frames per publish

    async def run(sequence: list[tuple[str, ...]]) -> None:
        async with websockets.connect(live.ws_url, subprotocols=["graphql-ws"]) as ws:
            await ws.send('{"type": "connection_init", "payload": {}}')
            assert json.loads(await ws.recv()) == {"type": "connection_ack"}
            connection = LegacyConnection(ws, live, contents, delivered)
            for action in sequence:
                await connection.act(action)

    # The same examples in every run, so that what they reach (asserted below) is always reached.
    @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
    @given(sequence=legacy_actions())
    def check(sequence: list[tuple[str, ...]]) -> None:
        asyncio.run(run(sequence))
        settled(live, tasks_before)

    check()
    assert server_errors() == []
    assert sum(count >= 1 for count in delivered) >= 10 and max(delivered) >= 2
