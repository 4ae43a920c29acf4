"""The tutorial flow through the npm clients users run, in Node.js, against a real uvicorn server.

Each node script (tests/node/) runs the flow with its client and reports
what it saw as JSON; the assertions are here.
"""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.conftest import ROOT, require_node_packages
from tests.operations import CREATE_USER_ONE, CREATE_USER_TWO, SEND, SEND_HELLO, SUBSCRIBE_USER_TWO, USER_ID

CLIENTS = {
    "graphql-ws": ("graphql-ws-client.mjs", "graphql-transport-ws"),
    "subscriptions-transport-ws": ("subscriptions-transport-ws-client.mjs", "graphql-ws"),
}

HELLO = {"messages": {"content": "Hello there", "senderId": "1", "recipientId": "2"}}


def run_flow(node: str, script: str, server) -> dict:
    operations = {
        "createUsers": [CREATE_USER_ONE, CREATE_USER_TWO, CREATE_USER_ONE.replace("user_one", "user_three")],
        "userId": USER_ID,
        "subscribe": SUBSCRIBE_USER_TWO,
        "sendHello": SEND_HELLO,
        "send": SEND,
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
