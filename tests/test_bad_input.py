"""Bad input of every kind: a clear error, nothing changed, no traceback, the server still serves."""

from __future__ import annotations

import asyncio
import json

import pytest
import websockets
from starlette.testclient import TestClient

from tests.conftest import create_user, gql, send
from tests.operations import MESSAGES

HTTP_CASES = [
    # (name, request kwargs, status, expected text in the body)
    (
        "malformed JSON",
        {"content": b'{"query": ', "headers": {"content-type": "application/json"}},
        400,
        "Request body is not a valid JSON",
    ),
    (
        "wrong content type",
        {"content": b"query { x }", "headers": {"content-type": "text/plain"}},
        400,
        "Posted content must be of type application/json",
    ),
    ("JSON that is not an object", {"json": [1, 2]}, 400, "Operation data should be a JSON object"),
    ("query that is not a string", {"json": {"query": 5}}, 400, "The query must be a string."),
    (
        "variables that are not an object",
        {"json": {"query": '{ userId(username: "a") }', "variables": 3}},
        400,
        "Query variables must be a null or an object.",
    ),
    ("syntax error", {"json": {"query": "{ userId(username: "}}, 400, "Syntax Error"),
    (
        "unknown field",
        {"json": {"query": "{ password }"}},
        400,
        "Cannot query field 'password' on type 'Query'.",
    ),
    (
        "unknown operation name",
        {"json": {"query": 'query A { userId(username: "a") }', "operationName": "B"}},
        400,
        "Unknown operation named 'B'.",
    ),
    (
        "wrong variable type",
        {"json": {"query": "query ($u: String!) { userId(username: $u) }", "variables": {"u": 5}}},
        400,
        "String cannot represent a non string value: 5",
    ),
    (
        "null where a value is required",
        {"json": {"query": "query ($u: String!) { userId(username: $u) }", "variables": {"u": None}}},
        400,
        "Expected value of non-null type 'String!' not to be None.",
    ),
    (
        "lone surrogate in an echoed name",
        {
            "content": b'{"query": "query A { userId(username: \\"a\\") }", "operationName": "\\ud800"}',
            "headers": {"content-type": "application/json"},
        },
        400,
        "Unknown operation named",
    ),
    (
        "lone surrogate in the query",
        {
            "content": b'{"query": "{ userId(username: \\"\\ud800\\") }"}',
            "headers": {"content-type": "application/json"},
        },
        400,
        "Syntax Error",
    ),
    (
        "subscription over HTTP",
        {"json": {"query": 'subscription { messages(userId: "1") { content } }'}},
        400,
        "Subscription operations can only be executed over a WebSocket connection.",
    ),
]


@pytest.fixture
def history(client):
    """Two users and three messages that every bad request must leave intact."""
    create_user(client, "ann")
    create_user(client, "bob")
    for n in range(3):
        send(client, "1", "2", f"kept {n}")
    return gql(client, MESSAGES, {"userId": "2"})


@pytest.mark.parametrize(
    ("name", "request_kwargs", "status", "text"), HTTP_CASES, ids=[c[0] for c in HTTP_CASES]
)
def test_bad_http_request_gets_a_clear_error_and_changes_nothing(
    app, history, name, request_kwargs, status, text, server_errors
):
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.post("/", **request_kwargs)
        assert response.status_code == status, response.text
        body = response.content.decode("utf-8")  # always valid UTF-8
        assert text in body
        assert "Traceback" not in body
        assert gql(client, MESSAGES, {"userId": "2"}) == history
    assert server_errors() == []


def test_get_with_a_mutation_is_refused(client, history, server_errors):
    response = client.get("/", params={"query": 'mutation { createUser(username: "eve") { success } }'})
    assert response.status_code == 400
    assert (
        response.json()["errors"][0]["message"]
        == "Only queries can be sent with GET; send this mutation with POST."
    )
    assert gql(client, '{ userId(username: "eve") }') == {"data": {"userId": None}}
    assert client.get("/", params={"query": '{ userId(username: "ann") }'}).json() == {
        "data": {"userId": "1"}
    }
    assert server_errors() == []


@pytest.mark.parametrize(
    "username",
    ["\u200bann", "ann\u200d", "\u202eann", "a\u2066nn", "\ufeffann", "\ud800ann"],
    ids=["zero-width space", "zero-width joiner", "RTL override", "bidi isolate", "BOM", "lone surrogate"],
)
def test_invisible_characters_in_usernames_are_refused(client, history, username):
    query = "mutation ($u: String!) { createUser(username: $u) { success errors } }"
    body = json.dumps({"query": query, "variables": {"u": username}})  # \u-escapes a lone surrogate
    result = client.post("/", content=body, headers={"content-type": "application/json"}).json()
    assert result["data"]["createUser"] == {
        "success": False,
        "errors": ["Username contains control or invisible characters"],
    }


def test_right_to_left_text_is_a_fine_username_and_message(client, history):
    assert create_user(client, "שלום") == "3"
    assert send(client, "3", "1", "مرحبا بالعالم")["success"] is True


async def close_of(url: str, subprotocol: str, frames: list) -> tuple[int, str, list[dict]]:
    """Send frames after the handshake; return the close code, reason and frames received."""
    received = []
    async with websockets.connect(url, subprotocols=[subprotocol]) as ws:
        await ws.send(json.dumps({"type": "connection_init"}))
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        for frame in frames:
            await ws.send(frame)
        try:
            while True:
                received.append(json.loads(await asyncio.wait_for(ws.recv(), 5)))
        except websockets.ConnectionClosed as closed:
            return closed.rcvd.code, closed.rcvd.reason, received
    raise AssertionError("not closed")


WS_CLOSING_CASES = [
    ("binary frame", [b"\x00\x01"], 4400, "Invalid message received: binary frame"),
    ("non-JSON text", ["hello"], 4400, "Invalid message received: not JSON"),
    ("JSON that is not an object", ["[1, 2]"], 4400, "Invalid message received: not a JSON object"),
]


@pytest.mark.parametrize("subprotocol", ["graphql-ws", "graphql-transport-ws"])
@pytest.mark.parametrize(
    ("name", "frames", "code", "reason"), WS_CLOSING_CASES, ids=[c[0] for c in WS_CLOSING_CASES]
)
def test_invalid_websocket_frames_close_with_4400(
    live, subprotocol, name, frames, code, reason, server_errors
):
    assert asyncio.run(close_of(live.ws_url, subprotocol, frames))[:2] == (code, reason)
    assert server_errors() == []


def test_graphql_transport_ws_closes_on_unknown_type_and_bad_payload(live, server_errors):
    unknown = asyncio.run(close_of(live.ws_url, "graphql-transport-ws", [json.dumps({"type": "nope"})]))
    assert unknown[0] == 4400
    bad = json.dumps({"type": "subscribe", "id": "1", "payload": "not an operation"})
    code, reason, _ = asyncio.run(close_of(live.ws_url, "graphql-transport-ws", [bad]))
    assert (code, reason) == (4400, "Invalid message received: payload is not an object")
    assert server_errors() == []


async def legacy_session(url: str, frames: list[dict], replies: int) -> list[dict]:
    async with websockets.connect(url, subprotocols=["graphql-ws"]) as ws:
        await ws.send(json.dumps({"type": "connection_init"}))
        for frame in frames:
            await ws.send(json.dumps(frame))
        received = []
        while len(received) < replies:
            message = json.loads(await asyncio.wait_for(ws.recv(), 5))
            if message["type"] not in ("ka", "connection_ack", "complete"):
                received.append(message)
        return received


def test_legacy_protocol_answers_bad_messages_with_errors_and_stays_open(live, server_errors):
    frames = [
        {"type": "nope", "id": "a"},
        {"type": "start", "id": "b"},
        {"type": "start", "id": "c", "payload": {"query": "{ nope }"}},
        {"type": "start", "id": "d", "payload": {"query": '{ userId(username: "x") }'}},
    ]
    errors_then_data = asyncio.run(legacy_session(live.ws_url, frames, replies=4))
    assert errors_then_data[0] == {
        "type": "error",
        "id": "a",
        "payload": {"message": "Invalid message type: 'nope'"},
    }
    assert errors_then_data[1] == {
        "type": "error",
        "id": "b",
        "payload": {"message": "Operation data should be a JSON object"},
    }
    assert errors_then_data[2]["id"] == "c"
    assert (
        errors_then_data[2]["payload"]["errors"][0]["message"] == "Cannot query field 'nope' on type 'Query'."
    )
    assert errors_then_data[3] == {"type": "data", "id": "d", "payload": {"data": {"userId": None}}}
    assert server_errors() == []
