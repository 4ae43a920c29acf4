"""Helpers for the tests that run the app as deployed: uvicorn processes on a database, with Redis."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import httpx

from tests.operations import CREATE_USER, HISTORY_PAGE

SEND_RETURNING_ID = """
mutation ($from: String, $to: String, $content: String) {
  createMessage(senderId: $from, recipientId: $to, content: $content) {
    success errors message { id content senderId recipientId }
  }
}
"""


def deployment_env(database_url: str, redis_url: str | None = None, channel: str | None = None) -> dict:
    """The environment of `uvicorn app:app` for a database, and Redis when given."""
    env = {"DATABASE_URL": database_url}
    if redis_url is not None:
        env["REDIS_URL"] = redis_url
    if channel is not None:
        env["REDIS_CHANNEL"] = channel
    return env


async def post(http: httpx.AsyncClient, query: str, variables: dict | None = None) -> dict:
    """POST an operation; the whole JSON answer."""
    response = await http.post("/", json={"query": query, "variables": variables or {}})
    assert response.status_code == 200, response.text
    return response.json()


async def create_user(http: httpx.AsyncClient, username: str) -> str:
    result = (await post(http, CREATE_USER, {"username": username}))["data"]["createUser"]
    assert result["success"], result
    return result["user"]["userId"]


async def send(http: httpx.AsyncClient, sender: str, recipient: str, content: str) -> dict:
    """Send a message; the acknowledged message, with its id."""
    variables = {"from": sender, "to": recipient, "content": content}
    result = (await post(http, SEND_RETURNING_ID, variables))["data"]["createMessage"]
    assert result["success"], result
    return result["message"]


async def history(http: httpx.AsyncClient, user_id: str) -> list[dict]:
    """Every message the user sent or received, oldest first."""
    result = (await post(http, HISTORY_PAGE, {"userId": user_id}))["data"]["messages"]
    assert result["success"], result
    return result["messages"]


async def health(http: httpx.AsyncClient) -> tuple[int, dict]:
    response = await http.get("/healthz")
    return response.status_code, response.json()


async def wait_until(condition: Callable[[], Awaitable[bool]], seconds: float = 15, what: str = "") -> None:
    """Poll an async condition until it holds; fail after `seconds`."""
    deadline = time.monotonic() + seconds
    while not await condition():
        assert time.monotonic() < deadline, f"timed out waiting {seconds} s for {what or condition}"
        await asyncio.sleep(0.05)


def healthz_is(
    http: httpx.AsyncClient, status: int, failing: list[str] | None = None
) -> Callable[[], Awaitable[bool]]:
    """A condition for `wait_until`: /healthz answers `status`, with these failing components."""

    async def holds() -> bool:
        code, body = await health(http)
        return code == status and body.get("failing") == failing

    return holds
