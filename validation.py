"""Input rules for usernames and message content, shared by every path into the store."""

from __future__ import annotations

import re
import unicodedata

# Control, format (zero-width, bidi marks), surrogate, private-use and unassigned.
_INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn"})
# C0 and C1 controls except tab, newline and carriage return; lone surrogates.
_CONTENT_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


def clean_username(username: str | None, max_length: int) -> tuple[str, list[str]]:
    """Return the normalised username and the rules it breaks (empty when valid)."""
    name = unicodedata.normalize("NFC", (username or "").strip())
    if not name:
        return name, ["Username is empty"]
    errors = []
    if len(name) > max_length:
        errors.append(f"Username exceeds {max_length} characters")
    if any(unicodedata.category(char) in _INVISIBLE_CATEGORIES for char in name):
        errors.append("Username contains control or invisible characters")
    return name, errors


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
