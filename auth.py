"""Opt-in authentication: bearer tokens, and who may act as whom.

A token is `<user id>.<secret>`; the store keeps only the secret's SHA-256,
so a leaked store leaks no token. The id finds the user in O(1) and the hash
is compared in constant time. With `AUTH_MODE=open` (the tutorial's
behaviour) nobody needs a token; with `required`, everything but sign-up does.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from typing import Any

from ariadne.exceptions import WebSocketConnectionError
from graphql import GraphQLError, GraphQLResolveInfo

from errors import ConnectionUnavailable, DomainError, ServiceUnavailable
from store import Store, User

logger = logging.getLogger("chat.auth")

REQUIRED = "required"

# Where a WebSocket connection keeps the user its connection_init proved to be.
CONNECTION_VIEWER = "chat.viewer"
# Where a request's context keeps the ServiceUnavailable that kept its token from being checked.
VIEWER_UNKNOWN = "viewer_unknown"


def new_token(user_id: str) -> tuple[str, str]:
    """A fresh token for the user, and the hash the store keeps of it."""
    secret = secrets.token_urlsafe(32)
    return f"{user_id}.{secret}", hash_secret(secret)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


async def user_for_token(store: Store, token: str | None, source: str) -> User | None:
    """The user a token belongs to, or None; a failed attempt is logged without the token."""
    if not token:
        return None
    user_id, _, secret = token.partition(".")
    stored = await store.token_hash(user_id) if secret else None
    if stored is not None and hmac.compare_digest(stored, hash_secret(secret)):
        return await store.get_user(user_id)
    logger.warning("Rejected a token (claimed user %r) from %s", user_id[:20], source)
    return None


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header value."""
    if authorization and authorization[:7].lower() == "bearer ":
        return authorization[7:].strip()
    return None


def connection_params_token(payload: Any) -> str | None:
    """The token a WebSocket client sent in `connection_init`, in either usual form."""
    if not isinstance(payload, dict):
        return None
    token = payload.get("authToken")
    if isinstance(token, str):
        return token
    for key in ("Authorization", "authorization"):
        if isinstance(payload.get(key), str):
            return bearer_token(payload[key])
    return None


class Unauthenticated(GraphQLError):
    def __init__(self) -> None:
        super().__init__("Unauthenticated")


def viewer(info: GraphQLResolveInfo) -> User | None:
    """The authenticated caller, or None (always allowed in open mode)."""
    context = info.context
    if VIEWER_UNKNOWN in context:
        raise context[VIEWER_UNKNOWN]
    if context["viewer"] is None and context["settings"].auth_mode == REQUIRED:
        raise Unauthenticated()
    return context["viewer"]


def require_viewer(info: GraphQLResolveInfo) -> User:
    """The authenticated caller, in any mode (for acts that only make sense with one)."""
    if VIEWER_UNKNOWN in info.context:
        raise info.context[VIEWER_UNKNOWN]
    user = info.context["viewer"]
    if user is None:
        raise Unauthenticated()
    return user


def check_acting_as(info: GraphQLResolveInfo, user_id: str | None) -> None:
    """In required mode, the caller may act only as itself: DomainError("Forbidden") otherwise."""
    user = viewer(info)
    if user is not None and info.context["settings"].auth_mode == REQUIRED and user.user_id != user_id:
        raise DomainError("Forbidden")


def connection_authenticator(store: Store, auth_mode: str):
    """An Ariadne `on_connect` hook: who the `connection_init` token proves the client to be.

    In required mode a missing or wrong token refuses the connection; in
    open mode the connection is anonymous unless its token is valid.
    """

    async def on_connect(websocket: Any, payload: Any) -> None:
        token = connection_params_token(payload)
        client = websocket.scope.get("client")
        try:
            user = await user_for_token(store, token, client[0] if client else "?")
        except ServiceUnavailable as unavailable:
            raise ConnectionUnavailable() from unavailable
        if user is None and auth_mode == REQUIRED:
            raise WebSocketConnectionError({"message": "Unauthenticated"})
        websocket.scope[CONNECTION_VIEWER] = user

    return on_connect
