"""The roadmap's features on a real uvicorn with DATABASE_URL set: attachments, deletions, profiles.

Each runs on SQLite and on PostgreSQL, and survives a restart of the server,
which shows the database (not the process's memory) holds them.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.chat_api import SUBPROTOCOLS, ChatAPI, WSSubscriber
from tests.conftest import STORES, ThreadedServer

SQL_KINDS = ["sqlite", "postgresql"]
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 400
TEXT = "notes: é €\n".encode()
FILES = [("photo.png", PNG, "image/png"), ("notes.txt", TEXT, "text/plain")]
LIVE = """
subscription ($u: String) {
  messages(userId: $u) { id content attachments { filename sha256 url } }
}
"""
DELETED = "subscription ($u: String!) { messageDeleted(userId: $u) }"
PAGE_AFTER = """
query ($u: String!, $after: ID) {
  messages(userId: $u, after: $after, limit: 10) { success errors messages { content } }
}
"""
USER = "query ($id: String!) { user(userId: $id) { username displayName bio createdAt } }"
UPDATE = """
mutation ($id: String!, $name: String, $bio: String) {
  updateProfile(userId: $id, displayName: $name, bio: $bio) { success errors user { displayName bio } }
}
"""


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class SqlChat:
    """A real server on one database and attachments directory, which `restart` replaces."""

    def __init__(self, live_with: Callable[..., ThreadedServer], database_url: str, tmp_path: Path) -> None:
        self._start = lambda: live_with(
            auth_mode="required", database_url=database_url, attachments_dir=str(tmp_path / "attachments")
        )
        self.server = self._start()
        self.api = ChatAPI(self.server.url)

    def restart(self) -> None:
        self.api.close()
        self.server.stop()
        self.server = self._start()
        self.api = ChatAPI(self.server.url)


@pytest.fixture(params=SQL_KINDS)
def sql_chat(request, live_with, tmp_path) -> SqlChat:
    chat = SqlChat(live_with, STORES[request.param](request), tmp_path)
    yield chat
    chat.api.close()


@pytest.mark.parametrize("subprotocol", SUBPROTOCOLS)
def test_files_are_sent_fetched_after_a_restart_and_deleted_with_their_message(sql_chat, subprotocol):
    chat = sql_chat
    ann, bob = chat.api.sign_up("ann"), chat.api.sign_up("bob")
    before = chat.api.send(ann, bob, "before")

    async def send_and_watch() -> tuple[dict, dict]:
        async with WSSubscriber(chat.server.ws_url, subprotocol, bob.token) as bob_ws:
            await bob_ws.subscribe("live", LIVE, {"u": bob.user_id})
            await bob_ws.round_trip()
            sent = await asyncio.to_thread(chat.api.send_files, ann, bob, FILES, "two files")
            return sent, (await bob_ws.next_payload("live"))["payload"]["data"]["messages"]

    sent, live = asyncio.run(send_and_watch())
    assert sent["success"] is True, sent
    message_id = sent["message"]["id"]
    assert [(a["filename"], a["sha256"]) for a in live["attachments"]] == [
        (name, sha256(data)) for name, data, _ in FILES
    ], "the subscriber gets the files, in order"
    chat.api.send(bob, ann, "after")

    chat.restart()
    (stored,) = [m for m in chat.api.history(bob) if m["id"] == message_id]
    assert [a["filename"] for a in stored["attachments"]] == ["photo.png", "notes.txt"]
    urls = [a["url"] for a in stored["attachments"]]
    for url, (_, data, kind) in zip(urls, FILES, strict=True):
        response = chat.api.http.get(url, headers=bob.headers)
        assert response.status_code == 200 and response.headers["content-type"] == kind
        assert sha256(response.content) == sha256(data)

    async def delete_and_watch() -> list[dict]:
        async with (
            WSSubscriber(chat.server.ws_url, subprotocol, ann.token) as ann_ws,
            WSSubscriber(chat.server.ws_url, subprotocol, bob.token) as bob_ws,
        ):
            for person, ws in ((ann, ann_ws), (bob, bob_ws)):
                await ws.subscribe("deleted", DELETED, {"u": person.user_id})
                await ws.round_trip()
            deleted = await asyncio.to_thread(chat.api.delete, message_id, ann)
            assert deleted == {"success": True, "errors": None, "messageId": message_id}
            return [(await ws.next_payload("deleted"))["payload"] for ws in (ann_ws, bob_ws)]

    assert asyncio.run(delete_and_watch()) == [{"data": {"messageDeleted": message_id}}] * 2
    assert [m["content"] for m in chat.api.history(bob)] == ["before", "after"]
    assert [chat.api.http.get(url, headers=bob.headers).status_code for url in urls] == [404, 404]
    assert list((chat.server.app.state.attachments.directory).iterdir()) == []
    again = chat.api.delete(message_id, ann)
    assert again == {"success": False, "errors": ["Message not found"], "messageId": None}

    chat.restart()
    page = chat.api.call(PAGE_AFTER, {"u": bob.user_id, "after": message_id}, as_=bob)["data"]["messages"]
    assert page == {"success": True, "errors": None, "messages": [{"content": "after"}]}, (
        "the deleted id is still a cursor after a restart"
    )
    page = chat.api.call(PAGE_AFTER, {"u": bob.user_id, "after": before}, as_=bob)["data"]["messages"]
    assert page["messages"] == [{"content": "after"}]


def test_a_profile_is_kept_across_a_restart(sql_chat):
    chat = sql_chat
    ann = chat.api.sign_up("ann")
    created = chat.api.call(USER, {"id": ann.user_id}, as_=ann)["data"]["user"]
    assert (created["displayName"], created["bio"]) == (None, None)
    updated = chat.api.call(UPDATE, {"id": ann.user_id, "name": " Ann ", "bio": "Hello"}, as_=ann)
    assert updated["data"]["updateProfile"] == {
        "success": True,
        "errors": None,
        "user": {"displayName": "Ann", "bio": "Hello"},
    }
    chat.restart()
    assert chat.api.call(USER, {"id": ann.user_id}, as_=ann)["data"]["user"] == {
        "username": "ann",
        "displayName": "Ann",
        "bio": "Hello",
        "createdAt": created["createdAt"],
    }
    cleared = chat.api.call(UPDATE, {"id": ann.user_id, "name": None, "bio": "Hello"}, as_=ann)
    assert cleared["data"]["updateProfile"]["user"] == {"displayName": None, "bio": "Hello"}
