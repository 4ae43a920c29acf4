"""The open WebSocket connections: a per-address limit, and closing them all on shutdown.

uvicorn closes WebSockets on shutdown with 1012 (service restart) after it has
stopped listening; a client is better told 1001 (going away) by the app, so
SIGTERM and SIGINT first close every connection here, then reach uvicorn.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable
from contextlib import suppress
from functools import partial
from typing import Any

from starlette.websockets import WebSocket

logger = logging.getLogger("chat.connections")

GOING_AWAY = 1001
POLICY_VIOLATION = 1008
SHUTDOWN_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def client_address(websocket: WebSocket) -> str:
    client = websocket.scope.get("client")
    return client[0] if client else "unknown"


class Connections:
    def __init__(self, max_per_client: int = 0) -> None:
        self.max_per_client = max_per_client
        self._by_address: dict[str, set[WebSocket]] = {}
        self._closing: set[asyncio.Task] = set()

    def admit(self, websocket: WebSocket) -> bool:
        """Register a new connection; False when its address is over the limit."""
        open_here = self._by_address.setdefault(client_address(websocket), set())
        if self.max_per_client and len(open_here) >= self.max_per_client:
            return False
        open_here.add(websocket)
        return True

    def release(self, websocket: WebSocket) -> None:
        address = client_address(websocket)
        open_here = self._by_address.get(address)
        if open_here is not None:
            open_here.discard(websocket)
            if not open_here:
                del self._by_address[address]

    def count(self) -> int:
        return sum(len(open_here) for open_here in self._by_address.values())

    async def close_all(self, code: int = GOING_AWAY, reason: str = "Server shutting down") -> None:
        sockets = [ws for open_here in self._by_address.values() for ws in open_here]
        if sockets:
            logger.info("Closing %d WebSocket connection(s): %s", len(sockets), reason)
        await asyncio.gather(*(self._close(ws, code, reason) for ws in sockets))

    @staticmethod
    async def _close(websocket: WebSocket, code: int, reason: str) -> None:
        with suppress(Exception):  # already closed or gone: nothing left to tell it
            await asyncio.wait_for(websocket.close(code, reason), timeout=1)

    def _close_all_then(self, then: Callable[[], None]) -> None:
        """Close every connection, then let the server go on with its shutdown."""

        async def close_then() -> None:
            try:
                await self.close_all()
            finally:
                then()

        task = asyncio.ensure_future(close_then())
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def wait_closed(self) -> None:
        """Let closes started by a signal finish (called at application shutdown)."""
        if self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)

    def close_all_on_shutdown_signals(self) -> None:
        """Chain a handler before uvicorn's for SIGTERM/SIGINT (main thread only)."""
        loop = asyncio.get_running_loop()
        for sig in SHUTDOWN_SIGNALS:
            previous = signal.getsignal(sig)
            if not callable(previous):
                continue

            def on_signal(signum: int, frame: Any, previous: Any = previous) -> None:
                # uvicorn's own handler runs once our close frames are out, or
                # it would close the sockets first, with 1012.
                loop.call_soon_threadsafe(self._close_all_then, partial(previous, signum, frame))

            with suppress(ValueError):  # not the main thread: leave signals to the server
                signal.signal(sig, on_signal)
