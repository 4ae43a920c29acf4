"""GraphQL object types whose fields are more than an attribute of the stored object."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ariadne import ObjectType

from store import Message

message = ObjectType("Message")


def iso_utc_millis(moment: datetime) -> str:
    """ISO 8601 in UTC with milliseconds, as JavaScript's `Date.toISOString()` writes it."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@message.field("createdAt")
def resolve_created_at(stored: Message, *_: Any) -> str:
    return iso_utc_millis(stored.created_at)
