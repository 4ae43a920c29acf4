"""Domain errors and the one place that turns them into `success: false` results."""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from ariadne import format_error as ariadne_format_error
from ariadne.exceptions import WebSocketConnectionError
from graphql import GraphQLError
from starlette.websockets import WebSocketDisconnect


class DomainError(Exception):
    """A request that is well-formed but breaks a rule; its text is shown to the client."""

    def __init__(self, *messages: str) -> None:
        super().__init__(*messages)
        self.messages = list(messages)


class ServiceUnavailable(Exception):
    """The database or Redis cannot be reached: the client may try again later.

    Raised by the stores and the fan-out, never for a client's mistake; the
    cause is logged where it happened, the client sees only this text.
    """

    MESSAGE = "Service unavailable, try again"

    def __init__(self) -> None:
        super().__init__(self.MESSAGE)


class ConnectionUnavailable(WebSocketConnectionError):
    """A WebSocket's `connection_init` could not be checked because the store is unavailable."""

    def __init__(self) -> None:
        super().__init__({"message": ServiceUnavailable.MESSAGE})


def failure(*messages: str) -> dict[str, Any]:
    return {"success": False, "errors": list(messages)}


def returns_result(resolver: Callable[..., Awaitable[dict[str, Any]]]):
    """Wrap a resolver so a DomainError, or ServiceUnavailable, becomes `{success: false, errors: [...]}`."""

    @functools.wraps(resolver)
    async def wrapper(*args: Any, **kwargs: Any) -> dict[str, Any]:
        try:
            return await resolver(*args, **kwargs)
        except DomainError as error:
            return failure(*error.messages)
        except ServiceUnavailable as error:
            return failure(str(error))

    return wrapper


class GraphQLErrorLogger(logging.LoggerAdapter):
    """Ariadne logs every GraphQL error with a traceback; only a server fault deserves one.

    Errors a client caused (syntax, validation, bad variables, "User not
    found") carry no original exception but another GraphQLError: they are
    logged as one INFO line.
    """

    def error(self, msg: Any, *args: Any, exc_info: Any = None, **kwargs: Any) -> None:
        if isinstance(msg, GraphQLError) and is_client_error(msg):
            self.logger.info("GraphQL error: %s", msg.message)
            return
        if isinstance(msg, GraphQLError) and isinstance(root_cause(msg), ServiceUnavailable):
            # The store or fan-out has already logged what failed.
            self.logger.info("GraphQL error: %s", msg.message)
            return
        if isinstance(msg, WebSocketConnectionError):
            self.logger.info("WebSocket connection refused: %s", msg.payload)
            return
        if isinstance(msg, WebSocketDisconnect) or (
            isinstance(msg, GraphQLError) and isinstance(msg.original_error, WebSocketDisconnect)
        ):
            # Ariadne reports a send to a client that has gone as an error.
            self.logger.debug("A WebSocket client went away during a send")
            return
        self.logger.error(msg, *args, exc_info=exc_info, **kwargs)


def root_cause(error: GraphQLError) -> Exception | None:
    """The exception a GraphQL error wraps, through any GraphQL errors in between."""
    original = error.original_error
    while isinstance(original, GraphQLError):
        original = original.original_error
    return original


def is_client_error(error: GraphQLError) -> bool:
    return root_cause(error) is None


def format_error(error: GraphQLError, debug: bool = False) -> dict[str, Any]:
    """Ariadne's formatter, but a server fault's own text never reaches the client."""
    formatted = ariadne_format_error(error, debug)
    if not debug and not is_client_error(error) and not isinstance(root_cause(error), ServiceUnavailable):
        formatted["message"] = "Internal server error"
    return formatted
