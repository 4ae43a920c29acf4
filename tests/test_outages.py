"""Redis or PostgreSQL going away and coming back, under real servers of their own.

The process keeps running, says what is down (/healthz 503, clear errors to
clients, one warning in the log), and recovers by itself: subscriptions get
messages again, including those stored while Redis was away.
"""

from __future__ import annotations

import asyncio
import json
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import websockets

import redis_fanout
from tests.conftest import ProcessServer, require
from tests.deployment import (
    create_user,
    deployment_env,
    health,
    healthz_is,
    post,
    send,
    wait_until,
)
from tests.operations import CREATE_USER, SUBSCRIBE_AFTER, USER_ID
from tests.servers import (
    POSTGRES_HOW_TO,
    REDIS_HOW_TO,
    PostgresServer,
    RedisServer,
    postgres_bin,
    redis_server_binary,
)
from tests.test_resume import RawClient
from tests.test_scale_out import subscribe

UNAVAILABLE = "Service unavailable, try again"


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    """A Redis server this test alone uses, so that it may stop and restart it."""
    require(redis_server_binary() is not None, "Redis", REDIS_HOW_TO)
    server = RedisServer().start()
    yield server
    server.remove()


@pytest.fixture
def own_postgres() -> Iterator[PostgresServer]:
    """A PostgreSQL server this test alone uses, so that it may stop and restart it."""
    require(postgres_bin() is not None, "PostgreSQL", POSTGRES_HOW_TO)
    server = PostgresServer().start()
    yield server
    server.remove()


async def redis_restart(redis: RedisServer, a: ProcessServer, b: ProcessServer) -> None:
    async with (
        httpx.AsyncClient(base_url=a.url, timeout=30) as via_a,
        httpx.AsyncClient(base_url=b.url, timeout=30) as via_b,
    ):
        ann = await create_user(via_a, "ann")
        bob = await create_user(via_a, "bob")
        async with RawClient.connect(a.ws_url, "graphql-transport-ws") as on_a:
            await subscribe(on_a, bob)
            await send(via_b, ann, bob, "before")
            assert (await on_a.event("s"))["content"] == "before"

            redis.stop()
            for http in (via_a, via_b):
                await wait_until(healthz_is(http, 503, ["redis"]), what="/healthz to name redis")
            await send(via_a, ann, bob, "while down, through A")  # stored and acknowledged
            assert (await on_a.event("s"))["content"] == "while down, through A", "A delivers its own"
            await send(via_b, ann, bob, "while down, through B")

            redis.start()
            for http in (via_a, via_b):
                await wait_until(healthz_is(http, 200), what="/healthz to recover")
            assert (await on_a.event("s"))["content"] == "while down, through B", "read back from the store"
            await send(via_b, ann, bob, "after")
            assert (await on_a.event("s"))["content"] == "after", "live again"
            assert await on_a.sync() == [], "nothing twice"


def test_subscriptions_get_messages_again_after_redis_restarts(postgres_database, own_redis, tmp_path: Path):
    """Redis stops under a subscriber: messages are still acknowledged, and all arrive, in order, once."""
    env = deployment_env(postgres_database, own_redis.url, "chat:messages")
    a = ProcessServer(tmp_path / "a.log", env)
    b = ProcessServer(tmp_path / "b.log", env)
    try:
        asyncio.run(redis_restart(own_redis, a, b))
    finally:
        a.stop()
        b.stop()
    for server in (a, b):
        assert "Lost the Redis connection" in server.log
        assert "Redis available again" in server.log
        assert "Traceback" not in server.log and "ERROR" not in server.log, server.log


async def database_outage(postgres: PostgresServer, server) -> None:
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        ann = await create_user(http, "ann")
        assert await health(http) == (200, {"status": "ok", "checks": {"database": "ok", "redis": "ok"}})

        postgres.stop()
        down = {"status": "unavailable", "checks": {"database": "unavailable", "redis": "ok"}}
        assert await health(http) == (503, {**down, "failing": ["database"]})
        refused = (await post(http, CREATE_USER, {"username": "bob"}))["data"]["createUser"]
        assert refused == {"success": False, "errors": [UNAVAILABLE], "user": None}
        lookup = await post(http, USER_ID.replace("user_one", "ann"))
        assert [error["message"] for error in lookup["errors"]] == [UNAVAILABLE]
        async with RawClient.connect(server.ws_url, "graphql-transport-ws") as client:
            await client.start("s", SUBSCRIBE_AFTER, {"userId": ann})
            frame = await client.frame()
            assert frame["type"] == "error" and frame["payload"][0]["message"] == UNAVAILABLE, frame
            assert await client.sync() == [], "the connection stays usable"

        postgres.start()
        await wait_until(healthz_is(http, 200), what="/healthz to recover")
        bob = await create_user(http, "bob")
        assert (await send(http, ann, bob, "back"))["content"] == "back"


def test_a_database_outage_answers_service_unavailable_and_recovers(
    own_postgres, redis_server, redis_channel, live_with, server_errors
):
    """PostgreSQL stops: /healthz names it, clients get a clear error; it restarts: all works again."""
    name = own_postgres.create_database()
    server = live_with(
        database_url=own_postgres.url(name), redis_url=redis_server.url, redis_channel=redis_channel
    )
    asyncio.run(database_outage(own_postgres, server))
    assert server_errors() == []


async def unchecked_tokens(server, token: str) -> None:
    init = json.dumps({"type": "connection_init", "payload": {"authToken": token}})
    async with websockets.connect(server.ws_url, subprotocols=["graphql-transport-ws"]) as ws:
        await ws.send(init)
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 10)
    assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (1013, UNAVAILABLE)
    async with websockets.connect(server.ws_url, subprotocols=["graphql-ws"]) as ws:
        await ws.send(init)
        refusal = json.loads(await asyncio.wait_for(ws.recv(), 10))
    assert refusal == {"type": "connection_error", "payload": {"message": UNAVAILABLE}}
    async with httpx.AsyncClient(base_url=server.url, headers={"Authorization": f"Bearer {token}"}) as http:
        lookup = await post(http, USER_ID.replace("user_one", "ann"))
    assert [error["message"] for error in lookup["errors"]] == [UNAVAILABLE], "not Unauthenticated"


def test_a_token_that_cannot_be_checked_gets_service_unavailable_not_unauthenticated(
    own_postgres, live_with, server_errors
):
    """While the database is down a valid token cannot be checked: the client is told to retry."""
    name = own_postgres.create_database()
    server = live_with(database_url=own_postgres.url(name), auth_mode="required")

    async def sign_up() -> str:
        async with httpx.AsyncClient(base_url=server.url) as http:
            answer = await post(http, 'mutation { createUser(username: "ann") { success token } }')
        return answer["data"]["createUser"]["token"]

    token = asyncio.run(sign_up())
    own_postgres.stop()
    asyncio.run(unchecked_tokens(server, token))
    assert server_errors() == []


async def frozen_redis(redis: RedisServer, server) -> None:
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        ann = await create_user(http, "ann")
        bob = await create_user(http, "bob")
        async with RawClient.connect(server.ws_url, "graphql-transport-ws") as client:
            await subscribe(client, bob)
            await send(http, ann, bob, "before")
            assert (await client.event("s"))["content"] == "before"

            redis.process.send_signal(signal.SIGSTOP)
            try:
                await send(http, ann, bob, "first while frozen")  # waits for one publish timeout
                started = time.monotonic()
                await send(http, ann, bob, "second while frozen")
                assert time.monotonic() - started < 1, "later senders do not wait for a hung Redis"
                for expected in ("first while frozen", "second while frozen"):
                    assert (await client.event("s"))["content"] == expected, "delivered from the store"
                assert (await health(http))[1]["failing"] == ["redis"]
            finally:
                redis.process.send_signal(signal.SIGCONT)
            await wait_until(healthz_is(http, 200), what="/healthz to recover")
            await send(http, ann, bob, "after")
            assert (await client.event("s"))["content"] == "after"
            assert await client.sync() == [], "nothing twice"


def test_a_frozen_redis_holds_up_no_sender_and_subscriptions_resume(
    postgres_database, own_redis, live_with, server_errors, monkeypatch
):
    """Redis stops answering (SIGSTOP) without closing its connections, then wakes up (SIGCONT).

    The first publish times out; the process then publishes nothing until it
    has subscribed again, long before its quiet subscription would notice.
    """
    monkeypatch.setattr(redis_fanout, "POLL_INTERVAL", 0.05)
    server = live_with(database_url=postgres_database, redis_url=own_redis.url)
    asyncio.run(frozen_redis(own_redis, server))
    assert server_errors() == []


async def quiet_subscription(server) -> None:
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        ann = await create_user(http, "ann")
        async with RawClient.connect(server.ws_url, "graphql-transport-ws") as client:
            await subscribe(client, ann)
            await asyncio.sleep(1.5)  # several quiet intervals: pings, answered
            await send(http, ann, ann, "still there")
            assert (await client.event("s"))["content"] == "still there"


def test_a_quiet_subscription_is_pinged_and_kept(
    monkeypatch, postgres_database, redis_server, redis_channel, live_with, caplog
):
    monkeypatch.setattr(redis_fanout, "QUIET_INTERVAL", 0.2)
    monkeypatch.setattr(redis_fanout, "POLL_INTERVAL", 0.05)
    server = live_with(
        database_url=postgres_database, redis_url=redis_server.url, redis_channel=redis_channel
    )
    asyncio.run(quiet_subscription(server))
    assert "Lost the Redis connection" not in caplog.text
