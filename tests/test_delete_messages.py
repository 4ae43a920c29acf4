"""Deleting messages: by the sender only, gone from history with its files, announced to live clients."""

from __future__ import annotations

import asyncio
import time

import pytest

from store import Message
from subscriptions import Hub
from tests.chat_api import HISTORY, SUBPROTOCOLS, ChatAPI, WSSubscriber
from tests.conftest import ThreadedServer

MODES = ["open", "required"]
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 100
DELETED = "subscription ($u: String!) { messageDeleted(userId: $u) }"
PAGE = """
query ($u: String!, $after: ID, $before: ID, $limit: Int) {
  messages(userId: $u, after: $after, before: $before, limit: $limit) {
    success errors hasMore messages { id }
  }
}
"""
RESUME = "subscription ($u: String, $after: ID) { messages(userId: $u, after: $after) { id content } }"


@pytest.fixture
def chat(live_with, tmp_path, request) -> tuple[ThreadedServer, ChatAPI]:
    mode = getattr(request, "param", "open")
    server = live_with(auth_mode=mode, attachments_dir=str(tmp_path / "attachments"))
    api = ChatAPI(server.url)
    yield server, api
    api.close()


def files_on_disk(server: ThreadedServer) -> list[str]:
    directory = server.app.state.attachments.directory
    return sorted(path.name for path in directory.iterdir()) if directory.exists() else []


@pytest.mark.parametrize("chat", MODES, indirect=True)
def test_the_sender_deletes_a_message_for_both_users_with_its_files(chat):
    server, api = chat
    ann, bob = api.sign_up("ann"), api.sign_up("bob")
    kept = api.send(ann, bob, "kept")
    sent = api.send_files(ann, bob, [("a.png", PNG, "image/png"), ("b.txt", b"hi", "text/plain")])
    urls = [attachment["url"] for attachment in sent["message"]["attachments"]]
    assert len(files_on_disk(server)) == 2

    deleted = api.delete(sent["message"]["id"], as_=ann, sender=ann.user_id)
    assert deleted == {"success": True, "errors": None, "messageId": sent["message"]["id"]}
    for person in (ann, bob):
        assert [m["id"] for m in api.history(person)] == [kept]
        assert all(api.http.get(url, headers=person.headers).status_code == 404 for url in urls)
    assert files_on_disk(server) == []


def test_in_open_mode_a_token_can_stand_for_sender_id(chat):
    _, api = chat
    ann, bob = api.sign_up("ann"), api.sign_up("bob")
    first, second = api.send(ann, bob, "one"), api.send(ann, bob, "two")
    assert api.delete(first, sender=ann.user_id)["success"] is True, "senderId, no token: the tutorial's way"
    assert api.delete(second, as_=ann)["success"] is True, "a token, no senderId"
    assert api.history(bob) == []


@pytest.mark.parametrize("chat", MODES, indirect=True)
def test_deleting_someone_elses_an_unknown_or_a_deleted_message_is_refused(chat):
    _, api = chat
    ann, bob = api.sign_up("ann"), api.sign_up("bob")
    message = api.send(ann, bob, "hello")
    refusal = "Only its sender may delete a message"
    assert api.delete(message, as_=bob, sender=bob.user_id)["errors"] == [refusal]
    assert api.delete(message, as_=bob)["errors"] == [refusal], "the token's user is the sender asked for"
    assert api.delete("99", as_=ann, sender=ann.user_id) == {
        "success": False,
        "errors": ["Message not found"],
        "messageId": None,
    }
    assert api.delete("abc", as_=ann, sender=ann.user_id)["errors"] == [
        'messageId: "abc" is not a message id (ids are "1", "2", ...; "0" is the start)'
    ]
    assert [m["content"] for m in api.history(bob)] == ["hello"], "refusals delete nothing"
    assert api.delete(message, as_=ann, sender=ann.user_id)["success"] is True
    assert api.delete(message, as_=ann, sender=ann.user_id)["errors"] == ["Message not found"]


def test_open_mode_needs_a_sender_id_or_a_token(chat):
    _, api = chat
    ann = api.sign_up("ann")
    message = api.send(ann, ann, "note to self")
    assert api.delete(message)["errors"] == [
        "senderId is required (or a token: Authorization: Bearer <token>)"
    ]


@pytest.mark.parametrize("chat", ["required"], indirect=True)
def test_required_mode_deletes_only_as_the_caller(chat):
    _, api = chat
    ann, bob = api.sign_up("ann"), api.sign_up("bob")
    message = api.send(ann, bob, "hello")
    assert api.delete(message, as_=bob, sender=ann.user_id)["errors"] == ["Forbidden"]
    anonymous = api.call(
        "mutation ($id: ID!) { deleteMessage(messageId: $id) { success } }", {"id": message}
    )
    assert [error["message"] for error in anonymous["errors"]] == ["Unauthenticated"]
    assert len(api.history(bob)) == 1


@pytest.mark.parametrize("chat", MODES, indirect=True)
@pytest.mark.parametrize("subprotocol", SUBPROTOCOLS)
def test_live_clients_of_both_parties_learn_of_a_deletion(chat, subprotocol):
    server, api = chat
    ann, bob, cy = api.sign_up("ann"), api.sign_up("bob"), api.sign_up("cy")
    message = api.send(ann, bob, "soon gone")
    other = api.send(cy, cy, "cy's own")

    async def scenario():
        async with (
            WSSubscriber(server.ws_url, subprotocol, ann.token) as ann_ws,
            WSSubscriber(server.ws_url, subprotocol, bob.token) as bob_ws,
            WSSubscriber(server.ws_url, subprotocol, cy.token) as cy_ws,
        ):
            for person, ws in ((ann, ann_ws), (bob, bob_ws), (cy, cy_ws)):
                await ws.subscribe("deleted", DELETED, {"u": person.user_id})
                await ws.round_trip()
            assert server.call(lambda: server.app.state.hub.count()) == 3
            deleted = await asyncio.to_thread(api.delete, message, ann, ann.user_id)
            assert deleted["success"] is True
            for ws in (ann_ws, bob_ws):
                frame = await ws.next_payload("deleted")
                assert frame["payload"] == {"data": {"messageDeleted": message}}
            # cy hears of her own deletion only, not of ann's.
            assert (await asyncio.to_thread(api.delete, other, cy, cy.user_id))["success"] is True
            frame = await cy_ws.next_payload("deleted")
            assert frame["payload"] == {"data": {"messageDeleted": other}}

    asyncio.run(scenario())
    deadline = time.monotonic() + 5
    while server.call(lambda: server.app.state.hub.count()) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.call(lambda: server.app.state.hub.count()) == 0, "closing the sockets unregistered them"


@pytest.mark.parametrize("chat", MODES, indirect=True)
@pytest.mark.parametrize("subprotocol", SUBPROTOCOLS)
def test_following_deletions_of_an_unknown_or_another_user(chat, subprotocol):
    """An unknown user is an error; another user's deletions are refused in required mode only."""
    server, api = chat
    ann, bob = api.sign_up("ann"), api.sign_up("bob")
    hub_count = server.app.state.hub.count

    async def error_for(user_id: str) -> str:
        async with WSSubscriber(server.ws_url, subprotocol, ann.token) as ws:
            await ws.subscribe("d", DELETED, {"u": user_id})
            frame = await ws.next_payload("d")
            assert frame["type"] == "error", frame
            payload = frame["payload"]
            return (payload[0] if isinstance(payload, list) else payload)["message"]

    async def subscribes(user_id: str) -> bool:
        async with WSSubscriber(server.ws_url, subprotocol, ann.token) as ws:
            await ws.subscribe("d", DELETED, {"u": user_id})
            await ws.round_trip()
            return server.call(hub_count) == 1

    if server.app.state.settings.auth_mode == "required":
        assert asyncio.run(error_for(bob.user_id)) == "Forbidden"
        assert asyncio.run(error_for("99")) == "Forbidden"
    else:
        assert asyncio.run(subscribes(bob.user_id)) is True
        assert asyncio.run(error_for("99")) == "User not found"
    deadline = time.monotonic() + 5
    while server.call(hub_count) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.call(hub_count) == 0


def test_pages_and_resumed_subscriptions_go_on_from_a_deleted_message(chat):
    """A client may hold the id of a message deleted since it saw it: as a cursor it still works."""
    server, api = chat
    ann, bob = api.sign_up("ann"), api.sign_up("bob")
    ids = [api.send(ann, bob, f"m{n}") for n in range(6)]
    for gone in (ids[2], ids[3]):
        assert api.delete(gone, sender=ann.user_id)["success"] is True

    def page(**arguments) -> dict:
        return api.call(PAGE, {"u": bob.user_id, **arguments})["data"]["messages"]

    assert [m["id"] for m in page(after=ids[2])["messages"]] == [ids[4], ids[5]]
    assert [m["id"] for m in page(before=ids[3])["messages"]] == [ids[0], ids[1]]
    walked, cursor = [], "0"
    for _ in range(10):
        result = page(after=cursor, limit=2)
        walked += [m["id"] for m in result["messages"]]
        if not result["hasMore"]:
            break
        cursor = result["messages"][-1]["id"]
    assert walked == [ids[0], ids[1], ids[4], ids[5]], "no gap, no deleted message, no repeat"
    newest_first = page(limit=3)
    assert [m["id"] for m in newest_first["messages"]] == [ids[1], ids[4], ids[5]]
    assert newest_first["hasMore"] is True

    async def resume():
        async with WSSubscriber(server.ws_url, "graphql-transport-ws") as ws:
            await ws.subscribe("s", RESUME, {"u": bob.user_id, "after": ids[3]})
            return [(await ws.next_payload("s"))["payload"]["data"]["messages"]["id"] for _ in range(2)]

    assert asyncio.run(resume()) == [ids[4], ids[5]]


def test_a_deletion_subscriber_that_stops_reading_is_ended_without_slowing_anyone():
    async def scenario():
        hub = Hub(queue_size=3)
        stalled, reading = hub.subscribe_deletions("2"), hub.subscribe_deletions("1")
        received = []
        for n in range(1, 6):
            await hub.publish_deletion(Message(str(n), "1", "2", "x"))
            received.append((await anext(reading)).event)
        assert received == ["1", "2", "3", "4", "5"]
        assert hub.count("2") == 0, "unregistered at once, when its queue overflowed"
        with pytest.raises(Exception, match="more than 3 deletions were waiting"):
            await anext(stalled)
        await reading.aclose()
        assert hub.count() == 0

    asyncio.run(scenario())


def test_history_query_shape_is_unchanged_by_deletions(chat):
    """The tutorial's query still answers the remaining messages, oldest first."""
    _, api = chat
    ann, bob = api.sign_up("ann"), api.sign_up("bob")
    first, second = api.send(ann, bob, "first"), api.send(bob, ann, "second")
    assert api.delete(first, sender=ann.user_id)["success"] is True
    result = api.call(HISTORY, {"userId": ann.user_id})["data"]["messages"]
    assert [(m["id"], m["content"], m["attachments"]) for m in result["messages"]] == [(second, "second", [])]
