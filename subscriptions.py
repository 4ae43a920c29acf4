"""Fan-out of new messages to live subscriptions, and the `messages` subscription.

The hub keeps one bounded queue per active subscription, registered under the
recipient's id: publishing a message touches only its recipient's queues and
never waits. A subscriber that lets its queue fill is ended with an error
rather than slowing anyone else down.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from ariadne import SubscriptionType
from graphql import GraphQLError, GraphQLResolveInfo

from auth import check_acting_as
from errors import DomainError
from store import Message

logger = logging.getLogger("chat.subscriptions")

subscription = SubscriptionType()

# Put on a subscription's queue, alone, when the subscriber has fallen too far behind.
_OVERFLOW = object()


class Subscription:
    """One live subscription: an async iterator over its recipient's new messages.

    It is registered with the hub when created (so nothing published after
    the subscribe call is missed) and unregistered by `aclose()`, which
    graphql-core calls when the operation stops, the client disconnects or an
    error ends it.
    """

    __slots__ = ("_closed", "_connection", "_hub", "_queue", "recipient_id")

    def __init__(
        self, hub: Hub, recipient_id: str, queue_size: int, connection: set[Subscription] | None
    ) -> None:
        self.recipient_id = recipient_id
        self._queue: asyncio.Queue[Any] = asyncio.Queue(queue_size)
        self._hub = hub
        self._closed = False
        self._connection = connection
        if connection is not None:
            connection.add(self)

    @property
    def pending(self) -> int:
        """Messages published to this subscription and not yet delivered."""
        return self._queue.qsize()

    def offer(self, message: Message) -> bool:
        """Queue a message without waiting; False when the queue is full."""
        try:
            self._queue.put_nowait(message)
        except asyncio.QueueFull:
            return False
        return True

    def overflow(self) -> None:
        """Drop what is queued and make the next read end the subscription."""
        while not self._queue.empty():
            self._queue.get_nowait()
        self._queue.put_nowait(_OVERFLOW)

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> Message:
        if self._closed:
            raise StopAsyncIteration
        item = await self._queue.get()
        if item is _OVERFLOW:
            await self.aclose()
            raise GraphQLError(
                f"Subscription ended: more than {self._queue.maxsize} messages "
                "were waiting to be delivered. Subscribe again to continue."
            )
        return item

    async def aclose(self) -> None:
        if not self._closed:
            self._closed = True
            self._hub.unregister(self)
            if self._connection is not None:
                self._connection.discard(self)


class Hub:
    """Registry of live subscriptions, keyed by recipient id."""

    def __init__(self, queue_size: int) -> None:
        self.queue_size = queue_size
        self._subscriptions: dict[str, set[Subscription]] = {}

    def subscribe(self, recipient_id: str, connection: set[Subscription] | None = None) -> Subscription:
        """Register a new subscription; the caller must `aclose()` it.

        `connection` is the set of live subscriptions of the caller's
        connection: the subscription stays in it while it lives.
        """
        sub = Subscription(self, recipient_id, self.queue_size, connection)
        self._subscriptions.setdefault(recipient_id, set()).add(sub)
        return sub

    def unregister(self, sub: Subscription) -> None:
        subs = self._subscriptions.get(sub.recipient_id)
        if subs is not None:
            subs.discard(sub)
            if not subs:
                del self._subscriptions[sub.recipient_id]

    async def publish(self, message: Message) -> None:
        """Queue the message for each subscription of its recipient; never waits."""
        subs = self._subscriptions.get(message.recipient_id)
        if not subs:
            return
        too_slow = [sub for sub in subs if not sub.offer(message)]
        for sub in too_slow:
            logger.warning(
                "Ending a subscription of user %s: %d messages undelivered",
                sub.recipient_id,
                self.queue_size,
            )
            self.unregister(sub)
            sub.overflow()

    def count(self, recipient_id: str | None = None) -> int:
        """Live subscriptions, of one recipient or in all."""
        if recipient_id is not None:
            return len(self._subscriptions.get(recipient_id, ()))
        return sum(len(subs) for subs in self._subscriptions.values())


# Where a WebSocket connection keeps its live subscriptions.
_CONNECTION_SUBSCRIPTIONS = "chat.subscriptions"


def connection_subscriptions(info: GraphQLResolveInfo) -> set[Subscription]:
    """The live subscriptions of the connection this operation came on, within its limit."""
    scope = info.context["request"].scope
    live: set[Subscription] = scope.setdefault(_CONNECTION_SUBSCRIPTIONS, set())
    limit = info.context["settings"].max_subscriptions_per_connection
    if len(live) >= limit:
        raise GraphQLError(f"Too many active subscriptions on this connection: the limit is {limit}.")
    return live


@subscription.source("messages")
async def messages_source(_: Any, info: GraphQLResolveInfo, user_id: str | None = None) -> Subscription:
    if user_id is None:
        raise GraphQLError("userId is required")
    context = info.context
    try:
        check_acting_as(info, user_id)
    except DomainError as forbidden:
        raise GraphQLError(forbidden.messages[0]) from None
    if await context["store"].get_user(user_id) is None:
        raise GraphQLError("User not found")
    return context["hub"].subscribe(user_id, connection_subscriptions(info))


@subscription.field("messages")
def resolve_message(message: Message, _: GraphQLResolveInfo, **__: Any) -> Message:
    return message
