"""orjson where it answers as the standard library would, the standard library elsewhere."""

from __future__ import annotations

import json

import pytest

import json_codec


@pytest.mark.parametrize(
    "body",
    [
        b'{"query": "{ a }", "variables": {"n": 1.5, "list": [true, null]}}',
        b'{"big": 18446744073709551615, "small": -9223372036854775808}',
        b'{"beyond": 18446744073709551616, "below": -9223372036854775809}',
        b"[99999999999999999999]",  # a long integer at the very end of the body
        b'{"n": [1, 2, 123456789012345678901234567890], "s": "0123456789"}',
        b'{"s": "1234567890123456789012", "n": 1e400}',  # 22 digits in a string, a float too big
        b'{"split": 123456789.0123456789012, "e": 1234567890E+12345678901}',
        b'{"surrogate": "\\ud800"}',
        b'{"x": NaN, "y": -Infinity}',
        b'\xef\xbb\xbf{"bom": 1}',
        '{"utf16": "é"}'.encode("utf-16"),
        b'{"a": 1, "a": 2}',
    ],
)
def test_reads_every_document_as_json_loads_does(body):
    assert json_codec.loads(body) == json.loads(body)
    assert repr(json_codec.loads(body)) == repr(json.loads(body))  # 2**70 stays an int, not a float


@pytest.mark.parametrize("body", [b"", b"{", b'{"a": 1,}', b"\xff", b"[1] [2]"])
def test_refuses_what_json_loads_refuses(body):
    with pytest.raises(ValueError):
        json_codec.loads(body)


@pytest.mark.parametrize(
    "value",
    [
        {"data": {"userId": "1"}, "errors": None},
        {"text": "héllo ✓ 😀", "n": [1, 2.5, -3]},
        {"surrogate": "\ud800 alone"},
        {"huge": 2**70},
    ],
)
def test_writes_json_that_reads_back_to_the_same_value(value):
    written = json_codec.dumps(value)
    assert isinstance(written, bytes)
    written.decode("utf-8")  # always valid UTF-8, even with a lone surrogate inside
    assert json.loads(written) == value
