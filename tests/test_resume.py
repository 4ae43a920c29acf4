"""subscription messages(userId, after, includeSent): resuming without gap or duplicate, and sent messages.

The resume and race tests run against a real uvicorn server with a raw
WebSocket client on each subprotocol; the race is also run in-process many
times over every kind of store (`store` fixture).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
from collections import Counter
from types import SimpleNamespace

import httpx
import pytest
import websockets
from ariadne import graphql, subscribe

from app import create_app, schema
from settings import Settings
from store import MemoryStore, Message
from subscriptions import Hub, Subscription
from tests.conftest import ISO_UTC_MILLIS, ThreadedServer, create_user, make_settings, run_closing, send
from tests.conftest import gql as gql_post
from tests.legacy_ws import LegacyClient
from tests.operations import (
    CREATE_USER,
    CREATE_USER_ONE,
    CREATE_USER_TWO,
    HISTORY_PAGE,
    SEND,
    SEND_HELLO,
    SUBSCRIBE_AFTER,
    SUBSCRIBE_USER_TWO,
    USER_ID,
)

SUBPROTOCOLS = ["graphql-ws", "graphql-transport-ws"]


class RawClient:
    """One WebSocket connection speaking either subprotocol, as a chat client would."""

    def __init__(self, ws, subprotocol: str) -> None:
        self.ws = ws
        self.legacy = subprotocol == "graphql-ws"

    @classmethod
    @contextlib.asynccontextmanager
    async def connect(cls, url: str, subprotocol: str):
        async with websockets.connect(url, subprotocols=[subprotocol]) as ws:
            client = cls(ws, subprotocol)
            await ws.send(json.dumps({"type": "connection_init", "payload": {}}))
            assert (await client.frame())["type"] == "connection_ack"
            yield client

    async def frame(self, wait: float = 5) -> dict:
        """The next frame that is not a legacy keep-alive."""
        while True:
            frame = json.loads(await asyncio.wait_for(self.ws.recv(), wait))
            if frame["type"] != "ka":
                return frame

    async def start(self, operation_id: str, query: str, variables: dict | None = None) -> None:
        kind = "start" if self.legacy else "subscribe"
        payload = {"query": query, "variables": variables or {}}
        await self.ws.send(json.dumps({"type": kind, "id": operation_id, "payload": payload}))

    async def event(self, operation_id: str) -> dict:
        """The next message delivered to the subscription `operation_id`."""
        frame = await self.frame()
        assert frame["type"] in ("data", "next") and frame["id"] == operation_id, frame
        assert "errors" not in frame["payload"], frame
        return frame["payload"]["data"]["messages"]

    async def sync(self) -> list[dict]:
        """Run a query on this socket; return the other frames that arrived until it completed."""
        await self.start("sync", USER_ID)
        frames = []
        while True:
            frame = await self.frame()
            if frame.get("id") != "sync":
                frames.append(frame)
            elif frame["type"] == "complete":  # both protocols end a query with complete
                return frames


async def post(http: httpx.AsyncClient, query: str, variables: dict) -> dict:
    response = await http.post("/", json={"query": query, "variables": variables})
    assert response.status_code == 200, response.text
    return response.json()["data"]


async def send_over_http(http: httpx.AsyncClient, sender: str, recipient: str, content: str) -> dict:
    result = (await post(http, SEND, {"from": sender, "to": recipient, "content": content}))["createMessage"]
    assert result["success"], result
    return result["message"]


async def wait_until(condition, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


async def resume_after_a_lost_connection(server, subprotocol: str) -> None:
    hub_count = server.app.state.hub.count
    async with httpx.AsyncClient(base_url=server.url) as http:
        for name in ("ann", "bob", "cy"):
            await post(http, CREATE_USER, {"username": name})

        async with RawClient.connect(server.ws_url, subprotocol) as phone:
            await phone.start("s", SUBSCRIBE_AFTER, {"userId": "2"})
            assert await phone.sync() == []
            for n in range(5):
                await send_over_http(http, "1", "2", f"before {n}")
            seen = [await phone.event("s") for _ in range(5)]
            assert [m["content"] for m in seen] == [f"before {n}" for n in range(5)]
            phone.ws.transport.abort()  # the tunnel: no close frame, no stop
        await wait_until(lambda: server.call(hub_count) == 0)

        missed = []
        for n in range(10):
            missed.append(await send_over_http(http, "1", "2", f"missed {n}"))
            await send_over_http(http, "1", "3", f"not for bob {n}")

        async with RawClient.connect(server.ws_url, subprotocol) as phone:
            await phone.start("s", SUBSCRIBE_AFTER, {"userId": "2", "after": seen[-1]["id"]})
            replayed = [await phone.event("s") for _ in range(10)]
            assert [m["content"] for m in replayed] == [f"missed {n}" for n in range(10)]
            ids = [int(m["id"]) for m in replayed]
            assert ids == sorted(ids) and ids[0] > int(seen[-1]["id"])
            stamps = [m["createdAt"] for m in seen + replayed]
            assert all(ISO_UTC_MILLIS.fullmatch(stamp) for stamp in stamps) and stamps == sorted(stamps)
            for n in range(3):
                await send_over_http(http, "1", "2", f"live {n}")
            live = [await phone.event("s") for _ in range(3)]
            assert [m["content"] for m in live] == [f"live {n}" for n in range(3)]
            assert await phone.sync() == [], "nothing more: no duplicate, nothing for others"


@pytest.mark.parametrize("subprotocol", SUBPROTOCOLS)
def test_a_reconnecting_subscriber_gets_exactly_what_it_missed_then_live_messages(
    live, subprotocol, server_errors
):
    asyncio.run(resume_after_a_lost_connection(live, subprotocol))
    assert server_errors() == []


async def refused_cursors(server, subprotocol: str) -> None:
    async with httpx.AsyncClient(base_url=server.url) as http:
        for name in ("ann", "bob"):
            await post(http, CREATE_USER, {"username": name})
        await send_over_http(http, "1", "2", "only message")
    async with RawClient.connect(server.ws_url, subprotocol) as client:
        for cursor, error in [
            ("2", "after: no message has id 2"),
            ("abc", 'after: "abc" is not a message id (ids are "1", "2", ...; "0" is the start)'),
        ]:
            await client.start("bad", SUBSCRIBE_AFTER, {"userId": "2", "after": cursor})
            frame = await client.frame()
            assert frame["type"] == "error" and frame["id"] == "bad", frame
            payload = frame["payload"] if client.legacy else frame["payload"][0]
            assert payload["message"] == error
        assert server.call(server.app.state.hub.count) == 0, "a refused subscription leaves no queue"
        await client.start("good", SUBSCRIBE_AFTER, {"userId": "2", "after": "0"})
        assert (await client.event("good"))["content"] == "only message"


@pytest.mark.parametrize("subprotocol", SUBPROTOCOLS)
def test_a_bad_cursor_is_refused_at_subscribe_time_and_the_connection_stays_usable(
    live, subprotocol, server_errors
):
    asyncio.run(refused_cursors(live, subprotocol))
    assert server_errors() == []


async def replay_while_others_send(server, subprotocol: str, rounds: int) -> None:
    """Subscribe with `after` while three clients send; the subscriber gets the store's order exactly."""
    rng = random.Random(subprotocol)
    async with httpx.AsyncClient(base_url=server.url) as http:
        for name in ("ann", "bob", "cy"):
            await post(http, CREATE_USER, {"username": name})
        for n in range(40):
            await send_over_http(http, rng.choice("13"), "2", f"old {n}")

        async def send_concurrently_then_end(round_number: int) -> None:
            async def sender(name: str) -> None:
                for n in range(15):
                    sender_id, recipient_id = rng.choice([("1", "2"), ("3", "2"), ("1", "3"), ("2", "1")])
                    await send_over_http(http, sender_id, recipient_id, f"{name} {n}")

            await asyncio.gather(*(sender(f"round {round_number} sender {k}") for k in range(3)))
            await send_over_http(http, "3", "2", f"end of round {round_number}")

        for round_number in range(rounds):
            history = (await post(http, HISTORY_PAGE, {"userId": "2"}))["messages"]["messages"]
            cursor = rng.choice(history[: len(history) // 2])["id"]
            async with RawClient.connect(server.ws_url, subprotocol) as client:
                sending = asyncio.create_task(send_concurrently_then_end(round_number))
                await client.start("s", SUBSCRIBE_AFTER, {"userId": "2", "after": cursor})
                received = []
                for _ in range(1000):  # far more than a round sends
                    received.append(await client.event("s"))
                    if received[-1]["content"] == f"end of round {round_number}":
                        break
                await sending
                history = (await post(http, HISTORY_PAGE, {"userId": "2"}))["messages"]["messages"]
                to_bob = [m["id"] for m in history if m["recipientId"] == "2" and int(m["id"]) > int(cursor)]
                assert [m["id"] for m in received] == to_bob
                assert await client.sync() == [], "nothing after the last message"


@pytest.mark.parametrize("subprotocol", SUBPROTOCOLS)
def test_messages_sent_during_the_replay_arrive_once_and_in_order_over_websocket(subprotocol, server_errors):
    """With 3-message pages the replay takes many store reads while the senders' requests interleave."""
    server = ThreadedServer(create_app(make_settings(max_page_size=3))).start()
    try:
        asyncio.run(replay_while_others_send(server, subprotocol, rounds=5))
    finally:
        server.stop()
    assert server_errors() == []


class PausingStore:
    """A store whose every call lets the event loop run before and after it, as a database's I/O does.

    It exposes the interleavings a store that never waits (the in-memory one)
    hides: a message stored between registering for live messages and reading
    the store, or between two pages of the replay.
    """

    def __init__(self, store, rng: random.Random) -> None:
        self._store = store
        self._rng = rng

    async def _pause(self) -> None:
        for _ in range(self._rng.randrange(4)):
            await asyncio.sleep(0)

    def __getattr__(self, name: str):
        method = getattr(self._store, name)

        async def paused(*args, **kwargs):
            await self._pause()
            result = await method(*args, **kwargs)
            await self._pause()
            return result

        return paused


async def execute(context: dict, query: str, variables: dict) -> dict:
    success, result = await graphql(schema, {"query": query, "variables": variables}, context_value=context)
    assert success and "errors" not in result, result
    return result["data"]


async def subscriber(context: dict, variables: dict, last_content: str, started: asyncio.Event) -> list[dict]:
    """Subscribe through the schema, as the WebSocket handlers do; read until `last_content` arrives."""
    success, stream = await subscribe(
        schema, {"query": SUBSCRIBE_AFTER, "variables": variables}, context_value=context
    )
    assert success, stream
    started.set()
    received = []
    try:
        async for result in stream:
            assert result.errors is None, result.errors
            received.append(result.data["messages"])
            if received[-1]["content"] == last_content:
                return received
            await asyncio.sleep(0)  # as the handler awaits its socket
    finally:
        await stream.aclose()
    raise AssertionError("the stream ended")


async def replay_race(store, pausing: bool, include_sent: bool, rounds: int) -> None:
    rng = random.Random(f"{pausing} {include_sent}")
    context = {
        "store": PausingStore(store, rng) if pausing else store,
        "hub": Hub(queue_size=1000),
        "settings": Settings(max_page_size=3),
        "request": SimpleNamespace(scope={}),  # one connection's worth of state, no socket
        "viewer": None,
    }
    for name in ("ann", "bob", "cy"):
        await store.create_user(name)
    pairs = [("1", "2"), ("3", "2"), ("2", "1"), ("2", "2"), ("1", "3")]
    for n in range(30):
        await store.add_message(*rng.choice(pairs), f"old {n}")

    async def sender(name: str) -> None:
        for n in range(12):
            sender_id, recipient_id = rng.choice(pairs)
            await execute(context, SEND, {"from": sender_id, "to": recipient_id, "content": f"{name} {n}"})
            for _ in range(rng.randrange(3)):
                await asyncio.sleep(0)

    for round_number in range(rounds):
        last = f"end of round {round_number}"
        senders = asyncio.gather(*(sender(f"round {round_number} sender {k}") for k in range(3)))
        cursors, readers, started = [], [], []
        for depth in (50, 10, 1):  # far behind, a little behind, up to date
            for _ in range(rng.randrange(40)):  # join the senders at a random point
                await asyncio.sleep(0)
            cursors.append(rng.choice((await store.messages_for("2")).messages[-depth:]).id)
            started.append(asyncio.Event())
            variables = {"userId": "2", "after": cursors[-1], "includeSent": include_sent}
            readers.append(asyncio.create_task(subscriber(context, variables, last, started[-1])))
        await senders
        await asyncio.gather(*(event.wait() for event in started))
        await execute(context, SEND, {"from": "3", "to": "2", "content": last})
        received = await asyncio.wait_for(asyncio.gather(*readers), timeout=10)

        everything = (await store.messages_for("2")).messages
        wanted = [m for m in everything if include_sent or m.recipient_id == "2"]
        for cursor, messages in zip(cursors, received, strict=True):
            expected = [m.id for m in wanted if int(m.id) > int(cursor)]
            assert [m["id"] for m in messages] == expected, f"after {cursor}, round {round_number}"
        longest = max(received, key=len)
        for messages in received:
            assert longest[len(longest) - len(messages) :] == messages, "a user's subscribers agree"
    assert context["hub"].count() == 0


@pytest.mark.parametrize("include_sent", [False, True], ids=["received", "include-sent"])
@pytest.mark.parametrize("pausing", [False, True], ids=["as-is", "pausing-io"])
def test_messages_sent_during_the_replay_arrive_once_and_in_order(store, pausing, include_sent):
    """Rounds of three subscribers resuming while three senders write; each gets the store's order.

    Thirty rounds on the memory store; eight on a database, whose every call waits on real I/O.
    """
    rounds = 30 if isinstance(store, MemoryStore) else 8
    run_closing(replay_race(store, pausing, include_sent, rounds=rounds), store)


@pytest.fixture
def users(client):
    return [create_user(client, name) for name in ("ann", "bob", "cy")]


def contents_by_operation(ws: LegacyClient, frames: int) -> dict[str, list[str]]:
    received: dict[str, list[str]] = {}
    for _ in range(frames):
        frame = ws.receive()
        assert frame["type"] == "data", frame
        received.setdefault(frame["id"], []).append(frame["payload"]["data"]["messages"]["content"])
    ws.start("sync", '{ userId(username: "ann") }')
    assert ws.receive()["id"] == "sync", "no more messages than expected"
    return received


def test_include_sent_delivers_the_users_own_messages_too(client, app, users):
    """Every device of a user sees the whole conversation, each message once."""
    with LegacyClient(client) as phone:
        phone.start("whole", SUBSCRIBE_AFTER, {"userId": "1", "includeSent": True})
        phone.start("received", SUBSCRIBE_AFTER, {"userId": "1"})
        phone.start("sync", '{ userId(username: "ann") }')
        phone.next_data("sync")
        send(client, "2", "1", "bob to ann")
        send(client, "1", "2", "ann to bob")
        send(client, "1", "1", "ann to herself")
        send(client, "2", "3", "bob to cy")
        send(client, "3", "1", "cy to ann")
        assert contents_by_operation(phone, 7) == {
            "whole": ["bob to ann", "ann to bob", "ann to herself", "cy to ann"],
            "received": ["bob to ann", "ann to herself", "cy to ann"],
        }
    assert app.state.hub.count() == 0


def test_include_sent_with_after_replays_sent_messages_too(client, users):
    send(client, "2", "1", "bob to ann")
    send(client, "1", "2", "ann to bob")
    send(client, "2", "3", "bob to cy")
    with LegacyClient(client) as laptop:
        laptop.start("whole", SUBSCRIBE_AFTER, {"userId": "1", "after": "0", "includeSent": True})
        laptop.start("received", SUBSCRIBE_AFTER, {"userId": "1", "after": "0"})
        replayed = contents_by_operation(laptop, 3)
        assert replayed == {"whole": ["bob to ann", "ann to bob"], "received": ["bob to ann"]}
        send(client, "1", "3", "ann to cy")
        assert contents_by_operation(laptop, 1) == {"whole": ["ann to cy"]}


def test_a_message_touches_only_the_queues_of_its_parties(monkeypatch):
    """Publishing visits the recipient's subscriptions and the sender's includeSent ones, nothing else."""
    hub = Hub(queue_size=10)
    subscriptions = [
        hub.subscribe(user, include_sent=include_sent)
        for user in ("1", "2", "3", "4")
        for include_sent in (False, True)
        for _ in range(50)
    ]
    offered = []
    original_offer = Subscription.offer

    def counting_offer(self, message):
        offered.append((self.recipient_id, self.include_sent))
        return original_offer(self, message)

    monkeypatch.setattr(Subscription, "offer", counting_offer)

    async def scenario():
        await hub.publish(Message("1", "1", "2", "ann to bob"))
        assert Counter(offered) == {("2", False): 50, ("2", True): 50, ("1", True): 50}
        offered.clear()
        await hub.publish(Message("2", "3", "3", "cy to herself"))
        assert Counter(offered) == {("3", False): 50, ("3", True): 50}, "once each, as received"
        for sub in subscriptions:
            await sub.aclose()

    asyncio.run(scenario())
    assert hub.count() == 0
    assert hub._sent_subscriptions == {}, "closing removes includeSent subscriptions from both registries"


async def vanish_during_replays(server, subprotocol: str, clients: int) -> None:
    async with httpx.AsyncClient(base_url=server.url) as http:
        for name in ("ann", "bob"):
            await post(http, CREATE_USER, {"username": name})
        for n in range(100):
            await send_over_http(http, "1", "2", f"old {n}")
    for n in range(clients):
        async with RawClient.connect(server.ws_url, subprotocol) as client:
            await client.start("s", SUBSCRIBE_AFTER, {"userId": "2", "after": "0", "includeSent": n % 2 == 0})
            for _ in range(n % 5):
                await client.event("s")
            client.ws.transport.abort()


@pytest.mark.parametrize("subprotocol", SUBPROTOCOLS)
def test_clients_vanishing_during_a_replay_leave_no_subscription(subprotocol, server_errors):
    server = ThreadedServer(create_app(make_settings(max_page_size=2))).start()
    try:
        asyncio.run(vanish_during_replays(server, subprotocol, clients=30))
        hub = server.app.state.hub
        deadline = time.monotonic() + 10
        while server.call(hub.count) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert server.call(hub.count) == 0
        assert server.call(lambda: hub._sent_subscriptions) == {}
    finally:
        server.stop()
    assert server_errors() == []


def test_playground_resume_from_the_start_replays_the_walk_through(client):
    """The README's Playground example: after the tutorial's steps, `after: "0"` replays "Hello there"."""
    for operation in (CREATE_USER_ONE, CREATE_USER_TWO, SEND_HELLO):
        gql_post(client, operation)
    with LegacyClient(client) as playground:
        playground.start("1", SUBSCRIBE_USER_TWO.replace('(userId: "2")', '(userId: "2", after: "0")'))
        assert playground.next_data("1") == {
            "data": {"messages": {"content": "Hello there", "senderId": "1", "recipientId": "2"}}
        }
