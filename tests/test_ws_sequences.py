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
import websockets
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import ThreadedServer
from tests.raw_ws import LEGACY, TRANSPORT, acknowledged, close_of, receive, round_trip
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
LEGACY_KINDS = ["start"] * 4 + ["publish"] * 3 + ["stop"] * 2 + ["unknown type"]


@st.composite
def sequences(
    draw: st.DrawFn, kinds: list[str], prefix: tuple[tuple[str, ...], ...] = ()
) -> list[tuple[str, ...]]:
    """Messages to send, in order: kinds drawn from `kinds` (weighted by repetition) with their
    arguments, after `prefix` (nine times in ten)."""
    sequence = list(prefix) if draw(st.integers(0, 9)) else []
    for kind in draw(st.lists(st.sampled_from(kinds), max_size=12)):
        if kind in ("subscribe", "start"):
            which = "live" if draw(st.integers(0, 3)) else draw(st.sampled_from(list(SUBSCRIPTIONS)))
            sequence.append((kind, draw(st.sampled_from(IDS)), which))
        elif kind in ("complete", "stop"):
            sequence.append((kind, draw(st.sampled_from(IDS))))
        elif kind == "garbage":
            sequence.append((kind, draw(st.sampled_from(list(GARBAGE)))))
        else:
            sequence.append((kind,))
    return sequence


class Model:
    """The client's side of a connection, with what the protocol says the server must answer."""

    # The type of the frames carrying a result.
    RESULT = "next"

    def __init__(self, ws: Any, live: ThreadedServer, contents: Any, delivered: list[int]) -> None:
        self.ws, self.live, self.contents, self.delivered = ws, live, contents, delivered
        self.active: list[str] = []  # ids of live subscriptions, in the order they started

    async def receive(self) -> dict:
        return await receive(self.ws)

    async def frames_until_quiet(self) -> list[dict]:
        """Every frame the server sends before it answers a marker sent now."""
        raise NotImplementedError

    def check_started(self, operation_id: str, which: str, frames: list[dict]) -> None:
        """What the server answered to an operation started under `operation_id`."""
        if which == "live":
            self.active.append(operation_id)
            assert frames == []
        elif which == "query":
            assert frames == [
                {"type": self.RESULT, "id": operation_id, "payload": {"data": {"userId": "1"}}},
                {"type": "complete", "id": operation_id},
            ]
        else:
            assert [(frame["type"], frame["id"]) for frame in frames] == [("error", operation_id)]
            payload = frames[0]["payload"]  # a list of errors, or (graphql-ws) one
            assert (payload[0] if isinstance(payload, list) else payload)["message"]

    async def end(self, message_type: str, operation_id: str) -> None:
        """The client ends an operation (`complete`; graphql-ws: `stop`): nothing more comes for it."""
        await self.ws.send(json.dumps({"type": message_type, "id": operation_id}))
        if operation_id in self.active:
            self.active.remove(operation_id)
        assert await self.frames_until_quiet() == []

    async def publish(self) -> None:
        """A message to user 2: one frame for each live subscription, and nothing else."""
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
            data = {"data": {"messages": {"content": content}}}
            assert frame == {"type": self.RESULT, "id": frame["id"], "payload": data}
        self.delivered.append(len(frames))
        assert await self.frames_until_quiet() == []


class Connection(Model):
    """graphql-transport-ws: a ping's pong marks where the server's answers end."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.initialised = False
        self.acknowledged = False
        self.closed_with: tuple[int, str] | None = None

    async def frames_until_quiet(self) -> list[dict]:
        return await round_trip(self.ws)

    async def expect_close(self, code: int) -> None:
        self.closed_with = await close_of(self.ws)
        assert self.closed_with[0] == code, self.closed_with
        assert self.closed_with[1], "a close carries its reason"

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
            await self.end("complete", action[1])
        elif kind == "publish":
            await self.publish()
        elif kind == "ping":
            assert await self.frames_until_quiet() == []
        elif kind == "pong":
            await self.ws.send('{"type": "pong"}')
            assert await self.frames_until_quiet() == []
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
        self.check_started(operation_id, which, await self.frames_until_quiet())


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


def explore(live: ThreadedServer, sequences: Any, run: Any) -> None:
    """`run` each generated sequence on a connection of its own; after each, the server must have
    settled. The same examples in every run, so that what they reach (asserted) is always reached."""
    tasks_before = live.call(lambda: len(asyncio.all_tasks()))

    @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
    @given(sequence=sequences)
    def check(sequence: list[tuple[str, ...]]) -> None:
        asyncio.run(run(sequence))
        settled(live, tasks_before)

    check()


def test_generated_message_sequences_keep_the_protocol_and_leave_nothing_behind(
    live, live_users, server_errors
):
    contents = (f"message {n}" for n in itertools.count())
    closes: list[int] = []
    delivered: list[int] = []  # frames per publish

    async def run(sequence: list[tuple[str, ...]]) -> None:
        async with websockets.connect(live.ws_url, subprotocols=[TRANSPORT]) as ws:
            connection = Connection(ws, live, contents, delivered)
            for action in sequence:
                await connection.act(action)
                if connection.closed_with is not None:
                    closes.append(connection.closed_with[0])
                    return

    explore(live, sequences(KINDS, prefix=(("init",),)), run)
    assert server_errors() == []
    # What the sequences reached: each of these closes, and publishes to one and to two subscriptions.
    expected_closes = {
        CloseCode.BAD_REQUEST,
        CloseCode.SUBSCRIBER_ALREADY_EXISTS,
        CloseCode.TOO_MANY_INITIALISATION_REQUESTS,
    }
    assert expected_closes <= set(closes)
    assert sum(count >= 1 for count in delivered) >= 10 and max(delivered) >= 2


class LegacyConnection(Model):
    """graphql-ws (subscriptions-transport-ws), as GraphQL Playground speaks it. That protocol has no
    ping: a query started after each message, answered with `data` then `complete`, marks where the
    server's answers end. A `start` with the id of a live operation replaces it, as the protocol's
    reference server does, whatever the new operation turns out to be."""

    RESULT = "data"

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.markers = itertools.count()

    async def receive(self) -> dict:
        while (frame := await super().receive())["type"] == "ka":
            pass
        return frame

    async def frames_until_quiet(self) -> list[dict]:
        marker = f"marker {next(self.markers)}"
        await self.ws.send(
            json.dumps({"type": "start", "id": marker, "payload": {"query": SUBSCRIPTIONS["query"]}})
        )
        frames = []
        while (frame := await self.receive()) != {"type": "complete", "id": marker}:
            if frame != {"type": "data", "id": marker, "payload": {"data": {"userId": "1"}}}:
                frames.append(frame)
        return frames

    async def act(self, action: tuple[str, ...]) -> None:
        kind = action[0]
        if kind == "start":
            operation_id, which = action[1], action[2]
            await self.ws.send(
                json.dumps({"type": "start", "id": operation_id, "payload": {"query": SUBSCRIPTIONS[which]}})
            )
            if operation_id in self.active:
                self.active.remove(operation_id)  # replaced
            self.check_started(operation_id, which, await self.frames_until_quiet())
        elif kind == "stop":
            await self.end("stop", action[1])
        elif kind == "publish":
            await self.publish()
        else:
            await self.ws.send('{"type": "nope", "id": "x"}')
            frames = await self.frames_until_quiet()
            assert [(frame["type"], frame.get("id")) for frame in frames] == [("error", "x")]


def test_generated_legacy_message_sequences_keep_the_protocol_and_leave_nothing_behind(
    live, live_users, server_errors
):
    contents = (f"legacy message {n}" for n in itertools.count())
    delivered: list[int] = []  # frames per publish

    async def run(sequence: list[tuple[str, ...]]) -> None:
        async with websockets.connect(live.ws_url, subprotocols=[LEGACY]) as ws:
            await acknowledged(ws)
            connection = LegacyConnection(ws, live, contents, delivered)
            for action in sequence:
                await connection.act(action)

    explore(live, sequences(LEGACY_KINDS), run)
    assert server_errors() == []
    assert sum(count >= 1 for count in delivered) >= 10 and max(delivered) >= 2
