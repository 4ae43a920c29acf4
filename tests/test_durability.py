"""A message acknowledged by createMessage is committed: SIGKILL and a restart lose none of them."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from tests.conftest import STORES, ProcessServer
from tests.deployment import create_user, deployment_env, history, send
from tests.operations import USER_ID

SENDERS = 4
MESSAGES_PER_SENDER = 25


async def send_then_kill(server: ProcessServer) -> tuple[dict[str, str], list[dict]]:
    """Create two users, send messages from four clients at once, SIGKILL the server after the last ack."""
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        users = {name: await create_user(http, name) for name in ("ann", "bob")}

        async def sender(k: int) -> list[dict]:
            return [
                await send(http, users["ann"], users["bob"], f"sender {k} message {n}")
                for n in range(MESSAGES_PER_SENDER)
            ]

        sent_by_each = await asyncio.gather(*map(sender, range(SENDERS)))
        acknowledged = [message for sent in sent_by_each for message in sent]
        server.kill()
    return users, acknowledged


async def read_back(server: ProcessServer, users: dict[str, str]) -> tuple[list[dict], str | None]:
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        found = await history(http, users["bob"])
        answer = await http.post("/", json={"query": USER_ID.replace("user_one", "ann")})
        ann = answer.json()["data"]["userId"]
    return found, ann


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_every_acknowledged_message_survives_sigkill_and_restart(request, tmp_path: Path, kind: str):
    env = deployment_env(STORES[kind](request))
    first = ProcessServer(tmp_path / "first.log", env)
    try:
        users, acknowledged = asyncio.run(send_then_kill(first))
    finally:
        first.kill()
    assert first.process.returncode == -9, "the server was killed, not shut down"
    second = ProcessServer(tmp_path / "second.log", env)
    try:
        stored, ann = asyncio.run(read_back(second, users))
    finally:
        second.stop()
    assert len(acknowledged) == SENDERS * MESSAGES_PER_SENDER
    assert sorted(acknowledged, key=lambda message: int(message["id"])) == [
        {key: message[key] for key in ("id", "content", "senderId", "recipientId")} for message in stored
    ]
    assert ann == users["ann"], "users survive too"
    assert "Traceback" not in first.log + second.log
