"""The tutorial's walk-through, verbatim, in-process: what a Playground user does."""

from tests.conftest import gql
from tests.legacy_ws import LegacyClient
from tests.operations import (
    CREATE_USER_ONE,
    CREATE_USER_TWO,
    MESSAGES_USER_TWO,
    SEND_HELLO,
    SUBSCRIBE_USER_TWO,
    USER_ID,
)


def test_tutorial_flow_verbatim(client):
    """Every operation of the tutorial answers as the tutorial shows."""
    assert gql(client, CREATE_USER_ONE) == {
        "data": {"createUser": {"success": True, "user": {"userId": "1", "username": "user_one"}}}
    }
    assert gql(client, CREATE_USER_TWO) == {
        "data": {"createUser": {"success": True, "user": {"userId": "2", "username": "user_two"}}}
    }
    assert gql(client, USER_ID) == {"data": {"userId": "1"}}

    with LegacyClient(client) as ws:
        ws.start("1", SUBSCRIBE_USER_TWO)
        sent = gql(client, SEND_HELLO)
        assert sent == {
            "data": {
                "createMessage": {
                    "success": True,
                    "message": {"content": "Hello there", "recipientId": "2", "senderId": "1"},
                }
            }
        }
        assert ws.next_data("1") == {
            "data": {"messages": {"content": "Hello there", "senderId": "1", "recipientId": "2"}}
        }

    assert gql(client, MESSAGES_USER_TWO) == {
        "data": {
            "messages": {
                "success": True,
                "messages": [{"content": "Hello there", "senderId": "1", "recipientId": "2"}],
            }
        }
    }


def test_taken_username_says_so(client):
    gql(client, CREATE_USER_ONE)
    answer = gql(client, CREATE_USER_ONE.replace("success", "success errors"))
    assert answer["data"]["createUser"] == {"success": False, "errors": ["Username is taken"], "user": None}


def test_hello_is_not_part_of_the_api(client):
    """The tutorial's temporary `hello` query was removed from the final API."""
    answer = gql(client, "query { hello }", status=400)
    assert "Cannot query field 'hello'" in answer["errors"][0]["message"]
