"""Every request limit: its default, its error, and that the server goes on serving."""

from __future__ import annotations

import asyncio
import json
import time

import httpx
import pytest
import websockets
from starlette.testclient import TestClient

from app import create_app
from tests.conftest import ThreadedServer, create_user, gql, make_settings, send
from tests.legacy_ws import LegacyClient
from tests.operations import SUBSCRIBE


def aliases(count: int) -> str:
    return "{ " + " ".join(f'a{n}: userId(username: "x")' for n in range(count)) + " }"


def errors_of(client, query, status=400):
    return [error["message"] for error in gql(client, query, status=status)["errors"]]


def test_a_body_over_the_limit_gets_413_before_it_is_read(client):
    response = client.post(
        "/", content=b"{" + b" " * (1024 * 1024) + b"}", headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert response.text == "Request body exceeds 1048576 bytes"


def test_a_chunked_body_over_the_limit_gets_413(live):
    def chunks():
        yield b'{"query": "'
        for _ in range(40):
            yield b"x" * 32768
        yield b'"}'

    response = httpx.post(live.url, content=chunks(), headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert httpx.post(live.url, json={"query": '{ userId(username: "x") }'}).json() == {
        "data": {"userId": None}
    }


@pytest.mark.parametrize(
    ("settings", "error"),
    [
        (make_settings(), "Syntax Error: Source contains more than 65536 code points. Parsing aborted."),
        (
            make_settings(max_query_length=10**7),
            "Syntax Error: Document contains more than 2000 tokens. Parsing aborted.",
        ),
    ],
)
def test_twenty_thousand_aliases_are_refused_fast(settings, error):
    """Refused by the length limit, or with that raised, by the token limit: in under 50 ms.

    The time is the server's (from the request reaching the app to the last
    byte of the answer), the best of three tries on a machine shared with others.
    """
    query = aliases(20000)
    assert len(query.encode()) < 1024 * 1024, "the body limit must not be what refuses it"
    app = create_app(settings)
    server_times = []

    async def timed_app(scope, receive, send):
        started = time.perf_counter()
        await app(scope, receive, send)
        server_times.append(time.perf_counter() - started)

    with TestClient(timed_app) as client:
        gql(client, aliases(1))  # warm up
        server_times.clear()
        for _ in range(3):
            assert errors_of(client, query) == [error]
    assert min(server_times) < 0.05, f"took {min(server_times) * 1000:.1f} ms"


def test_too_many_tokens_are_refused_while_parsing(client):
    query = "{ " + " ".join(['userId(username: "x")'] * 600) + " }"  # under the length limit
    assert len(query) < 65536
    (message,) = errors_of(client, query)
    assert "tokens" in message and "2000" in message


def test_aliases_over_the_limit_are_refused(client):
    def nested_aliases(count):
        return '{ messages(userId: "1") { ' + " ".join(f"a{n}: success" for n in range(count)) + " } }"

    assert gql(client, nested_aliases(30))["data"]["messages"]["a29"] is False
    assert errors_of(client, nested_aliases(31)) == ["Query uses too many aliases: the limit is 30."]


def test_top_level_fields_over_the_limit_are_refused():
    with TestClient(create_app(make_settings(max_root_fields=3))) as client:
        def fields(names):
            return "{ " + " ".join(f'{n}: userId(username: "x")' for n in names) + " }"

        assert "errors" not in gql(client, fields("abc"))
        assert errors_of(client, fields("abcd")) == ["Too many top-level fields: the limit is 3."]


def test_depth_over_the_limit_is_refused_and_fragments_are_followed():
    with TestClient(create_app(make_settings(max_query_depth=2))) as client:
        assert gql(client, 'mutation { createUser(username: "ann") { success } }')["data"]
        deep = '{ messages(userId: "1") { messages { content } } }'
        assert errors_of(client, deep) == ["Query is nested too deeply: the limit is 2 levels."]
        via_fragment = """
            query { messages(userId: "1") { ...Page } }
            fragment Page on messagesResult { messages { content } }
        """
        assert errors_of(client, via_fragment) == ["Query is nested too deeply: the limit is 2 levels."]
        assert "errors" not in gql(client, '{ messages(userId: "1") { success } }')


def test_default_depth_refuses_eleven_levels_but_not_introspection(client):
    deep = "{ " + "a { " * 11 + "b" + " }" * 11 + " }"
    assert "Query is nested too deeply: the limit is 10 levels." in errors_of(client, deep)
    from graphql import get_introspection_query

    result = gql(client, get_introspection_query())
    assert "errors" not in result and result["data"]["__schema"]["queryType"]["name"] == "Query"


def test_the_101st_subscription_on_a_connection_is_refused_alone(client, app):
    create_user(client, "ann")
    with LegacyClient(client) as ws:
        for n in range(100):
            ws.start(str(n), SUBSCRIBE, {"userId": "1"})
        ws.start("101st", SUBSCRIBE, {"userId": "1"})
        refused = ws.receive()
        assert (refused["type"], refused["id"]) == ("error", "101st")
        assert (
            refused["payload"]["message"]
            == "Too many active subscriptions on this connection: the limit is 100."
        )
        assert app.state.hub.count("1") == 100
        ws.stop("0")
        ws.start("again", SUBSCRIBE, {"userId": "1"})
        send(client, "1", "1", "still served")
        first = ws.receive()
        assert first["type"] == "data" and first["payload"]["data"]["messages"]["content"] == "still served"
    assert app.state.hub.count() == 0


def test_content_and_username_limits_hold_over_websocket(client):
    create_user(client, "ann")
    with LegacyClient(client) as ws:
        ws.start("u", 'mutation { createUser(username: "' + "x" * 65 + '") { success errors } }')
        assert ws.next_data("u")["data"]["createUser"] == {
            "success": False,
            "errors": ["Username exceeds 64 characters"],
        }
        ws.start(
            "m",
            'mutation { createMessage(senderId: "1", recipientId: "1", content: "'
            + "x" * 4097
            + '") { success errors } }',
        )
        assert ws.next_data("m")["data"]["createMessage"]["errors"] == ["Content exceeds 4096 characters"]


async def closed_with(url: str, subprotocol: str, first_frame: str | bytes) -> tuple[int, str]:
    async with websockets.connect(url, subprotocols=[subprotocol], max_size=None) as ws:
        await ws.send(json.dumps({"type": "connection_init"}))
        await ws.recv()
        await ws.send(first_frame)
        with pytest.raises(websockets.ConnectionClosed) as closed:
            while True:
                await asyncio.wait_for(ws.recv(), 5)
        return closed.value.rcvd.code, closed.value.rcvd.reason


@pytest.mark.parametrize("subprotocol", ["graphql-ws", "graphql-transport-ws"])
def test_a_websocket_message_over_the_limit_closes_with_1009(live, subprotocol, server_errors):
    frame = json.dumps({"type": "ping", "payload": "x" * (64 * 1024)})
    code, reason = asyncio.run(closed_with(live.ws_url, subprotocol, frame))
    assert (code, reason) == (1009, "Message exceeds 65536 bytes")
    assert server_errors() == []


def test_connections_per_client_address_are_limited_when_set():
    server = ThreadedServer(create_app(make_settings(max_connections_per_client=2))).start()

    async def scenario():
        first = await websockets.connect(server.ws_url, subprotocols=["graphql-transport-ws"])
        second = await websockets.connect(server.ws_url, subprotocols=["graphql-transport-ws"])
        third = await websockets.connect(server.ws_url, subprotocols=["graphql-transport-ws"])
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(third.recv(), 5)
        assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (
            1008,
            "Too many connections from this address",
        )
        await first.close()
        await asyncio.sleep(0.2)
        fourth = await websockets.connect(server.ws_url, subprotocols=["graphql-transport-ws"])
        await fourth.send(json.dumps({"type": "connection_init"}))
        assert json.loads(await asyncio.wait_for(fourth.recv(), 5)) == {"type": "connection_ack"}
        await second.close()
        await fourth.close()

    try:
        asyncio.run(scenario())
    finally:
        server.stop()
