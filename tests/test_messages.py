"""createMessage and messages(userId): each rule, each error, and the order of history."""

import pytest
from starlette.testclient import TestClient

from app import create_app
from tests.conftest import create_user, gql, make_settings, send
from tests.operations import MESSAGES


def history(client, user_id):
    return gql(client, MESSAGES, {"userId": user_id})["data"]["messages"]


@pytest.fixture
def users(client):
    return create_user(client, "ann"), create_user(client, "bob"), create_user(client, "cy")


def test_message_is_stored_and_returned(client, users):
    ann, bob, _ = users
    result = send(client, ann, bob, "hi bob")
    assert result == {
        "success": True,
        "errors": None,
        "message": {"content": "hi bob", "senderId": ann, "recipientId": bob},
    }
    assert history(client, bob)["messages"] == [result["message"]]


@pytest.mark.parametrize(
    ("sender", "recipient", "content", "errors"),
    [
        ("99", "2", "hi", ["Sender not found"]),
        ("1", "99", "hi", ["Recipient not found"]),
        ("98", "99", "hi", ["Sender not found", "Recipient not found"]),
        (None, "2", "hi", ["Sender not found"]),
        ("1", "2", "", ["Content is empty"]),
        ("1", "2", " \n ", ["Content is empty"]),
        ("1", "2", None, ["Content is empty"]),
        ("1", "2", "x" * 4097, ["Content exceeds 4096 characters"]),
        ("1", "2", "nul\x00byte", ["Content contains control characters"]),
    ],
)
def test_bad_messages_are_refused_and_not_stored(client, users, sender, recipient, content, errors):
    result = send(client, sender, recipient, content)
    assert result == {"success": False, "errors": errors, "message": None}
    assert history(client, "1")["messages"] == []
    assert history(client, "2")["messages"] == []


def test_longest_content_and_multiline_text_are_accepted(client, users):
    assert send(client, "1", "2", "x" * 4096)["success"] is True
    assert send(client, "1", "2", "line one\nline two\ttabbed")["success"] is True


def test_content_limit_is_a_setting():
    with TestClient(create_app(make_settings(max_content_length=10))) as client:
        create_user(client, "ann")
        assert send(client, "1", "1", "x" * 10)["success"] is True
        assert send(client, "1", "1", "x" * 11)["errors"] == ["Content exceeds 10 characters"]


def test_history_holds_sent_and_received_oldest_first(client, users):
    ann, bob, cy = users
    send(client, ann, bob, "1: ann to bob")
    send(client, bob, cy, "2: bob to cy")
    send(client, cy, ann, "3: cy to ann")
    send(client, bob, ann, "4: bob to ann")
    send(client, bob, bob, "5: bob to self")
    contents = [m["content"] for m in history(client, bob)["messages"]]
    assert contents == ["1: ann to bob", "2: bob to cy", "4: bob to ann", "5: bob to self"]
    assert [m["content"] for m in history(client, cy)["messages"]] == ["2: bob to cy", "3: cy to ann"]


def test_history_of_unknown_user_is_an_error(client, users):
    assert history(client, "99") == {"success": False, "errors": ["User not found"], "messages": None}
