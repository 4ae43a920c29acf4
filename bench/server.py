"""Start one server for the benchmark: the chat app (its store pre-filled) or the bare reference.

    python bench/server.py chat --port 8001 --users 200 --messages 1000
    python bench/server.py bare --port 8002

Both run on the same uvicorn with the same options (uvloop, httptools, the
default WebSocket implementation, no access log), as `uvicorn app:app
--no-access-log` would. Pre-filling goes through the store's own methods, so
the server starts exactly as if those users and messages had been posted.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("app", choices=["chat", "bare"])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--users", type=int, default=0)
    parser.add_argument("--messages", type=int, default=0)
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
        app,
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
