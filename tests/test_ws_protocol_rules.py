"""Each rule of the graphql-transport-ws protocol (PROTOCOL.md), and the legacy keep-alive,
checked with a raw WebSocket client against a real uvicorn server."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from typing import Any

import httpx
import pytest
import websockets

from tests.conftest import ProcessServer
from tests.operations import SEND_HELLO, SUBSCRIBE_USER_TWO, USER_ID
from tests.raw_ws import INIT, LEGACY, PING, TRANSPORT, acknowledged, close_of, receive, round_trip
from websocket import CloseCode


def subscribe(operation_id: str, query: str = SUBSCRIBE_USER_TWO) -> str:
    return json.dumps({"type": "subscribe", "id": operation_id, "payload": {"query": query}})


def run(coroutine: Any) -> Any:
    return asyncio.run(coroutine)


def test_ping_gets_pong(live):
    async def scenario() -> None:
        async with websockets.connect(live.ws_url, subprotocols=[TRANSPORT]) as ws:
            await ws.send(PING)  # allowed before connection_init too
            assert await receive(ws) == {"type": "pong"}
            await acknowledged(ws)
            await ws.send(json.dumps({"type": "ping", "payload": {"at": 1}}))
            assert (await receive(ws))["type"] == "pong"

    run(scenario())


def test_subscribe_before_connection_ack_closes_4401(live, live_users):
    async def scenario() -> tuple[int, str]:
        async with websockets.connect(live.ws_url, subprotocols=[TRANSPORT]) as ws:
            await ws.send(subscribe("s"))
            return await close_of(ws)

    assert run(scenario()) == (CloseCode.UNAUTHORIZED, "Unauthorized")
    assert live.call(live.app.state.hub.count) == 0


def test_second_connection_init_closes_4429(live):
    async def scenario() -> tuple[int, str]:
        async with websockets.connect(live.ws_url, subprotocols=[TRANSPORT]) as ws:
            await acknowledged(ws)
            await ws.send(INIT)
            return await close_of(ws)

    assert run(scenario()) == (CloseCode.TOO_MANY_INITIALISATION_REQUESTS, "Too many initialisation requests")


def test_subscribing_with_an_active_id_closes_4409(live, live_users, server_errors):
    async def scenario() -> tuple[int, str]:
        async with websockets.connect(live.ws_url, subprotocols=[TRANSPORT]) as ws:
            await acknowledged(ws)
            await ws.send(subscribe("chat"))
            assert await round_trip(ws) == []
            assert live.call(live.app.state.hub.count) == 1
            await ws.send(subscribe("chat"))
            return await close_of(ws)

    assert run(scenario()) == (CloseCode.SUBSCRIBER_ALREADY_EXISTS, "Subscriber for chat already exists")
    deadline = time.monotonic() + 5
    while live.call(live.app.state.hub.count) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert live.call(live.app.state.hub.count) == 0, "the first subscription outlived its connection"
    assert server_errors() == []


def test_an_id_can_be_reused_once_its_operation_is_over(live, live_users):
    """Only an active id is refused: a finished query's id is free again."""

    async def scenario() -> list[dict]:
        async with websockets.connect(live.ws_url, subprotocols=[TRANSPORT]) as ws:
            await acknowledged(ws)
            query = '{ userId(username: "user_one") }'
            frames = []
            for _ in range(2):
                await ws.send(subscribe("q", query))
                frames += [await receive(ws), await receive(ws)]
            return frames

    answer = {"type": "next", "id": "q", "payload": {"data": {"userId": "1"}}}
    assert run(scenario()) == [answer, {"type": "complete", "id": "q"}] * 2


INVALID_MESSAGES = {
    "text that is not JSON": "{oops",
    "a binary frame": b"\x00\x01",
    "JSON that is not an object": "[1, 2]",
    "no type": "{}",
    "an unknown type": json.dumps({"type": "start", "id": "1", "payload": {"query": "{ a }"}}),
    "a server-only type": json.dumps({"type": "next", "id": "1", "payload": {}}),
    "subscribe without an id": json.dumps({"type": "subscribe", "payload": {"query": SUBSCRIBE_USER_TWO}}),
    "subscribe with a number id": json.dumps({"type": "subscribe", "id": 7, "payload": {"query": "{ a }"}}),
    "subscribe without a payload": json.dumps({"type": "subscribe", "id": "1"}),
    "subscribe without a query": json.dumps({"type": "subscribe", "id": "1", "payload": {}}),
    "variables that are a list": json.dumps(
        {"type": "subscribe", "id": "1", "payload": {"query": SUBSCRIBE_USER_TWO, "variables": [1]}}
    ),
    "complete without an id": json.dumps({"type": "complete"}),
}
FIRST_MESSAGE_INVALID = json.dumps({"type": "connection_init", "payload": "x"})


@pytest.mark.parametrize(
    ("frame", "after_ack"),
    [*((frame, True) for frame in INVALID_MESSAGES.values()), (FIRST_MESSAGE_INVALID, False)],
    ids=[*INVALID_MESSAGES, "connection_init with a string payload"],
)
def test_an_invalid_message_closes_4400_without_a_server_error(
    live, live_users, frame, after_ack, server_errors
):
    async def scenario() -> tuple[int, str]:
        async with websockets.connect(live.ws_url, subprotocols=[TRANSPORT]) as ws:
            if after_ack:
                await acknowledged(ws)
            await ws.send(frame)
            return await close_of(ws)

    code, reason = run(scenario())
    assert code == CloseCode.BAD_REQUEST
    assert reason.startswith("Invalid message received: ")
    assert server_errors() == []


def test_a_legacy_client_sending_garbage_is_closed_4400_without_a_server_error(live, server_errors):
    async def scenario() -> tuple[int, str]:
        async with websockets.connect(live.ws_url, subprotocols=[LEGACY]) as ws:
            await ws.send("not json")
            return await close_of(ws)

    assert run(scenario()) == (CloseCode.BAD_REQUEST, "Invalid message received: not JSON")
    assert server_errors() == []


def test_no_connection_init_within_the_timeout_closes_4408(tmp_path):
    """CONNECTION_INIT_TIMEOUT, read from the environment by `uvicorn app:app`."""
    server = ProcessServer(tmp_path / "server.log", env={"CONNECTION_INIT_TIMEOUT": "0.5"})

    async def silent() -> tuple[tuple[int, str], float]:
        async with websockets.connect(server.ws_url, subprotocols=[TRANSPORT]) as ws:
            started = time.monotonic()
            closed = await close_of(ws)
            return closed, time.monotonic() - started

    async def initialised_in_time() -> None:
        async with websockets.connect(server.ws_url, subprotocols=[TRANSPORT]) as ws:
            await acknowledged(ws)
            await asyncio.sleep(1)
            assert await round_trip(ws) == []

    try:
        closed, after = run(silent())
        run(initialised_in_time())
    finally:
        server.stop()
    assert closed == (CloseCode.CONNECTION_INITIALISATION_TIMEOUT, "Connection initialisation timeout")
    assert 0.4 <= after < 3
    assert "Traceback" not in server.log


def test_complete_stops_the_subscription_and_nothing_more_is_sent_for_it(live, live_users, server_errors):
    async def scenario() -> tuple[dict, list[dict]]:
        async with (
            websockets.connect(live.ws_url, subprotocols=[TRANSPORT]) as ws,
            httpx.AsyncClient() as http,
        ):
            await acknowledged(ws)
            await ws.send(subscribe("chat"))
            await round_trip(ws)
            await http.post(live.url, json={"query": SEND_HELLO})
            event = await receive(ws)

            await ws.send(json.dumps({"type": "complete", "id": "chat"}))
            after = await round_trip(ws)
            assert live.call(live.app.state.hub.count) == 0
            await http.post(live.url, json={"query": SEND_HELLO})
            await asyncio.sleep(0.3)
            after += await round_trip(ws)
            return event, after

    event, after = run(scenario())
    assert event == {
        "type": "next",
        "id": "chat",
        "payload": {"data": {"messages": {"content": "Hello there", "senderId": "1", "recipientId": "2"}}},
    }
    assert after == []  # neither the second message nor a `complete` echo
    assert server_errors() == []


@pytest.mark.parametrize("offered", [["foo"], ["graphql-sse", "mqtt"], []])
def test_a_client_offering_neither_subprotocol_closes_4406(live, offered):
    async def scenario() -> tuple[int, str]:
        async with websockets.connect(live.ws_url, subprotocols=offered or None) as ws:
            return await close_of(ws)

    assert run(scenario()) == (CloseCode.SUBPROTOCOL_NOT_ACCEPTABLE, "Subprotocol not acceptable")


def test_the_client_order_of_preference_picks_the_protocol(live):
    async def chosen(offered: list[str]) -> str | None:
        async with websockets.connect(live.ws_url, subprotocols=offered) as ws:
            return ws.subprotocol

    assert run(chosen(["foo", LEGACY, TRANSPORT])) == LEGACY
    assert run(chosen([TRANSPORT, LEGACY])) == TRANSPORT


async def keep_alives(server: Any, listen: float) -> tuple[list[str], list[float]]:
    """Connect with the legacy protocol; the frame types and arrival times seen for `listen` seconds."""
    kinds, times = [], []
    async with websockets.connect(server.ws_url, subprotocols=[LEGACY]) as ws:
        await ws.send(INIT)
        started = time.monotonic()
        deadline = started + listen
        while (left := deadline - time.monotonic()) > 0:
            try:
                frame = await receive(ws, wait=left)
            except TimeoutError:
                break
            kinds.append(frame["type"])
            times.append(time.monotonic() - started)
    return kinds, times


def test_legacy_protocol_sends_keep_alive_at_the_interval(live_with):
    kinds, times = run(keep_alives(live_with(keepalive_interval=0.25), listen=1.2))
    assert kinds[0] == "connection_ack"
    assert set(kinds[1:]) == {"ka"}
    assert 4 <= len(kinds) - 1 <= 6, times  # one at once, then every 0.25 s
    gaps = [later - earlier for earlier, later in itertools.pairwise(times[1:])]
    assert all(0.15 < gap < 0.6 for gap in gaps), gaps


def test_keep_alive_interval_zero_turns_keep_alive_off(live_with):
    kinds, _ = run(keep_alives(live_with(keepalive_interval=0), listen=0.8))
    assert kinds == ["connection_ack"]


def test_an_unknown_operation_name_is_an_error_and_the_connection_stays(live, server_errors):
    async def scenario() -> tuple[dict, list[dict]]:
        async with websockets.connect(live.ws_url, subprotocols=[TRANSPORT]) as ws:
            await acknowledged(ws)
            payload = {"query": 'query A { userId(username: "x") }', "operationName": "B"}
            await ws.send(json.dumps({"type": "subscribe", "id": "1", "payload": payload}))
            return await receive(ws), await round_trip(ws)

    error, after = run(scenario())
    assert error == {"type": "error", "id": "1", "payload": [{"message": "Unknown operation named 'B'."}]}
    assert after == []
    assert server_errors() == []


async def legacy_answers(server: Any, starts: list[dict]) -> list[dict]:
    """Send legacy `start`s, then a last query; every frame up to that query's `complete`."""
    async with websockets.connect(server.ws_url, subprotocols=[LEGACY]) as ws:
        await ws.send(INIT)
        assert await receive(ws) == {"type": "connection_ack"}
        for start in [*starts, {"id": "last", "payload": {"query": '{ userId(username: "x") }'}}]:
            await ws.send(json.dumps({"type": "start", **start}))
        frames = []
        while (frame := await receive(ws)) != {"type": "complete", "id": "last"}:
            if frame["type"] != "ka":
                frames.append(frame)
        return frames


def test_legacy_query_over_websocket_ends_with_complete(live, live_users):
    """subscriptions-transport-ws clients wait for `complete` to finish a query."""
    frames = run(legacy_answers(live, [{"id": "q", "payload": {"query": USER_ID}}]))
    assert frames == [
        {"type": "data", "id": "q", "payload": {"data": {"userId": "1"}}},
        {"type": "complete", "id": "q"},
        {"type": "data", "id": "last", "payload": {"data": {"userId": None}}},
    ]


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (None, "Operation data should be a JSON object"),
        ({"query": 7}, "The query must be a string."),
        ({"query": 'fragment F on Query { userId(username: "x") }'}, "The document must contain exactly"),
    ],
)
def test_a_malformed_legacy_start_is_an_error_and_the_connection_stays(live, payload, message, server_errors):
    frames = run(legacy_answers(live, [{"id": "bad", "payload": payload}]))
    assert frames[0]["type"] == "error"
    assert frames[0]["id"] == "bad"
    assert frames[0]["payload"]["message"].startswith(message)
    assert frames[1:] == [{"type": "data", "id": "last", "payload": {"data": {"userId": None}}}]
    assert server_errors() == []
