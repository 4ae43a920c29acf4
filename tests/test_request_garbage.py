"""Answering a request leaves nothing for the cyclic garbage collector.

Objects freed by reference counting cost nothing later; objects left in
reference cycles wait for a collector pass, and the passes they trigger stall
every connection of the server. The requests are sent straight to the ASGI
app, so that the count is the app's alone.
"""

from __future__ import annotations

import asyncio
import gc
from typing import Any

import orjson

from app import create_app
from tests.conftest import make_settings
from tests.operations import CREATE_USER, MESSAGES, SEND

FIND_USER = "query ($username: String!) { userId(username: $username) }"


async def post(app: Any, body: dict[str, Any]) -> dict[str, Any]:
    encoded = orjson.dumps(body)
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/",
        "raw_path": b"/",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(encoded)).encode())],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }
    chunks: list[bytes] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": encoded, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body":
            chunks.append(message["body"])

    await app(scope, receive, send)
    return orjson.loads(b"".join(chunks))


def test_queries_mutations_and_domain_errors_leave_no_reference_cycles():
    app = create_app(make_settings())

    async def requests(round_: int) -> list[dict[str, Any]]:
        name = f"user{round_}"
        created = await post(app, {"query": CREATE_USER, "variables": {"username": name}})
        user_id = created["data"]["createUser"]["user"]["userId"]
        return [
            created,
            await post(app, {"query": FIND_USER, "variables": {"username": name}}),
            await post(app, {"query": SEND, "variables": {"from": user_id, "to": user_id, "content": "hi"}}),
            await post(app, {"query": MESSAGES, "variables": {"userId": user_id}}),
            await post(app, {"query": SEND, "variables": {"from": user_id, "to": "999", "content": "hi"}}),
            await post(app, {"query": "{ nothingHere }"}),
        ]

    async def scenario() -> tuple[int, list[dict[str, Any]]]:
        await app.state.store.open()
        await requests(0)  # first use: caches fill, lazily built objects are built
        gc.collect()
        gc.disable()
        try:
            answers = [answer for round_ in range(1, 21) for answer in await requests(round_)]
            return gc.collect(), answers
        finally:
            gc.enable()

    unreachable, answers = asyncio.run(scenario())
    created, found, sent, listed, refused, invalid = answers[-6:]
    assert found["data"]["userId"] == created["data"]["createUser"]["user"]["userId"]
    assert sent["data"]["createMessage"]["success"] is True
    assert listed["data"]["messages"]["messages"][0]["content"] == "hi"
    assert refused["data"]["createMessage"]["success"] is False
    assert "nothingHere" in invalid["errors"][0]["message"]
    assert unreachable == 0
