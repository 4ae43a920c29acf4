"""Domain errors and the one place that turns them into `success: false` results."""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from graphql import GraphQLError


class DomainError(Exception):
    """A request that is well-formed but breaks a rule; its text is shown to the client."""

    def __init__(self, *messages: str) -> None:
        super().__init__(*messages)
        self.messages = list(messages)


def failure(*messages: str) -> dict[str, Any]:
    return {"success": False, "errors": list(messages)}


def returns_result(resolver: Callable[..., Awaitable[dict[str, Any]]]):
    """Wrap a resolver so a DomainError becomes `{success: false, errors: [...]}`."""

    @functools.wraps(resolver)
    async def wrapper(*args: Any, **kwargs: Any) -> dict[str, Any]:
        try:
            return await resolver(*args, **kwargs)
        except DomainError as error:
            return failure(*error.messages)

    return wrapper


class GraphQLErrorLogger(logging.LoggerAdapter):
    """Ariadne logs every GraphQL error with a traceback; only a server fault deserves one.

    Errors a client caused (syntax, validation, "User not found") carry no
    original exception, or only the GraphQLError a resolver raised on
    purpose: they are logged as one INFO line.
    """

    def error(self, msg: Any, *args: Any, exc_info: Any = None, **kwargs: Any) -> None:
        if isinstance(msg, GraphQLError) and _caused_by_client(msg):
            self.logger.info("GraphQL error: %s", msg.message)
            return
        self.logger.error(msg, *args, exc_info=exc_info, **kwargs)


def _caused_by_client(error: GraphQLError) -> bool:
    original = error.original_error
    return original is None or (isinstance(original, GraphQLError) and original.original_error is None)
