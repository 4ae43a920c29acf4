"""Mutation resolvers: create users, send and delete messages, update profiles."""

from __future__ import annotations

from functools import partial
from typing import Any

from ariadne import MutationType
from graphql import GraphQLResolveInfo
from starlette.datastructures import UploadFile

from attachments import check_uploads
from auth import check_acting_as, new_token, require_viewer, viewer
from errors import DomainError, returns_result
from validation import clean_profile_text, clean_username, content_errors, parse_cursor

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
    attachments: list[UploadFile] | None = None,
) -> dict[str, Any]:
    context = info.context
    settings = context["settings"]
    check_acting_as(info, sender_id)
    uploads, problems = await check_uploads(attachments, settings) if attachments else ([], [])
    if uploads and (content is None or not content.strip()):
        content = ""  # files alone are a message
    else:
        problems = content_errors(content, settings.max_content_length) + problems
    if problems:
        raise DomainError(*problems)
    store = context["store"]
    saved = await context["attachments"].save(uploads) if uploads else []
    try:
        message = await context["hub"].create_and_publish(
            partial(store.add_message, sender_id or "", recipient_id or "", content, saved)
        )
    except BaseException:
        if saved:  # e.g. an unknown recipient: no file outlives a refused message
            context["attachments"].remove(saved)
        raise
    return {"success": True, "errors": None, "message": message}


@mutation.field("deleteMessage")
@returns_result
async def resolve_delete_message(
    _: Any, info: GraphQLResolveInfo, message_id: str, sender_id: str | None = None
) -> dict[str, Any]:
    context = info.context
    caller = viewer(info)
    if sender_id is not None:
        check_acting_as(info, sender_id)
    elif caller is not None:
        sender_id = caller.user_id
    else:
        raise DomainError("senderId is required (or a token: Authorization: Bearer <token>)")
    number, problems = parse_cursor("messageId", message_id)
    if problems:
        raise DomainError(*problems)
    store = context["store"]
    found = await store.get_message(number)
    if found is None:
        raise DomainError("Message not found")
    if found.sender_id != sender_id:
        raise DomainError("Only its sender may delete a message")
    deleted = await context["hub"].delete_and_publish(partial(store.delete_message, number))
    if deleted is None:
        raise DomainError("Message not found")  # deleted meanwhile by another request
    if deleted.attachments:
        context["attachments"].remove(deleted.attachments)
    return {"success": True, "errors": None, "message_id": deleted.id}


# Profile fields: argument name, label in errors, and the setting limiting its length.
_PROFILE_RULES = {
    "display_name": ("Display name", "max_display_name_length"),
    "bio": ("Bio", "max_bio_length"),
}


@mutation.field("updateProfile")
@returns_result
async def resolve_update_profile(
    _: Any, info: GraphQLResolveInfo, user_id: str, **fields: str | None
) -> dict[str, Any]:
    check_acting_as(info, user_id)
    settings = info.context["settings"]
    changes: dict[str, str | None] = {}
    problems: list[str] = []
    for name, value in fields.items():
        label, limit = _PROFILE_RULES[name]
        changes[name], broken = clean_profile_text(label, value, getattr(settings, limit))
        problems += broken
    if problems:
        raise DomainError(*problems)
    user = await info.context["store"].update_profile(user_id, changes)
    return {"success": True, "errors": None, "user": user}


@mutation.field("rotateToken")
@returns_result
async def resolve_rotate_token(_: Any, info: GraphQLResolveInfo) -> dict[str, Any]:
    user = require_viewer(info)
    token, token_hash = new_token(user.user_id)
    await info.context["store"].set_token_hash(user.user_id, token_hash)
    return {"success": True, "errors": None, "token": token}
