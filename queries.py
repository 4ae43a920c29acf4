"""Query resolvers: look up an id by username, a user and their profile, and a user's messages."""

from __future__ import annotations

from typing import Any

from ariadne import QueryType
from graphql import GraphQLResolveInfo

from auth import check_acting_as, viewer
from errors import DomainError, returns_result
from store import User
from validation import clean_username, parse_page_request

query = QueryType()


@query.field("userId")
async def resolve_user_id(_: Any, info: GraphQLResolveInfo, username: str) -> str | None:
    viewer(info)
    name, problems = clean_username(username, info.context["settings"].max_username_length)
    if problems:
        return None
    return await info.context["store"].user_id(name)


@query.field("user")
async def resolve_user(_: Any, info: GraphQLResolveInfo, user_id: str) -> User | None:
    viewer(info)
    return await info.context["store"].get_user(user_id)


@query.field("messages")
@returns_result
async def resolve_messages(
    _: Any,
    info: GraphQLResolveInfo,
    user_id: str,
    after: str | None = None,
    before: str | None = None,
    limit: int | None = None,
) -> dict[str, Any]:
    check_acting_as(info, user_id)
    page_request, problems = parse_page_request(after, before, limit, info.context["settings"].max_page_size)
    if problems:
        raise DomainError(*problems)
    page = await info.context["store"].messages_for(
        user_id, page_request.after, page_request.before, page_request.limit
    )
    return {"success": True, "errors": None, "messages": page.messages, "has_more": page.has_more}
