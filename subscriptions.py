"""Fan-out of new messages to live subscriptions, and the `messages` subscription.

The hub keeps one bounded queue per active subscription, registered under the
recipient's id: publishing a message touches only its recipient's queues and
never waits. A subscriber that lets its queue fill is ended with an error
rather than slowing anyone else down.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import Any

from ariadne import SubscriptionType
from graphql import GraphQLError, GraphQLResolveInfo

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
    error ends it. Its queue is a bare deque and at most one waiting future:
    one consumer needs no more, and an idle subscription then costs far less
    memory than an `asyncio.Queue` (which carries an Event and three deques).
    """

    __slots__ = ("_closed", "_hub", "_limit", "_pending", "_waiter", "recipient_id")

    def __init__(self, hub: Hub, recipient_id: str, queue_size: int) -> None:
        self.recipient_id = recipient_id
        self._pending: deque[Any] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._limit = queue_size  # 0 or less: unbounded, as for asyncio.Queue
        self._hub = hub
        self._closed = False

    @property
    def pending(self) -> int:
        """Messages published to this subscription and not yet delivered."""
        return len(self._pending)

    def offer(self, message: Message) -> bool:
        """Queue a message without waiting; False when the queue is full."""
        if 0 < self._limit <= len(self._pending):
            return False
        self._pending.append(message)
        self._wake()
        return True

    def overflow(self) -> None:
        """Drop what is queued and make the next read end the subscription."""
        self._pending.clear()
        self._pending.append(_OVERFLOW)
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> Message:
        if self._closed:
            raise StopAsyncIteration
        while not self._pending:
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        item = self._pending.popleft()
        if item is _OVERFLOW:
            await self.aclose()
            raise GraphQLError(
                f"Subscription ended: more than {self._limit} messages "
                "were waiting to be delivered. Subscribe again to continue."
            )
        return item

    async def aclose(self) -> None:
        if not self._closed:
            self._closed = True
            self._hub.unregister(self)


class Hub:
    """Registry of live subscriptions, keyed by recipient id."""

    def __init__(self, queue_size: int) -> None:
        self.queue_size = queue_size
        self._subscriptions: dict[str, set[Subscription]] = {}

    def subscribe(self, recipient_id: str) -> Subscription:
        """Register a new subscription; the caller must `aclose()` it."""
        sub = Subscription(self, recipient_id, self.queue_size)
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


@subscription.source("messages")
async def messages_source(_: Any, info: GraphQLResolveInfo, user_id: str | None = None) -> Subscription:
    if user_id is None:
        raise GraphQLError("userId is required")
    context = info.context
    if await context["store"].get_user(user_id) is None:
        raise GraphQLError("User not found")
    return context["hub"].subscribe(user_id)


@subscription.field("messages")
def resolve_message(message: Message, _: GraphQLResolveInfo, **__: Any) -> Message:
    return message
