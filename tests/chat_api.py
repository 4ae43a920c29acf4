"""A small HTTP client for the tests of attachments, deletion and profiles: users with tokens, uploads."""

from __future__ import annotations

import asyncio
import hashlib
import json
from dataclasses import dataclass
from typing import Any

import httpx
import websockets

SIGN_UP = """
mutation ($username: String!) {
  createUser(username: $username) { success errors token user { userId username } }
}
"""

ATTACHMENT_FIELDS = "attachments { id filename contentType size sha256 url }"

SEND_WITH_FILES = f"""
mutation ($from: String, $to: String, $content: String, $files: [Upload!]) {{
  createMessage(senderId: $from, recipientId: $to, content: $content, attachments: $files) {{
    success errors message {{ id content senderId recipientId {ATTACHMENT_FIELDS} }}
  }}
}}
"""

HISTORY = f"""
query ($userId: String!) {{
  messages(userId: $userId) {{ success errors messages {{ id content {ATTACHMENT_FIELDS} }} }}
}}
"""

DELETE = """
mutation ($id: ID!, $sender: String) {
  deleteMessage(messageId: $id, senderId: $sender) { success errors messageId }
}
"""


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class Person:
    user_id: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


class ChatAPI:
    """The server's HTTP API as a client sees it; `as_` picks whose token goes with a request."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.http = httpx.Client(timeout=30)

    def close(self) -> None:
        self.http.close()

    def sign_up(self, username: str) -> Person:
        created = self.call(SIGN_UP, {"username": username})["data"]["createUser"]
        assert created["success"], created
        return Person(created["user"]["userId"], created["token"])

    def call(self, query: str, variables: dict | None = None, as_: Person | None = None) -> dict:
        response = self.http.post(
            self.url,
            json={"query": query, "variables": variables or {}},
            headers=as_.headers if as_ else {},
        )
        assert response.status_code in (200, 400), response.text
        return response.json()

    def send(self, sender: Person, recipient: Person, content: str) -> str:
        """createMessage as the sender; the new message's id."""
        result = self.call(
            "mutation ($f: String, $t: String, $c: String) "
            "{ createMessage(senderId: $f, recipientId: $t, content: $c) { success message { id } } }",
            {"f": sender.user_id, "t": recipient.user_id, "c": content},
            as_=sender,
        )["data"]["createMessage"]
        assert result["success"], result
        return result["message"]["id"]

    def upload(
        self,
        query: str,
        variables: dict,
        files: list[tuple[str, bytes, str]],
        as_: Person | None = None,
        variable: str = "files",
    ) -> httpx.Response:
        """POST an operation with files, as the GraphQL multipart request spec lays it out."""
        operations = {"query": query, "variables": {**variables, variable: [None] * len(files)}}
        file_map = {str(n): [f"variables.{variable}.{n}"] for n in range(len(files))}
        parts = [(str(n), (name, data, kind)) for n, (name, data, kind) in enumerate(files)]
        return self.http.post(
            self.url,
            data={"operations": json.dumps(operations), "map": json.dumps(file_map)},
            files=parts,
            headers=as_.headers if as_ else {},
        )

    def send_files(
        self,
        sender: Person,
        recipient: Person,
        files: list[tuple[str, bytes, str]],
        content: str | None = "files",
        as_: Person | None = None,
    ) -> dict:
        """createMessage with attachments; the mutation's result."""
        variables = {"from": sender.user_id, "to": recipient.user_id, "content": content}
        response = self.upload(SEND_WITH_FILES, variables, files, as_=as_ or sender)
        assert response.status_code == 200, response.text
        return response.json()["data"]["createMessage"]

    def history(self, person: Person) -> list[dict]:
        result = self.call(HISTORY, {"userId": person.user_id}, as_=person)["data"]["messages"]
        assert result["success"], result
        return result["messages"]

    def delete(self, message_id: str, as_: Person | None = None, sender: str | None = None) -> dict:
        variables = {"id": message_id, "sender": sender}
        return self.call(DELETE, variables, as_=as_)["data"]["deleteMessage"]


SUBPROTOCOLS = ["graphql-ws", "graphql-transport-ws"]


class WSSubscriber:
    """One raw WebSocket speaking either protocol: connection_init with a token, then subscriptions."""

    def __init__(self, ws_url: str, subprotocol: str, token: str | None = None) -> None:
        self.ws_url = ws_url
        self.subprotocol = subprotocol
        self.token = token
        self.ws: Any = None

    async def __aenter__(self) -> WSSubscriber:
        self.ws = await websockets.connect(self.ws_url, subprotocols=[self.subprotocol])
        payload = {"authToken": self.token} if self.token else {}
        await self.ws.send(json.dumps({"type": "connection_init", "payload": payload}))
        assert (await self.frame())["type"] == "connection_ack"
        return self

    async def __aexit__(self, *_: Any) -> None:
        await self.ws.close()

    async def frame(self, wait: float = 5) -> dict:
        """The next frame that is not a keep-alive, within `wait` seconds."""
        while True:
            frame = json.loads(await asyncio.wait_for(self.ws.recv(), wait))
            if frame["type"] != "ka":
                return frame

    async def subscribe(self, operation_id: str, query: str, variables: dict) -> None:
        start = "start" if self.subprotocol == "graphql-ws" else "subscribe"
        payload = {"query": query, "variables": variables}
        await self.ws.send(json.dumps({"type": start, "id": operation_id, "payload": payload}))

    async def round_trip(self) -> None:
        """A query answered on this socket: every subscription started before it is registered."""
        await self.subscribe("sync", "{ __typename }", {})
        while True:
            frame = await self.frame()
            if frame.get("id") == "sync" and frame["type"] == "complete":
                return

    async def next_payload(self, operation_id: str, wait: float = 5) -> dict:
        frame = await self.frame(wait)
        assert frame.get("id") == operation_id, frame
        return frame
