"""Opt-in authentication: tokens, rotation, and acting only as yourself."""

from __future__ import annotations

import hashlib
import logging

import pytest
from starlette.testclient import TestClient

from app import create_app
from settings import Settings
from tests.conftest import gql
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
    with TestClient(create_app(Settings(auth_mode="required"))) as client:
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
