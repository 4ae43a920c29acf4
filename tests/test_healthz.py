"""GET /healthz: 200 while the store (and Redis) answer, 503 naming what does not; never GraphQL."""

from __future__ import annotations

import asyncio

import httpx

from tests.deployment import health


def test_healthz_answers_200_with_the_memory_store(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok"}}
    assert response.headers["cache-control"] == "no-store"


def test_healthz_never_runs_graphql(client, app):
    """A GraphQL operation sent to /healthz is not executed: no user is created."""
    by_get = client.get("/healthz", params={"query": '{ userId(username: "ann") }'})
    assert by_get.json() == {"status": "ok", "checks": {"database": "ok"}}
    by_post = client.post("/healthz", json={"query": 'mutation { createUser(username: "ann") { success } }'})
    assert by_post.status_code == 405
    assert asyncio.run(app.state.store.user_id("ann")) is None


def test_healthz_answers_200_with_sqlite(live_with, tmp_path):
    server = live_with(database_url=f"sqlite+aiosqlite:///{tmp_path / 'chat.db'}")

    async def check() -> tuple[int, dict]:
        async with httpx.AsyncClient(base_url=server.url) as http:
            return await health(http)

    assert asyncio.run(check()) == (200, {"status": "ok", "checks": {"database": "ok"}})
