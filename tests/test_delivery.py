"""One message to many subscriptions: each gets exactly its own payload, and nothing outlives delivery."""

from __future__ import annotations

import asyncio
import gc
import json
import time
import weakref
from datetime import UTC, datetime
from types import SimpleNamespace

from graphql import parse, subscribe

import execution
from app import schema
from json_codec import JSONOnce
from settings import Settings
from store import MemoryStore, Message
from subscriptions import Hub, Subscription
from tests.chat_api import ChatAPI, WSSubscriber

# Every document takes `$after`: left out, the subscription is live only (its
# messages come shared); with `after: "0"` it replays the store, one message at
# a time and unshared, which makes it the reference for the live ones.
FULL = """
subscription ($u: String, $after: ID) {
  messages(userId: $u, after: $after) {
    id content senderId recipientId createdAt
    attachments { id filename contentType size sha256 url }
  }
}
"""
ALIASED = """
subscription ($u: String, $after: ID) {
  m: messages(userId: $u, after: $after) { __typename text: content from: senderId }
}
"""
OPTIONAL_SENDER = """
subscription ($u: String, $after: ID, $yes: Boolean!) {
  messages(userId: $u, after: $after) { content senderId @include(if: $yes) }
}
"""


async def payloads(ws: WSSubscriber, count: int | None, into: dict | None = None) -> dict[str, list[dict]]:
    """The next `count` data frames' payloads by operation id; with None, those before a round trip."""
    received: dict[str, list[dict]] = {} if into is None else into
    if count is None:
        await ws.subscribe("sync", "{ __typename }", {})
    while count is None or count > 0:
        frame = await ws.frame()
        if frame.get("id") == "sync":
            if frame["type"] == "complete":
                return received
            continue
        assert frame["type"] in ("next", "data"), frame
        received.setdefault(frame["id"], []).append(frame["payload"])
        count = None if count is None else count - 1
    return received


def test_subscriptions_sharing_a_message_each_get_exactly_the_payload_they_would_alone(live_with, tmp_path):
    """Selections, aliases, variables, protocols, hosts (attachment URLs) differ; replays are the truth."""
    server = live_with(attachments_dir=str(tmp_path / "attachments"))
    api = ChatAPI(server.url)
    ann, bob = api.sign_up("ann"), api.sign_up("bob")
    first = api.send(ann, bob, "before anyone listens")
    localhost_ws = server.ws_url.replace("127.0.0.1", "localhost")
    bob_vars = {"u": bob.user_id}
    # connection -> operation id -> (document, variables)
    plan = {
        ("graphql-transport-ws", server.ws_url): {
            "full-1": (FULL, bob_vars),
            "full-2": (FULL, bob_vars),
            "aliased": (ALIASED, bob_vars),
            "with-sender": (OPTIONAL_SENDER, {**bob_vars, "yes": True}),
            "without-sender": (OPTIONAL_SENDER, {**bob_vars, "yes": False}),
            "resumed": (FULL, {**bob_vars, "after": str(int(first) - 1)}),
        },
        ("graphql-ws", server.ws_url): {
            "full": (FULL, bob_vars),
            "without-sender": (OPTIONAL_SENDER, {**bob_vars, "yes": False}),
            "resumed": (FULL, {**bob_vars, "after": str(int(first) - 1)}),
        },
        ("graphql-transport-ws", localhost_ws): {
            "full": (FULL, bob_vars),
            "aliased": (ALIASED, bob_vars),
        },
    }

    async def live() -> dict:
        sockets = {}
        for (subprotocol, url), operations in plan.items():
            ws = sockets[subprotocol, url] = await WSSubscriber(url, subprotocol).__aenter__()
            for operation_id, (document, variables) in operations.items():
                await ws.subscribe(operation_id, document, variables)
        # Every subscription registered; the replaying ones may have their stored message.
        received = {key: await payloads(ws, None) for key, ws in sockets.items()}
        await asyncio.to_thread(api.send, ann, bob, "one")
        await asyncio.to_thread(
            api.send_files, ann, bob, [("notes.txt", b"some notes\n", "text/plain")], "with a file"
        )
        await asyncio.to_thread(api.send, bob, bob, "to myself")
        for key, ws in sockets.items():
            expected = 3 * len(plan[key]) + 1 - len(received[key].get("resumed", [None]))
            await payloads(ws, expected, into=received[key])
            await ws.__aexit__()
        return received

    async def alone(subprotocol: str, url: str, document: str, variables: dict) -> list[dict]:
        """What the subscription gets from the store alone: the messages replayed, one at a time."""
        async with WSSubscriber(url, subprotocol) as ws:
            await ws.subscribe("alone", document, {**variables, "after": str(int(first) - 1)})
            return (await payloads(ws, 4))["alone"]

    received = asyncio.run(live())
    try:
        for (subprotocol, url), operations in plan.items():
            for operation_id, (document, variables) in operations.items():
                expected = asyncio.run(alone(subprotocol, url, document, variables))
                if operation_id != "resumed":
                    expected = expected[1:]  # sent before it subscribed
                got = received[subprotocol, url][operation_id]
                assert got == expected, (subprotocol, url, operation_id)
    finally:
        api.close()
    with_file = {
        url: received["graphql-transport-ws", url][operation_id][1]["data"]["messages"]
        for url, operation_id in ((server.ws_url, "full-1"), (localhost_ws, "full"))
    }
    assert with_file[server.ws_url]["attachments"][0]["url"].startswith(server.url)
    localhost_url = server.url.replace("127.0.0.1", "localhost")
    assert with_file[localhost_ws]["attachments"][0]["url"].startswith(localhost_url)
    aliased = received["graphql-transport-ws", server.ws_url]["aliased"]
    assert aliased[0] == {"data": {"m": {"__typename": "Message", "text": "one", "from": ann.user_id}}}
    assert received["graphql-ws", server.ws_url]["without-sender"][2] == {
        "data": {"messages": {"content": "to myself"}}
    }
    resumed = received["graphql-ws", server.ws_url]["resumed"]
    contents = ["before anyone listens", "one", "with a file", "to myself"]
    assert [p["data"]["messages"]["content"] for p in resumed] == contents


def test_a_delivery_and_its_shared_result_are_garbage_once_every_subscription_moved_on(live, monkeypatch):
    """Only the latest message of each live subscription is held; nothing once they end."""
    deliveries: list[weakref.ref] = []
    original_offer = Subscription.offer

    def recording_offer(self, item):
        if not deliveries or deliveries[-1]() is not item:
            deliveries.append(weakref.ref(item))
        return original_offer(self, item)

    monkeypatch.setattr(Subscription, "offer", recording_offer)
    api = ChatAPI(live.url)
    ann, bob = api.sign_up("ann"), api.sign_up("bob")

    async def scenario() -> None:
        sockets = [
            await WSSubscriber(live.ws_url, subprotocol).__aenter__()
            for subprotocol in ("graphql-transport-ws", "graphql-ws")
            for _ in range(2)
        ]
        for ws in sockets:
            for n in range(3):
                await ws.subscribe(str(n), FULL, {"u": bob.user_id})
            await ws.round_trip()
        for content in ("first", "second"):
            await asyncio.to_thread(api.send, ann, bob, content)
            for ws in sockets:
                assert [len(p) for p in (await payloads(ws, 3)).values()] == [1, 1, 1]
            executions = live.call(lambda: len(deliveries[-1]().results))
            assert executions == 1, "twelve subscriptions, one execution"
        gc.collect()
        assert deliveries[0]() is None and shared_data("first") == 0
        assert deliveries[1]() is not None, "each subscription still holds its latest message"
        assert shared_data("second") == 1
        for ws in sockets:
            await ws.__aexit__()


    try:
        asyncio.run(scenario())
    finally:
        api.close()
    deadline = time.monotonic() + 5
    while live.app.state.hub.count() and time.monotonic() < deadline:
        time.sleep(0.02)
    gc.collect()
    assert len(deliveries) == 2
    assert deliveries[1]() is None and shared_data("second") == 0


def shared_data(content: str) -> int:
    """How many shared results' data about a message with this content are alive (this process's servers)."""
    return sum(1 for o in gc.get_objects() if type(o) is JSONOnce and o["messages"]["content"] == content)


def _context() -> dict:
    store, hub = MemoryStore(), Hub(10)
    return {
        "store": store,
        "hub": hub,
        "settings": Settings(),
        "request": SimpleNamespace(scope={}, base_url="http://testserver/"),
        "viewer": None,
    }


async def _streams(context: dict, document: str, variables: list[dict]) -> list:
    await context["store"].create_user("ann")
    parsed = parse(document)  # one parsed document, as the document cache gives every subscription
    return [
        await subscribe(
            schema,
            parsed,
            context_value=context,
            variable_values=values,
            executor_class=execution.SubscriptionExecutor,
        )
        for values in variables
    ]


def test_subscriptions_with_the_same_operation_share_one_result_and_others_do_not():
    async def scenario():
        context = _context()
        document = """subscription ($u: String, $yes: Boolean!) {
            messages(userId: $u) { content id @include(if: $yes) }
        }"""
        same, also_same, other = await _streams(
            context, document, [{"u": "1", "yes": True}, {"yes": True, "u": "1"}, {"u": "1", "yes": False}]
        )
        await context["hub"].publish(Message("7", "1", "1", "hi"))
        results = [await anext(stream) for stream in (same, also_same, other)]
        for stream in (same, also_same, other):
            await stream.aclose()
        return results

    same, also_same, other = asyncio.run(scenario())
    assert same is also_same
    assert other is not same
    assert same.formatted == {"data": {"messages": {"content": "hi", "id": "7"}}}
    assert other.formatted == {"data": {"messages": {"content": "hi"}}}
    assert json.loads(json.dumps(same.data)) == same.data


def test_a_result_with_errors_is_not_shared():
    """Its errors carry tracebacks that would keep the first subscription's frames alive."""

    async def scenario():
        context = _context()
        document = 'subscription { messages(userId: "1") { content createdAt } }'
        streams = await _streams(context, document, [{}, {}])
        await context["hub"].publish(Message("8", "1", "1", "no date", created_at=None))  # type: ignore[arg-type]
        results = [await anext(stream) for stream in streams]
        await context["hub"].publish(Message("9", "1", "1", "fine", datetime(2026, 1, 1, tzinfo=UTC)))
        fine = [await anext(stream) for stream in streams]
        for stream in streams:
            await stream.aclose()
        return results, fine

    (first, second), fine = asyncio.run(scenario())
    assert first is not second
    assert first.errors and second.errors
    assert first.data == second.data == {"messages": None}
    assert fine[0] is fine[1], "the next message is shared again"
