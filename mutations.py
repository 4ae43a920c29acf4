"""Mutation resolvers: create users and send messages."""

from __future__ import annotations

from functools import partial
from typing import Any

from ariadne import MutationType
from graphql import GraphQLResolveInfo

from auth import check_acting_as, new_token, require_viewer
from errors import DomainError, returns_result
from validation import clean_username, content_errors

mutation = MutationType()


@mutation.field("createUser")
@returns_result
async def resolve_create_user(_: Any, info: GraphQLResolveInfo, username: str) -> dict[str, Any]:
    name, problems = clean_username(username, info.context["settings"].max_username_length)
    if problems:
        raise DomainError(*problems)
    store = info.context["store"]
    user = await store.create_user(name)
    token, token_hash = new_token(user.user_id)
    await store.set_token_hash(user.user_id, token_hash)
    return {"success": True, "errors": None, "user": user, "token": token}


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
    check_acting_as(info, sender_id)
    problems = content_errors(content, context["settings"].max_content_length)
    if problems:
        raise DomainError(*problems)
    store = context["store"]
    message = await context["hub"].create_and_publish(
        partial(store.add_message, sender_id or "", recipient_id or "", content)
    )
    return {"success": True, "errors": None, "message": message}


@mutation.field("rotateToken")
@returns_result
async def resolve_rotate_token(_: Any, info: GraphQLResolveInfo) -> dict[str, Any]:
    user = require_viewer(info)
    token, token_hash = new_token(user.user_id)
    await info.context["store"].set_token_hash(user.user_id, token_hash)
    return {"success": True, "errors": None, "token": token}
