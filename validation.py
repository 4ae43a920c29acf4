"""Input rules for usernames, profiles, message content, attachment names and cursors.

Shared by every path into the store.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

# Control, format (zero-width, bidi marks), surrogate, private-use and unassigned.
_INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn"})
# C0 and C1 controls except tab, newline and carriage return; lone surrogates.
_CONTENT_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


def clean_username(username: str | None, max_length: int) -> tuple[str, list[str]]:
    """Return the normalised username and the rules it breaks (empty when valid)."""
    name = unicodedata.normalize("NFC", (username or "").strip())
    if not name:
        return name, ["Username is empty"]
    return name, _one_line_errors(name, "Username", max_length)


def _one_line_errors(text: str, label: str, max_length: int, shown_as: str | None = None) -> list[str]:
    """The rules a name-like text breaks: its length, and no control or invisible character.

    `shown_as` names the text in the second error (default: `label`).
    """
    errors = []
    if len(text) > max_length:
        errors.append(f"{label} exceeds {max_length} characters")
    if _has_invisible(text):
        errors.append(f"{shown_as or label} contains control or invisible characters")
    return errors


def _has_invisible(text: str) -> bool:
    if text.isascii():  # the common case, at C speed: in ASCII only controls are unprintable (Cc)
        return not text.isprintable()
    return any(unicodedata.category(char) in _INVISIBLE_CATEGORIES for char in text)


def clean_profile_text(label: str, value: str | None, max_length: int) -> tuple[str | None, list[str]]:
    """A profile field under the username rules: the value to store (None when empty) and the rules broken.

    `label` names the field in the errors ("Display name", "Bio").
    """
    text = unicodedata.normalize("NFC", (value or "").strip())
    if not text:
        return None, []
    return text, _one_line_errors(text, label, max_length)


MAX_FILENAME_LENGTH = 255


def clean_filename(filename: str | None) -> tuple[str, list[str]]:
    """An attachment's name as shown to people: the last part of any path the client sent.

    Returns the name and the rules it breaks (empty when valid).
    """
    name = unicodedata.normalize("NFC", (filename or "").replace("\\", "/").rsplit("/", 1)[-1].strip())
    if not name:
        return name, ["Attachment has no file name"]
    # The invisible-character error names the file, for a message with several.
    return name, _one_line_errors(name, "Attachment name", MAX_FILENAME_LENGTH, f"Attachment name {name!r}")


def content_errors(content: str | None, max_length: int) -> list[str]:
    """Return the rules a message's content breaks (empty when valid)."""
    if content is None or not content.strip():
        return ["Content is empty"]
    errors = []
    if len(content) > max_length:
        errors.append(f"Content exceeds {max_length} characters")
    if _CONTENT_FORBIDDEN.search(content):
        errors.append("Content contains control characters")
    return errors


# A message id as a cursor: 0 ("before the first message") or a positive integer
# that fits a 64-bit database column.
_CURSOR = re.compile(r"0|[1-9][0-9]{0,18}")
_LARGEST_ID = 2**63 - 1


def parse_cursor(argument: str, cursor: str | None) -> tuple[int | None, list[str]]:
    """Return the message id a cursor argument names and the rules it breaks (empty when valid)."""
    if cursor is None:
        return None, []
    if not _CURSOR.fullmatch(cursor) or int(cursor) > _LARGEST_ID:
        return None, [f'{argument}: "{cursor}" is not a message id (ids are "1", "2", ...; "0" is the start)']
    return int(cursor), []


@dataclass(frozen=True, slots=True)
class PageRequest:
    """Which page of a history to read: ids strictly between the cursors, at most `limit`."""

    after: int | None = None
    before: int | None = None
    limit: int | None = None


def parse_page_request(
    after: str | None, before: str | None, limit: int | None, max_limit: int
) -> tuple[PageRequest, list[str]]:
    """Return the page asked for and the rules its arguments break (empty when valid).

    Without any argument the request is the whole history, as in the tutorial;
    with any, the page holds at most `max_limit` messages.
    """
    after_id, errors = parse_cursor("after", after)
    before_id, before_errors = parse_cursor("before", before)
    errors += before_errors
    if limit is not None and limit < 1:
        errors.append("limit must be at least 1")
    if after is None and before is None and limit is None:
        return PageRequest(), errors
    return PageRequest(after_id, before_id, min(limit or max_limit, max_limit)), errors
