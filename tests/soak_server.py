"""The app as `uvicorn app:app` serves it, plus a test-only route reporting what it holds.

Run by tests/test_soak.py in a subprocess, so the server's memory is its own.
"""

from __future__ import annotations

import asyncio
import gc
import sys

import uvicorn
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from app import create_app

app = create_app()


def rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * 4096


async def stats(_: Request) -> JSONResponse:
    return JSONResponse(
        {
            "subscriptions": app.state.hub.count(),
            "connections": app.state.connections.count(),
            "tasks": len(asyncio.all_tasks()),
            "rss": rss_bytes(),
            "frozen_objects": gc.get_freeze_count(),
        }
    )


app.router.routes.insert(0, Route("/_soak", stats))

if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="info")
