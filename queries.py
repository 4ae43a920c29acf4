"""Query resolvers: look up an id by username, and a user's messages."""

from __future__ import annotations

from typing import Any

from ariadne import QueryType
from graphql import GraphQLResolveInfo

from auth import check_acting_as, viewer
from errors import returns_result
from validation import clean_username

query = QueryType()


@query.field("userId")
async def resolve_user_id(_: Any, info: GraphQLResolveInfo, username: str) -> str | None:
    viewer(info)
    name, problems = clean_username(username, info.context["settings"].max_username_length)
    if problems:
        return None
    return await info.context["store"].user_id(name)


@query.field("messages")
@returns_result
async def resolve_messages(_: Any, info: GraphQLResolveInfo, user_id: str) -> dict[str, Any]:
    check_acting_as(info, user_id)
    messages = await info.context["store"].messages_for(user_id)
    return {"success": True, "errors": None, "messages": messages}
