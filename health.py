"""`GET /healthz`: whether this process can serve, for load balancers; never runs GraphQL.

200 when the store (and Redis, when configured) answer, else 503; the body
names each component and whether it answered.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from errors import ServiceUnavailable

# Seconds a component has to answer before it counts as down.
CHECK_TIMEOUT = 3.0

Check = Callable[[], Awaitable[None]]

# The route takes every method, so that none falls through to GraphQL, mounted at /.
_EVERY_METHOD = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


async def answers(check: Check) -> bool:
    try:
        async with asyncio.timeout(CHECK_TIMEOUT):
            await check()
    except (ServiceUnavailable, TimeoutError):
        return False
    return True


def healthz_route(checks: dict[str, Check]) -> Route:
    """The route, given each component's name and a check that raises ServiceUnavailable when it is down."""

    async def healthz(request: Request) -> Response:
        if request.method not in ("GET", "HEAD"):
            return PlainTextResponse("Method Not Allowed", status_code=405, headers={"Allow": "GET, HEAD"})
        results = await asyncio.gather(*(answers(check) for check in checks.values()))
        states = {name: "ok" if ok else "unavailable" for name, ok in zip(checks, results, strict=True)}
        failing = [name for name, state in states.items() if state != "ok"]
        body = {"status": "unavailable" if failing else "ok", "checks": states}
        if failing:
            body["failing"] = failing
        return JSONResponse(body, status_code=503 if failing else 200, headers={"Cache-Control": "no-store"})

    return Route("/healthz", healthz, methods=_EVERY_METHOD)
