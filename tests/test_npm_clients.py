"""The tutorial flow through the npm clients users run, in Node.js, against a real uvicorn server.

Each node script (tests/node/) runs the flow with its client and reports
what it saw as JSON; the assertions are here. The WebSocket clients run every
operation on one socket; Apollo Client and urql send queries and mutations
over HTTP and subscriptions over WebSocket through the `graphql-ws` client.
"""

from __future__ import annotations

import json
import subprocess

import httpx
import pytest

from tests.conftest import ROOT, require_node_packages
from tests.operations import CREATE_USER_ONE, CREATE_USER_TWO, SEND, SEND_HELLO, SUBSCRIBE_USER_TWO, USER_ID

CLIENTS = {
    "graphql-ws": ("graphql-ws-client.mjs", "graphql-transport-ws"),
    "subscriptions-transport-ws": ("subscriptions-transport-ws-client.mjs", "graphql-ws"),
}

HELLO = {"messages": {"content": "Hello there", "senderId": "1", "recipientId": "2"}}


def run_flow(node: str, script: str, server, **more_operations: str) -> dict:
    operations = {
        "createUsers": [CREATE_USER_ONE, CREATE_USER_TWO, CREATE_USER_ONE.replace("user_one", "user_three")],
        "userId": USER_ID,
        "subscribe": SUBSCRIBE_USER_TWO,
        "sendHello": SEND_HELLO,
        "send": SEND,
        **more_operations,
    }
    done = subprocess.run(
        [node, str(ROOT / "tests" / "node" / script)],
        input=json.dumps({"url": server.url, "wsUrl": server.ws_url, "operations": operations}),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.mark.parametrize("package", CLIENTS)
def test_tutorial_flow_with_npm_client(live, package, server_errors):
    node = require_node_packages(package, "ws", "graphql")
    script, subprotocol = CLIENTS[package]
    report = run_flow(node, script, live)

    assert report["subprotocol"] == subprotocol
    assert [user["createUser"]["user"]["userId"] for user in report["users"]] == ["1", "2", "3"]
    assert report["beforeSending"] == {"data": {"userId": "1"}}
    assert report["sentToSomeoneElse"]["createMessage"]["success"] is True
    assert report["sent"]["createMessage"]["success"] is True
    # Only user 2's message arrives; the one to user 3, sent first, does not.
    assert report["received"] == [{"data": HELLO}]

    assert report["afterUnsubscribing"] == {"data": {"userId": "1"}}
    assert report["sentAfterUnsubscribing"]["createMessage"]["success"] is True
    assert report["receivedAfterUnsubscribing"] == []
    assert live.call(live.app.state.hub.count) == 0
    assert server_errors() == []


# The library, its script, and whether it adds `__typename` to subscriptions too
# (Apollo 3 and 4 add it to every selection set; urql's cacheExchange to queries and mutations).
# `@apollo/client-4` is Apollo Client 4, installed beside 3.14 under an npm alias.
LIBRARIES = {
    "@apollo/client": ("apollo-client.mjs", True),
    "@apollo/client-4": ("apollo-client-4.mjs", True),
    "@urql/core": ("urql-client.mjs", False),
}

# A query missing a required argument: the server answers HTTP 400 with the GraphQL error.
MISTAKE = "query { userId }"
STATUS_400 = "Response not successful: Received status code 400"


def mistake_report(package: str, server_said: list[str]) -> dict:
    """How each library hands over that error, as users see it.

    urql reads the body whatever the status and gives the server's errors. Apollo 4 asks for
    `application/graphql-response+json`, gets it, and so reads the 400's body as a GraphQL
    response: it rejects with CombinedGraphQLErrors carrying the server's messages. Apollo 3
    asks for any type, gets `application/json`, and rejects with the status code in the message
    (ApolloError); the server's messages are only in its `networkError.result`.
    """
    if package == "@urql/core":
        return {"errors": [{"message": message} for message in server_said]}
    if package == "@apollo/client":
        rejected = {"name": "ApolloError", "message": STATUS_400, "errors": [], "serverErrors": server_said}
    else:
        rejected = {"name": "CombinedGraphQLErrors", "message": "\n".join(server_said), "errors": server_said}
    return {"clientError": rejected}

HELLO_FIELDS = HELLO["messages"]


def with_typename(fields: dict, typename: str) -> dict:
    return {**fields, "__typename": typename}


@pytest.mark.parametrize("package", LIBRARIES)
def test_tutorial_flow_with_graphql_client_library(live, package, server_errors):
    """Apollo Client 3, 4 and urql, wired to graphql-ws as their docs say, see what the tutorial promises."""
    node = require_node_packages(package, "graphql-ws", "ws", "graphql")
    script, typename_in_subscriptions = LIBRARIES[package]
    report = run_flow(node, script, live, mistake=MISTAKE)

    # The libraries add `__typename` to every nested selection; the server answers it.
    assert [user["data"]["createUser"] for user in report["users"]] == [
        with_typename(
            {"success": True, "user": with_typename({"userId": user_id, "username": name}, "User")},
            "createUserResult",
        )
        for user_id, name in [("1", "user_one"), ("2", "user_two"), ("3", "user_three")]
    ]
    assert report["userId"] == {"data": {"userId": "1"}}
    answered = httpx.post(live.url, json={"query": MISTAKE})
    assert answered.status_code == 400
    server_said = [error["message"] for error in answered.json()["errors"]]
    assert "username" in server_said[0]
    assert report["mistake"] == mistake_report(package, server_said)
    assert report["beforeSending"] == {"data": {"userId": "1"}}
    assert report["sentToSomeoneElse"]["data"]["createMessage"]["success"] is True
    sent = report["sent"]["data"]["createMessage"]
    assert sent == with_typename(
        {"success": True, "message": with_typename(HELLO_FIELDS, "Message")}, "createMessageResult"
    )

    # Only user 2's message arrives, through the library's subscription, equal to what was sent.
    expected = with_typename(HELLO_FIELDS, "Message") if typename_in_subscriptions else HELLO_FIELDS
    assert report["received"] == [{"data": {"messages": expected}}]
    assert report["received"][0]["data"]["messages"].items() <= sent["message"].items()

    # A domain error is data the library hands over as it is, not a failed request.
    assert report["unknownRecipient"] == {
        "data": {
            "createMessage": with_typename(
                {"success": False, "errors": ["Recipient not found"], "message": None}, "createMessageResult"
            )
        }
    }

    assert report["afterUnsubscribing"] == {"data": {"userId": "1"}}
    assert report["sentAfterUnsubscribing"]["data"]["createMessage"]["success"] is True
    assert report["receivedAfterUnsubscribing"] == []
    assert live.call(live.app.state.hub.count) == 0
    assert server_errors() == []
