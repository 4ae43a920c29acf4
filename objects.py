"""GraphQL object types whose fields are more than an attribute of the stored object."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ariadne import ObjectType
from graphql import GraphQLResolveInfo

from attachments import attachment_url
from store import Attachment, Message, User

message = ObjectType("Message")
user = ObjectType("User")
attachment = ObjectType("Attachment")
# Name conversion would look for `sha_256`.
attachment.set_alias("sha256", "sha256")


def iso_utc_millis(moment: datetime) -> str:
    """ISO 8601 in UTC with milliseconds, as JavaScript's `Date.toISOString()` writes it."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@message.field("createdAt")
def resolve_created_at(stored: Message, *_: Any) -> str:
    return iso_utc_millis(stored.created_at)


@message.field("attachments")
def resolve_attachments(stored: Message, *_: Any) -> list[Attachment]:
    return list(stored.attachments)


@user.field("createdAt")
def resolve_user_created_at(stored: User, *_: Any) -> str:
    return iso_utc_millis(stored.created_at)


@attachment.field("url")
def resolve_url(stored: Attachment, info: GraphQLResolveInfo) -> str:
    return attachment_url(info.context["request"], stored)
