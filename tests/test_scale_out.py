"""Two `uvicorn app:app` processes on one PostgreSQL database and one Redis: one service.

Users, messages and subscriptions work across processes as within one; a
process killed with SIGKILL leaves the other serving, with every
acknowledged message stored.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.chat_api import ChatAPI, WSSubscriber, sha256
from tests.conftest import ProcessServer
from tests.deployment import create_user, deployment_env, health, history, post, send
from tests.operations import CREATE_USER, SUBSCRIBE_AFTER, USER_ID
from tests.test_resume import RawClient


@pytest.fixture
def two_processes(postgres_database, redis_server, redis_channel, tmp_path: Path) -> Iterator[list]:
    env = deployment_env(postgres_database, redis_server.url, redis_channel)
    env["ATTACHMENTS_DIR"] = str(tmp_path / "attachments")  # shared, as hosts would share a volume
    servers = [ProcessServer(tmp_path / f"{name}.log", env) for name in ("a", "b")]
    yield servers
    for server in servers:
        server.stop()
    for server in servers:
        assert "Traceback" not in server.log, server.log


async def subscribe(client: RawClient, user_id: str) -> None:
    """Subscribe to the user's messages; return once the server has registered the subscription."""
    await client.start("s", SUBSCRIBE_AFTER, {"userId": user_id})
    assert await client.sync() == []


async def receive_until(client: RawClient, last_content: str, bound: int = 1000) -> list[dict]:
    received = []
    for _ in range(bound):
        received.append(await client.event("s"))
        if received[-1]["content"] == last_content:
            return received
    raise AssertionError(f"{last_content!r} never arrived")


async def across_processes(a: ProcessServer, b: ProcessServer) -> None:
    async with (
        httpx.AsyncClient(base_url=a.url, timeout=30) as via_a,
        httpx.AsyncClient(base_url=b.url, timeout=30) as via_b,
    ):
        ann = await create_user(via_a, "ann")
        bob = await create_user(via_b, "bob")
        cy = await create_user(via_a, "cy")
        async with (
            RawClient.connect(a.ws_url, "graphql-transport-ws") as on_a,
            RawClient.connect(b.ws_url, "graphql-ws") as on_b,
        ):
            await subscribe(on_a, bob)
            await subscribe(on_b, bob)

            sent = await send(via_b, ann, bob, "through B")
            for client in (on_a, on_b):
                assert (await client.event("s"))["id"] == sent["id"], "each process's subscriber gets it"
            sent = await send(via_a, cy, bob, "through A")
            for client in (on_a, on_b):
                assert (await client.event("s"))["id"] == sent["id"]

            async def sender(http: httpx.AsyncClient, name: str) -> None:
                for n in range(15):
                    await send(http, ann if n % 2 else cy, bob, f"{name} {n}")
                    await send(http, bob, ann, f"{name} {n} not for bob")

            await asyncio.gather(*(sender(http, f"{label}{k}") for label, http in (("A", via_a), ("B", via_b))
                                   for k in range(3)))  # fmt: skip
            await send(via_b, ann, bob, "the end")
            received_on_a = await receive_until(on_a, "the end")
            received_on_b = await receive_until(on_b, "the end")

        to_bob = [m["id"] for m in await history(via_a, bob) if m["recipientId"] == bob][2:]
        assert [m["id"] for m in received_on_a] == to_bob, "every message to bob, once, in id order"
        assert received_on_b == received_on_a, "both processes deliver the same sequence"


def test_a_subscriber_on_one_process_receives_messages_sent_through_the_other(two_processes):
    """Subscribers on A and B both get each message sent through either, in one order, even under load."""
    asyncio.run(across_processes(*two_processes))


async def sign_ups(a: ProcessServer, b: ProcessServer) -> None:
    async with (
        httpx.AsyncClient(base_url=a.url, timeout=60, limits=httpx.Limits(max_connections=100)) as via_a,
        httpx.AsyncClient(base_url=b.url, timeout=60, limits=httpx.Limits(max_connections=100)) as via_b,
    ):
        answers = await asyncio.gather(
            *(
                post(http, CREATE_USER, {"username": f"user{n}"})
                for n, http in zip(range(200), itertools.cycle([via_a, via_b]), strict=False)
            )
        )
        assert all("errors" not in answer and answer["data"]["createUser"]["success"] for answer in answers)
        ids = [answer["data"]["createUser"]["user"]["userId"] for answer in answers]
        assert len(set(ids)) == 200
        for n in (0, 1, 198, 199):
            query = USER_ID.replace("user_one", f"user{n}")
            for http in (via_a, via_b):
                assert (await post(http, query))["data"]["userId"] == ids[n], "each process finds every user"


def test_200_concurrent_sign_ups_over_two_processes_get_200_distinct_ids(two_processes):
    asyncio.run(sign_ups(*two_processes))


async def kill_one(a: ProcessServer, b: ProcessServer) -> None:
    async with (
        httpx.AsyncClient(base_url=a.url, timeout=30) as via_a,
        httpx.AsyncClient(base_url=b.url, timeout=30) as via_b,
    ):
        ann = await create_user(via_a, "ann")
        bob = await create_user(via_b, "bob")
        acknowledged: list[dict] = []
        async with RawClient.connect(b.ws_url, "graphql-transport-ws") as on_b:
            await subscribe(on_b, bob)

            async def send_through_a() -> int:
                for n in range(200):
                    try:
                        acknowledged.append(await send(via_a, ann, bob, f"A {n}"))
                    except httpx.TransportError:
                        return n  # A is gone: this one was never acknowledged
                    if n == 30:
                        a.kill()
                raise AssertionError("A kept answering after SIGKILL")

            async def send_through_b() -> None:
                for n in range(60):
                    acknowledged.append(await send(via_b, ann, bob, f"B {n}"))
                    await asyncio.sleep(0.005)

            sent_through_a, _ = await asyncio.gather(send_through_a(), send_through_b())
            assert sent_through_a == 31
            await send(via_b, ann, bob, "the end")
            received = await receive_until(on_b, "the end")
            assert await health(via_b) == (200, {"status": "ok", "checks": {"database": "ok", "redis": "ok"}})

        stored_ids = [m["id"] for m in await history(via_b, bob)]
        assert {m["id"] for m in acknowledged} <= set(stored_ids), "no acknowledged message is missing"
        assert [m["id"] for m in received] == stored_ids, "B's subscriber got every stored message, in order"


def test_killing_one_process_leaves_the_other_serving_and_loses_nothing_acknowledged(two_processes):
    asyncio.run(kill_one(*two_processes))


LIVE_WITH_FILES = "subscription ($u: String) { messages(userId: $u) { id attachments { sha256 url } } }"
DELETED = "subscription ($u: String!) { messageDeleted(userId: $u) }"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 100


async def files_and_deletions(a: ProcessServer, b: ProcessServer) -> None:
    via_a, via_b = ChatAPI(a.url), ChatAPI(b.url)
    try:
        ann, bob = via_a.sign_up("ann"), via_b.sign_up("bob")
        async with (
            WSSubscriber(a.ws_url, "graphql-transport-ws") as on_a,
            WSSubscriber(b.ws_url, "graphql-ws") as on_b,
        ):
            await on_a.subscribe("deleted", DELETED, {"u": ann.user_id})
            await on_a.round_trip()
            await on_b.subscribe("live", LIVE_WITH_FILES, {"u": bob.user_id})
            await on_b.subscribe("deleted", DELETED, {"u": bob.user_id})
            await on_b.round_trip()

            sent = await asyncio.to_thread(via_a.send_files, ann, bob, [("a.png", PNG, "image/png")])
            assert sent["success"], sent
            message_id = sent["message"]["id"]
            live = (await on_b.next_payload("live"))["payload"]["data"]["messages"]
            (attachment,) = live["attachments"]
            assert attachment["sha256"] == sha256(PNG), "the files travel with the message through Redis"
            assert attachment["url"].startswith(b.url)
            fetched = await asyncio.to_thread(via_b.http.get, attachment["url"])
            assert fetched.status_code == 200 and sha256(fetched.content) == sha256(PNG)

            other = await asyncio.to_thread(via_b.send_files, bob, ann, [("b.png", PNG, "image/png")])
            for deleted_id, deleter, via in ((message_id, ann, via_a), (other["message"]["id"], bob, via_b)):
                answer = await asyncio.to_thread(via.delete, deleted_id, deleter, deleter.user_id)
                assert answer["success"], answer
                for client in (on_a, on_b):
                    frame = await client.next_payload("deleted")
                    assert frame["payload"] == {"data": {"messageDeleted": deleted_id}}, (
                        "each deletion reaches both processes' subscribers, once"
                    )
            gone = await asyncio.to_thread(via_b.http.get, attachment["url"])
            assert gone.status_code == 404
    finally:
        via_a.close()
        via_b.close()


def test_files_and_deletions_reach_subscribers_on_the_other_process(two_processes):
    asyncio.run(files_and_deletions(*two_processes))
