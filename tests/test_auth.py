"""Opt-in authentication: tokens, rotation, and acting only as yourself."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging

import httpx
import pytest
import websockets
from starlette.testclient import TestClient

from app import create_app
from settings import Settings
from tests.conftest import ThreadedServer, gql, make_settings
from tests.operations import CREATE_USER, CREATE_USER_ONE, MESSAGES, SEND

ROTATE = "mutation { rotateToken { success errors token } }"


def sign_up(client: TestClient, username: str) -> tuple[str, str]:
    result = gql(client, CREATE_USER.replace("errors", "errors token"), {"username": username})
    created = result["data"]["createUser"]
    assert created["success"], created
    return created["user"]["userId"], created["token"]


def as_user(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}


def call(client: TestClient, query: str, variables: dict | None = None, token: str | None = None) -> dict:
    response = client.post("/", json={"query": query, "variables": variables or {}}, headers=as_user(token))
    assert response.status_code in (200, 400), response.text
    return response.json()


@pytest.fixture
def required():
    with TestClient(create_app(make_settings(auth_mode="required"))) as client:
        yield client


def test_a_new_user_gets_a_token_and_the_store_keeps_only_its_hash(client, app):
    user_id, token = sign_up(client, "ann")
    owner, _, secret = token.partition(".")
    assert owner == user_id and len(secret) >= 43, "at least 32 random bytes"
    stored = app.state.store._token_hashes[user_id]
    assert stored == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in repr(app.state.store.__dict__)


def test_tokens_are_different_for_every_user(client):
    tokens = {sign_up(client, f"user{n}")[1].partition(".")[2] for n in range(20)}
    assert len(tokens) == 20


def test_open_mode_keeps_the_tutorial_flow_without_tokens(client):
    assert gql(client, CREATE_USER_ONE)["data"]["createUser"]["success"] is True
    sign_up(client, "user_two")
    sent = gql(client, SEND, {"from": "2", "to": "1", "content": "anyone may send as anyone"})
    assert sent["data"]["createMessage"]["success"] is True
    assert gql(client, MESSAGES, {"userId": "1"})["data"]["messages"]["success"] is True


def test_required_mode_refuses_calls_without_a_token(required):
    sign_up(required, "ann")
    for query, variables in [
        ('{ userId(username: "ann") }', {}),
        (MESSAGES, {"userId": "1"}),
        (SEND, {"from": "1", "to": "1", "content": "hi"}),
        (ROTATE, {}),
    ]:
        answer = call(required, query, variables)
        assert [error["message"] for error in answer["errors"]] == ["Unauthenticated"], query


def test_required_mode_refuses_a_wrong_token_and_logs_it_without_the_token(required, caplog):
    caplog.set_level(logging.INFO)
    user_id, token = sign_up(required, "ann")
    wrong = f"{user_id}.{'x' * 43}"
    for bad in (wrong, "garbage", f"99.{token.partition('.')[2]}", token + "x"):
        answer = call(required, '{ userId(username: "ann") }', token=bad)
        assert answer["errors"][0]["message"] == "Unauthenticated"
    assert "Rejected a token" in caplog.text
    assert "x" * 43 not in caplog.text and token.partition(".")[2] not in caplog.text


def test_required_mode_lets_a_user_act_only_as_itself(required):
    ann, ann_token = sign_up(required, "ann")
    bob, bob_token = sign_up(required, "bob")
    assert call(required, '{ userId(username: "bob") }', token=ann_token) == {"data": {"userId": bob}}

    sent = call(required, SEND, {"from": ann, "to": bob, "content": "hi bob"}, token=ann_token)
    assert sent["data"]["createMessage"]["success"] is True
    as_bob = call(required, SEND, {"from": bob, "to": ann, "content": "forged"}, token=ann_token)
    assert as_bob["data"]["createMessage"] == {"success": False, "errors": ["Forbidden"], "message": None}

    own = call(required, MESSAGES, {"userId": ann}, token=ann_token)["data"]["messages"]
    assert [m["content"] for m in own["messages"]] == ["hi bob"]
    other = call(required, MESSAGES, {"userId": bob}, token=ann_token)["data"]["messages"]
    assert other == {"success": False, "errors": ["Forbidden"], "messages": None}
    assert call(required, MESSAGES, {"userId": bob}, token=bob_token)["data"]["messages"]["success"] is True


def test_sign_up_stays_open_in_required_mode(required):
    answer = call(required, CREATE_USER, {"username": "newcomer"})
    assert answer["data"]["createUser"]["success"] is True


def test_a_rotated_token_stops_working_at_once(required):
    ann, old = sign_up(required, "ann")
    rotated = call(required, ROTATE, token=old)["data"]["rotateToken"]
    assert rotated["success"] is True and rotated["token"] != old
    assert call(required, MESSAGES, {"userId": ann}, token=old)["errors"][0]["message"] == "Unauthenticated"
    assert call(required, MESSAGES, {"userId": ann}, token=rotated["token"])["data"]["messages"]["success"]


def test_rotate_token_needs_a_token_even_in_open_mode(client):
    _, token = sign_up(client, "ann")
    assert call(client, ROTATE)["errors"][0]["message"] == "Unauthenticated"
    assert call(client, ROTATE, token=token)["data"]["rotateToken"]["success"] is True


def test_auth_mode_must_be_open_or_required():
    with pytest.raises(ValueError, match="AUTH_MODE"):
        Settings.from_env({"AUTH_MODE": "sometimes"})


async def ws_connect(
    url: str, subprotocol: str, payload: dict | None
) -> tuple[list[dict], int | None, object]:
    """connection_init with `payload`; the frames received until ack or close, and the close code."""
    ws = await websockets.connect(url, subprotocols=[subprotocol])
    await ws.send(json.dumps({"type": "connection_init", "payload": payload or {}}))
    frames = []
    try:
        while True:
            frame = json.loads(await asyncio.wait_for(ws.recv(), 5))
            if frame["type"] == "ka":
                continue
            frames.append(frame)
            if frame["type"] == "connection_ack":
                return frames, None, ws
    except websockets.ConnectionClosed as closed:
        return frames, closed.rcvd.code if closed.rcvd else None, ws


async def ws_operation(ws, subprotocol: str, query: str, variables: dict) -> dict:
    start = {"graphql-ws": "start", "graphql-transport-ws": "subscribe"}[subprotocol]
    await ws.send(
        json.dumps({"type": start, "id": "op", "payload": {"query": query, "variables": variables}})
    )
    while True:
        frame = json.loads(await asyncio.wait_for(ws.recv(), 5))
        if frame.get("id") == "op":
            return frame


SUBPROTOCOLS = ["graphql-ws", "graphql-transport-ws"]
SUBSCRIBE = "subscription ($u: String) { messages(userId: $u) { content senderId } }"


@pytest.fixture
def required_server():
    server = ThreadedServer(create_app(make_settings(auth_mode="required"))).start()
    yield server
    server.stop()


def sign_up_over(server, username: str) -> tuple[str, str]:
    query = CREATE_USER.replace("errors", "errors token")
    created = httpx.post(server.url, json={"query": query, "variables": {"username": username}}).json()
    return created["data"]["createUser"]["user"]["userId"], created["data"]["createUser"]["token"]


@pytest.mark.parametrize("subprotocol", SUBPROTOCOLS)
def test_websocket_without_a_valid_token_is_refused_in_required_mode(required_server, subprotocol):
    ann, _ = sign_up_over(required_server, "ann")

    async def scenario():
        results = []
        for payload in (None, {"authToken": f"{ann}.wrong"}, {"Authorization": "Bearer nonsense"}):
            frames, code, _ = await ws_connect(required_server.ws_url, subprotocol, payload)
            results.append((frames, code))
        return results

    for frames, code in asyncio.run(scenario()):
        if subprotocol == "graphql-transport-ws":
            assert (frames, code) == ([], 4403)
        else:
            assert frames == [{"type": "connection_error", "payload": {"message": "Unauthenticated"}}]
            assert code == 1000


@pytest.mark.parametrize("subprotocol", SUBPROTOCOLS)
@pytest.mark.parametrize("form", ["authToken", "Authorization"])
def test_websocket_token_allows_only_your_own_messages(required_server, subprotocol, form):
    ann, ann_token = sign_up_over(required_server, "ann")
    bob, _ = sign_up_over(required_server, "bob")
    params = {"authToken": ann_token} if form == "authToken" else {"Authorization": f"Bearer {ann_token}"}

    async def scenario():
        frames, code, ws = await ws_connect(required_server.ws_url, subprotocol, params)
        assert frames[-1]["type"] == "connection_ack" and code is None
        forbidden = await ws_operation(ws, subprotocol, SUBSCRIBE, {"u": bob})
        forged = await ws_operation(ws, subprotocol, SEND, {"from": bob, "to": ann, "content": "forged"})
        await ws.close()
        return forbidden, forged

    forbidden, forged = asyncio.run(scenario())
    assert forbidden["type"] == "error"
    payload = forbidden["payload"]
    messages = [e["message"] for e in payload] if isinstance(payload, list) else [payload["message"]]
    assert messages == ["Forbidden"]
    assert forged["payload"]["data"]["createMessage"] == {
        "success": False,
        "errors": ["Forbidden"],
        "message": None,
    }


@pytest.mark.parametrize("subprotocol", SUBPROTOCOLS)
def test_websocket_subscriber_receives_its_messages_with_a_token(required_server, subprotocol):
    ann, ann_token = sign_up_over(required_server, "ann")
    bob, bob_token = sign_up_over(required_server, "bob")

    async def scenario():
        _, _, ws = await ws_connect(required_server.ws_url, subprotocol, {"authToken": bob_token})
        start = {"graphql-ws": "start", "graphql-transport-ws": "subscribe"}[subprotocol]
        payload = {"query": SUBSCRIBE, "variables": {"u": bob}}
        await ws.send(json.dumps({"type": start, "id": "s", "payload": payload}))
        await ws_operation(ws, subprotocol, '{ userId(username: "ann") }', {})
        async with httpx.AsyncClient() as http:
            sent = await http.post(
                required_server.url,
                json={"query": SEND, "variables": {"from": ann, "to": bob, "content": "for bob"}},
                headers={"Authorization": f"Bearer {ann_token}"},
            )
        assert sent.json()["data"]["createMessage"]["success"] is True
        while True:
            frame = json.loads(await asyncio.wait_for(ws.recv(), 5))
            if frame.get("id") == "s":
                await ws.close()
                return frame["payload"]

    assert asyncio.run(scenario()) == {"data": {"messages": {"content": "for bob", "senderId": ann}}}


def test_a_rotated_token_no_longer_opens_connections(required_server):
    _, old = sign_up_over(required_server, "ann")
    rotated = httpx.post(
        required_server.url, json={"query": ROTATE}, headers={"Authorization": f"Bearer {old}"}
    )
    new = rotated.json()["data"]["rotateToken"]["token"]

    async def scenario():
        refused = await ws_connect(required_server.ws_url, "graphql-transport-ws", {"authToken": old})
        accepted = await ws_connect(required_server.ws_url, "graphql-transport-ws", {"authToken": new})
        await accepted[2].close()
        return refused[1], accepted[0][-1]["type"]

    assert asyncio.run(scenario()) == (4403, "connection_ack")
