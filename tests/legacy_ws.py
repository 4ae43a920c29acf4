"""A small client for the legacy graphql-ws protocol over Starlette's TestClient."""

from __future__ import annotations

from typing import Any

from starlette.testclient import TestClient


class LegacyClient:
    """Speaks subscriptions-transport-ws as GraphQL Playground does.

    `receive` skips keep-alives and records `complete` frames in `completed`.
    """

    def __init__(self, client: TestClient, connection_init: bool = True) -> None:
        self._context = client.websocket_connect("/", subprotocols=["graphql-ws"])
        self._connection_init = connection_init
        self.ws: Any = None
        self.completed: list[str] = []

    def __enter__(self) -> LegacyClient:
        self.ws = self._context.__enter__()
        assert self.ws.accepted_subprotocol == "graphql-ws"
        if self._connection_init:
            self.ws.send_json({"type": "connection_init", "payload": {}})
            assert self.receive()["type"] == "connection_ack"
        return self

    def __exit__(self, *exc: Any) -> None:
        self._context.__exit__(*exc)

    def receive(self) -> dict:
        while True:
            message = self.ws.receive_json()
            if message["type"] == "complete":
                self.completed.append(message["id"])
            elif message["type"] != "ka":
                return message

    def start(self, operation_id: str, query: str, variables: dict | None = None) -> None:
        payload = {"query": query, "variables": variables or {}}
        self.ws.send_json({"type": "start", "id": operation_id, "payload": payload})

    def stop(self, operation_id: str) -> None:
        self.ws.send_json({"type": "stop", "id": operation_id})

    def next_data(self, operation_id: str) -> dict:
        message = self.receive()
        assert message["type"] == "data", message
        assert message["id"] == operation_id, message
        return message["payload"]
