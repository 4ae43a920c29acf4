"""Start one server for the benchmark: the chat app (its store pre-filled) or the bare reference.

    python bench/server.py chat --port 8001 --users 200 --messages 1000
    python bench/server.py bare --port 8002
    python bench/server.py chat --port 8003 --timed   # for `make bench ONLY=split`

Both run on the same uvicorn with the same options (uvloop, httptools, the
default WebSocket implementation, no access log), as `uvicorn app:app
--no-access-log` would. Pre-filling goes through the store's own methods, so
the server starts exactly as if those users and messages had been posted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

import uvicorn

ROOT = Path(__file__).resolve().parent.parent
HISTORY_MESSAGES = 10


async def fill(store: object, users: int, messages: int) -> None:
    """Create users 1..`users`, then `messages` messages among them, then a reader with 10 of its own.

    The reader is user `users + 1`; its 10 messages come last, sent by user 1.
    """
    for n in range(1, users + 1):
        await store.create_user(f"user{n}")  # type: ignore[attr-defined]
    if messages:
        reader = (await store.create_user("reader")).user_id  # type: ignore[attr-defined]
        for n in range(messages - HISTORY_MESSAGES):
            await store.add_message(str(n % users + 1), str((n + 1) % users + 1), f"message {n}")  # type: ignore[attr-defined]
        for n in range(HISTORY_MESSAGES):
            await store.add_message("1", reader, f"history {n}")  # type: ignore[attr-defined]


class Timed:
    """The app, adding up the thread CPU time its HTTP requests take, and the part of it spent in
    their sends (uvicorn writing the answer); `GET /bench/times` answers the figures per request
    since the last ask. The requests measured must not wait on anything but their sends, as with
    the in-memory store, or other tasks' time would count too; each request also pays for the four
    clock readings (a system call each)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.requests, self.inside, self.sending = 0, 0.0, 0.0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
        elif scope["path"] == "/bench/times":
            await self.answer_times(send)
        else:
            await self.timed(scope, receive, send)

    async def timed(self, scope: Any, receive: Any, send: Any) -> None:
        async def timed_send(message: Any) -> None:
            started = time.thread_time()
            await send(message)
            self.sending += time.thread_time() - started

        started = time.thread_time()
        await self.app(scope, receive, timed_send)
        self.inside += time.thread_time() - started
        self.requests += 1

    async def answer_times(self, send: Any) -> None:
        requests = max(self.requests, 1)
        figures = {
            "requests": self.requests,
            "app_us": 1e6 * (self.inside - self.sending) / requests,
            "send_us": 1e6 * self.sending / requests,
        }
        self.requests, self.inside, self.sending = 0, 0.0, 0.0
        body = json.dumps(figures).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": body})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("app", choices=["chat", "bare"])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--users", type=int, default=0)
    parser.add_argument("--messages", type=int, default=0)
    parser.add_argument("--timed", action="store_true", help="add up where HTTP requests spend CPU")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    if args.app == "chat":
        from app import create_app

        app = create_app()
        asyncio.run(fill(app.state.store, args.users, args.messages))
    else:
        sys.path.insert(0, str(ROOT / "bench"))
        from bare import app
    uvicorn.run(
        Timed(app) if args.timed else app,
        host="127.0.0.1",
        port=args.port,
        loop="uvloop",
        http="httptools",
        log_level="warning",
        access_log=False,
        backlog=16384,
    )


if __name__ == "__main__":
    main()
