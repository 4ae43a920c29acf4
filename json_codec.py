"""JSON in and out of the server: orjson where it can, the standard library where it cannot.

orjson is several times faster for response bodies and WebSocket frames, but
it refuses some input the standard library accepts (lone surrogates in
strings, integers beyond 64 bits, NaN), so each call falls back to `json`
rather than change what a client gets. A string with a lone surrogate cannot
be written as UTF-8 at all: the fallback escapes it (`\\ud800`), which is
still valid JSON.
"""

from __future__ import annotations

import json
from typing import Any

import orjson


def dumps(value: Any) -> bytes:
    """`value` as compact JSON, UTF-8 encoded."""
    try:
        return orjson.dumps(value)
    except TypeError:  # orjson.JSONEncodeError is a TypeError
        return json.dumps(value, separators=(",", ":"), allow_nan=False).encode()


def loads(body: bytes | str) -> Any:
    """Parse a JSON document; ValueError when it is not one."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return json.loads(body)
