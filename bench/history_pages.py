"""How the cost of one page of history grows with the size of the history.

Reads the same pages (50 messages, random cursors, forward and backward)
from a user with 1,000 messages and from one with 1,000,000, in one run, and
prints the ratio of the times per page. A page is O(log n + page): the ratio
stays a small number (twice the bisection steps, and a large list's cache
misses), where a page cut from the whole history grows with it, ~1,000x;
that scan is timed alongside for comparison.

    .venv/bin/python bench/history_pages.py
"""

from __future__ import annotations

import asyncio
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from store import MemoryStore

PAGE = 50
READS = 2000


async def filled_store(messages: int) -> MemoryStore:
    store = MemoryStore()
    for name in ("ann", "bob"):
        await store.create_user(name)
    for n in range(messages):
        await store.add_message("1", "2", f"message {n}")
    return store


async def seconds_per_page(store: MemoryStore, messages: int, seed: int) -> float:
    rng = random.Random(seed)
    cursors = [rng.randrange(PAGE + 1, messages - PAGE) for _ in range(READS)]
    start = time.perf_counter()
    for n, cursor in enumerate(cursors):
        if n % 2:
            page = await store.messages_for("2", after=cursor, limit=PAGE)
        else:
            page = await store.messages_for("2", before=cursor, limit=PAGE)
        assert len(page.messages) == PAGE
    return (time.perf_counter() - start) / READS


async def seconds_per_scanned_page(store: MemoryStore, messages: int) -> float:
    """The page cut from the whole history, as a store without an index in id order would."""
    reads = 20
    start = time.perf_counter()
    for cursor in range(messages // 2, messages // 2 + reads):
        everything = (await store.messages_for("2")).messages
        page = [message for message in everything if int(message.id) > cursor][:PAGE]
        assert len(page) == PAGE
    return (time.perf_counter() - start) / reads


async def main() -> None:
    small, large = 1_000, 1_000_000
    stores = {size: await filled_store(size) for size in (small, large)}
    timings = {size: [] for size in stores}
    for repeat in range(5):  # alternate, so both see the same machine state
        for size, store in stores.items():
            timings[size].append(await seconds_per_page(store, size, repeat))
    best = {size: min(values) for size, values in timings.items()}
    for size, value in best.items():
        print(f"{size:>9,} messages: {value * 1e6:7.1f} µs per page of {PAGE}")
    print(f"ratio large/small: {best[large] / best[small]:.2f} (history is {large // small:,}x longer)")
    scanned = {size: await seconds_per_scanned_page(store, size) for size, store in stores.items()}
    print(
        f"for comparison, cutting the page from the whole history: {scanned[small] * 1e6:,.0f} µs "
        f"and {scanned[large] * 1e6:,.0f} µs, ratio {scanned[large] / scanned[small]:,.0f}"
    )


if __name__ == "__main__":
    asyncio.run(main())
