"""Mutation resolvers: create users and send messages."""

from __future__ import annotations

from functools import partial
from typing import Any

from ariadne import MutationType
from graphql import GraphQLResolveInfo

from errors import DomainError, returns_result
from validation import clean_username, content_errors

mutation = MutationType()


@mutation.field("createUser")
@returns_result
async def resolve_create_user(_: Any, info: GraphQLResolveInfo, username: str) -> dict[str, Any]:
    name, problems = clean_username(username, info.context["settings"].max_username_length)
    if problems:
        raise DomainError(*problems)
    user = await info.context["store"].create_user(name)
    return {"success": True, "errors": None, "user": user}


@mutation.field("createMessage")
@returns_result
async def resolve_create_message(
    _: Any,
    info: GraphQLResolveInfo,
    sender_id: str | None = None,
    recipient_id: str | None = None,
    content: str | None = None,
) -> dict[str, Any]:
    context = info.context
    problems = content_errors(content, context["settings"].max_content_length)
    if problems:
        raise DomainError(*problems)
    store = context["store"]
    message = await context["hub"].create_and_publish(
        partial(store.add_message, sender_id or "", recipient_id or "", content)
    )
    return {"success": True, "errors": None, "message": message}
