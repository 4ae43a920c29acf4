"""JSON in and out of the server: orjson where it can, the standard library where it cannot.

orjson is several times faster for request and response bodies and WebSocket
frames, but it refuses some input the standard library accepts (lone
surrogates in strings, NaN, a byte-order mark, UTF-16) and reads integers
beyond 64 bits as floats, so each call falls back to `json` wherever orjson
could answer differently. A string with a lone surrogate cannot be written as
UTF-8 at all: the fallback escapes it (`\\ud800`), which is still valid JSON.

A `JSONOnce` is an object written once however many documents include it:
one subscription result sent in many WebSocket frames (`dumps_frame`).
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


class JSONOnce(dict):
    """A JSON object that keeps its JSON: documents written by `dumps_frame` include it as is.

    Read-only by contract, like an `ExecutionResult`'s data: a change after
    the first writing would not show in the JSON.
    """

    __slots__ = ("_json",)

    def json(self) -> bytes:
        try:
            return self._json
        except AttributeError:
            self._json: bytes = dumps(dict(self))
            return self._json


def _as_written(value: Any) -> orjson.Fragment:
    if type(value) is JSONOnce:
        return orjson.Fragment(value.json())
    raise TypeError  # another subclass of a builtin type: `dumps` writes it


def dumps_frame(value: Any) -> bytes:
    """`dumps`, writing each `JSONOnce` inside from the JSON it keeps."""
    try:
        # Subclasses of dict, list, str and int go to `_as_written`.
        return orjson.dumps(value, default=_as_written, option=orjson.OPT_PASSTHROUGH_SUBCLASS)
    except TypeError:
        return dumps(value)


# orjson reads integers outside [-2**63, 2**64) as floats; every such integer has 19 digits or more.
# Found by mapping every digit to "0" and every other byte to a space, then looking for 19 zeros:
# two passes at C speed, several times faster than a regular expression over a request body.
_DIGITS_AS_ZEROS = bytes(ord("0") if byte in b"0123456789" else ord(" ") for byte in range(256))
_NINETEEN_DIGITS = b"0" * 19


def has_long_number(body: bytes) -> bool:
    """Whether `body` holds a run of 19 or more ASCII digits."""
    return _NINETEEN_DIGITS in body.translate(_DIGITS_AS_ZEROS)


def loads(body: bytes) -> Any:
    """Parse a JSON document exactly as `json.loads` would; ValueError when it is not one."""
    if not has_long_number(body):
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError:
            pass
    return json.loads(body)
