"""A bounded cache of what was computed from objects (a schema, a document), keyed by their ids.

An id is cheap to hash whatever the object, and a document's own hash and
equality walk its whole tree. Each entry holds the objects its key names, so
while the entry lives no other object can take their ids: a hit is exact.
Bounded: beyond `size` entries the oldest is forgotten (whoever computed it
may compute it again). A hit takes no lock; the servers the tests run in
threads of one process share the module-level caches, hence a lock when an
entry is added.
"""

from __future__ import annotations

import threading
from collections.abc import Hashable
from typing import Any

MISSING = object()


class IdentityCache:
    def __init__(self, size: int) -> None:
        self.size = size
        self._entries: dict[Hashable, tuple[tuple[Any, ...], Any]] = {}
        self._lock = threading.Lock()

    def lookup(self, key: Hashable) -> Any:
        """The value remembered under `key`, or `MISSING`."""
        entry = self._entries.get(key)
        return MISSING if entry is None else entry[1]

    def remember(self, key: Hashable, objects: tuple[Any, ...], value: Any) -> Any:
        """Remember `value` under `key`, holding `objects` (those whose ids are in the key); returns it."""
        with self._lock:
            self._entries[key] = (objects, value)
            while len(self._entries) > self.size:
                del self._entries[next(iter(self._entries))]
        return value

    def __len__(self) -> int:
        return len(self._entries)
