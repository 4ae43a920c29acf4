"""Fan-out of new and deleted messages to live subscriptions; the `messages` and
`messageDeleted` subscriptions.

The hub keeps one bounded queue per active subscription, registered under the
recipient's id (and, for `includeSent`, under the sender's id too); a
`messageDeleted` subscription is registered under its user's id in a registry
of its own, where a deletion finds the sender's and the recipient's.
Publishing touches only the parties' queues and never waits. A subscriber
that lets its queue fill is ended with an error rather than slowing anyone
else down. A subscription with `after` replays the store first (`Resumed`).

Each publish wraps its item in one `execution.Delivery` offered to all the
subscriptions it reaches, so that those with the same operation share one
execution of it (and one JSON encoding); replayed messages come alone.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from functools import partial
from typing import Any

from ariadne import SubscriptionType
from graphql import GraphQLError, GraphQLResolveInfo

from auth import check_acting_as
from errors import DomainError
from execution import Delivery, delivered
from store import Message, MessagePage, message_position
from validation import parse_cursor

logger = logging.getLogger("chat.subscriptions")

subscription = SubscriptionType()

# Put on a subscription's queue, alone, when the subscriber has fallen too far behind.
_OVERFLOW = object()

# What a subscription receives: new messages, or the ids of deleted ones.
MESSAGES = "messages"
DELETIONS = "deletions"


class Subscription:
    """One live subscription: an async iterator over its recipient's new messages
    (or, for `messageDeleted`, over the ids of the user's deleted messages),
    each in the `Delivery` the hub offered to every subscription it reached.

    It is registered with the hub when created (so nothing published after
    the subscribe call is missed) and unregistered by `aclose()`, which
    graphql-core calls when the operation stops, the client disconnects or an
    error ends it. Its queue is a bare deque and at most one waiting future:
    one consumer needs no more, and an idle subscription then costs far less
    memory than an `asyncio.Queue` (which carries an Event and three deques).
    """

    __slots__ = (
        "_closed",
        "_connection",
        "_hub",
        "_limit",
        "_pending",
        "_waiter",
        "include_sent",
        "recipient_id",
        "topic",
    )

    def __init__(
        self,
        hub: Hub,
        recipient_id: str,
        queue_size: int,
        include_sent: bool = False,
        connection: set[Subscription] | None = None,
        topic: str = MESSAGES,
    ) -> None:
        self.recipient_id = recipient_id
        self.include_sent = include_sent
        self.topic = topic
        self._pending: deque[Any] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._limit = queue_size  # 0 or less: unbounded, as for asyncio.Queue
        self._hub = hub
        self._closed = False
        self._connection = connection
        if connection is not None:
            connection.add(self)

    @property
    def pending(self) -> int:
        """Messages published to this subscription and not yet delivered."""
        return len(self._pending)

    def offer(self, item: Delivery) -> bool:
        """Queue a delivery (of a message, or a deleted message's id) without waiting; False when full."""
        if 0 < self._limit <= len(self._pending):
            return False
        self._pending.append(item)
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

    async def __anext__(self) -> Any:
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
            if self.topic == DELETIONS:
                raise GraphQLError(
                    f"Subscription ended: more than {self._limit} deletions "
                    "were waiting to be delivered. Subscribe again to continue."
                )
            raise GraphQLError(
                f"Subscription ended: more than {self._limit} messages "
                "were waiting to be delivered. Subscribe again to continue, "
                "with `after` set to the id of the last message received."
            )
        return item

    async def aclose(self) -> None:
        if not self._closed:
            self._closed = True
            self._hub.unregister(self)
            if self._connection is not None:
                self._connection.discard(self)


class Resumed:
    """Stored messages after a cursor, then live ones: no gap, no duplicate, in id order.

    The live subscription is registered before the store is first read, so a
    message stored meanwhile is in the store, in the live queue, or both; live
    messages at or below the last id read from the store were replayed and
    are dropped. The store is read one page at a time, as the client takes
    messages; live ones wait in the bounded queue meanwhile.
    """

    __slots__ = ("_live", "_pending", "_read_page", "_read_up_to", "_replaying")

    def __init__(
        self, live: Subscription, read_page: Callable[..., Awaitable[MessagePage]], after: int
    ) -> None:
        self._live = live
        self._read_page = read_page
        self._read_up_to = after
        self._pending: deque[Message] = deque()
        self._replaying = True

    async def read_next_page(self) -> None:
        page = await self._read_page(after=self._read_up_to)
        self._pending.extend(page.messages)
        if page.messages:
            self._read_up_to = message_position(page.messages[-1])
        self._replaying = page.has_more

    def __aiter__(self) -> Resumed:
        return self

    async def __anext__(self) -> Message | Delivery:
        while not self._pending and self._replaying:
            await self.read_next_page()
        if self._pending:
            return self._pending.popleft()
        while True:
            live = await anext(self._live)
            if message_position(delivered(live)) > self._read_up_to:
                return live

    async def aclose(self) -> None:
        self._pending.clear()
        self._replaying = False
        await self._live.aclose()


class Hub:
    """Registry of live subscriptions, keyed by the user whose messages they receive.

    Every subscription is registered under its user's id, where messages to
    that user find it; an `includeSent` one also under the same id in a second
    registry, where messages from that user find it. A `messageDeleted`
    subscription is registered only in a third, where deletions of that
    user's sent or received messages find it.

    A new message reaches the local registries through `broadcast`: by
    default `publish`, so messages stay in this process; with Redis
    (`redis_fanout.RedisFanout.broadcast`) it goes to every process's hub,
    this one's included, which each `publish` it. A deleted message goes the
    same way, through `broadcast_deletion` to each hub's `publish_deletion`.
    """

    def __init__(
        self,
        queue_size: int,
        broadcast: Callable[[Message], Awaitable[None]] | None = None,
        broadcast_deletion: Callable[[Message], Awaitable[None]] | None = None,
    ) -> None:
        self.queue_size = queue_size
        self._subscriptions: dict[str, set[Subscription]] = {}
        self._sent_subscriptions: dict[str, set[Subscription]] = {}
        self._deletion_subscriptions: dict[str, set[Subscription]] = {}
        self._in_store_order = asyncio.Lock()
        self._broadcast = broadcast or self.publish
        self._broadcast_deletion = broadcast_deletion or self.publish_deletion

    def subscribe(
        self, recipient_id: str, include_sent: bool = False, connection: set[Subscription] | None = None
    ) -> Subscription:
        """Register a new subscription; the caller must `aclose()` it.

        `connection` is the set of live subscriptions of the caller's
        connection: the subscription stays in it while it lives.
        """
        sub = Subscription(self, recipient_id, self.queue_size, include_sent, connection)
        self._subscriptions.setdefault(recipient_id, set()).add(sub)
        if include_sent:
            self._sent_subscriptions.setdefault(recipient_id, set()).add(sub)
        return sub

    def subscribe_deletions(self, user_id: str, connection: set[Subscription] | None = None) -> Subscription:
        """Register a subscription to the ids of the user's deleted messages; the caller `aclose()`s it."""
        sub = Subscription(self, user_id, self.queue_size, connection=connection, topic=DELETIONS)
        self._deletion_subscriptions.setdefault(user_id, set()).add(sub)
        return sub

    def unregister(self, sub: Subscription) -> None:
        if sub.topic == DELETIONS:
            _discard(self._deletion_subscriptions, sub.recipient_id, sub)
            return
        _discard(self._subscriptions, sub.recipient_id, sub)
        if sub.include_sent:
            _discard(self._sent_subscriptions, sub.recipient_id, sub)

    async def create_and_publish(self, create: Callable[[], Awaitable[Message]]) -> Message:
        """Store a message with `create`, then publish it, one message at a time.

        Publishing in the order of storing keeps each subscriber's sequence the
        store's id order even with a store whose writes wait on I/O; with the
        in-memory store, which never waits, the lock is never contended.
        """
        await self._in_store_order.acquire()  # `async with`, without its two coroutines per message
        try:
            message = await create()
            await self._broadcast(message)
        finally:
            self._in_store_order.release()
        return message

    async def publish(self, message: Message) -> None:
        """Queue the message for the subscriptions of its parties; never waits."""
        receivers = self._subscriptions.get(message.recipient_id, ())
        senders = self._sent_subscriptions.get(message.sender_id, ())
        if message.sender_id == message.recipient_id:
            senders = ()  # a message to oneself reaches an includeSent subscription once
        if not receivers and not senders:
            return
        self._offer(Delivery(message), receivers, senders)

    async def delete_and_publish(self, delete: Callable[[], Awaitable[Message | None]]) -> Message | None:
        """Delete a message with `delete`, then publish its id if it was there, in store order."""
        async with self._in_store_order:
            message = await delete()
            if message is not None:
                await self._broadcast_deletion(message)
        return message

    async def publish_deletion(self, message: Message) -> None:
        """Queue a deleted message's id for its sender's and recipient's deletion subscriptions."""
        recipients = self._deletion_subscriptions.get(message.recipient_id, ())
        senders = ()
        if message.sender_id != message.recipient_id:
            senders = self._deletion_subscriptions.get(message.sender_id, ())
        if recipients or senders:
            self._offer(Delivery(message.id), recipients, senders)

    def _offer(self, item: Delivery, *registered: Iterable[Subscription]) -> None:
        """Offer an item to each subscription; end the ones too far behind, never wait."""
        too_slow = [sub for subs in registered for sub in subs if not sub.offer(item)]
        for sub in too_slow:
            logger.warning(
                "Ending a subscription of user %s: %d %s undelivered",
                sub.recipient_id,
                self.queue_size,
                sub.topic,
            )
            self.unregister(sub)
            sub.overflow()

    def count(self, recipient_id: str | None = None) -> int:
        """Live subscriptions (to messages or deletions), of one user or in all."""
        registries = (self._subscriptions, self._deletion_subscriptions)
        if recipient_id is not None:
            return sum(len(registry.get(recipient_id, ())) for registry in registries)
        return sum(len(subs) for registry in registries for subs in registry.values())


def _discard(registry: dict[str, set[Subscription]], key: str, sub: Subscription) -> None:
    subs = registry.get(key)
    if subs is not None:
        subs.discard(sub)
        if not subs:
            del registry[key]


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
async def messages_source(
    _: Any,
    info: GraphQLResolveInfo,
    user_id: str | None = None,
    after: str | None = None,
    include_sent: bool = False,
) -> Subscription | Resumed:
    if user_id is None:
        raise GraphQLError("userId is required")
    context = info.context
    try:
        check_acting_as(info, user_id)
    except DomainError as forbidden:
        raise GraphQLError(forbidden.messages[0]) from None
    store = context["store"]
    if await store.get_user(user_id) is None:
        raise GraphQLError("User not found")
    cursor, problems = parse_cursor("after", after)
    if problems:
        raise GraphQLError(" ".join(problems))
    live = context["hub"].subscribe(user_id, bool(include_sent), connection_subscriptions(info))
    if cursor is None:
        return live
    read = store.messages_for if include_sent else store.messages_to
    resumed = Resumed(live, partial(read, user_id, limit=context["settings"].max_page_size), cursor)
    try:
        await resumed.read_next_page()  # an unknown cursor fails here, at subscribe time
    except DomainError as error:
        await resumed.aclose()
        raise GraphQLError(" ".join(error.messages)) from None
    except BaseException:
        await resumed.aclose()
        raise
    return resumed


@subscription.field("messages")
def resolve_message(item: Message | Delivery, _: GraphQLResolveInfo, **__: Any) -> Message:
    return delivered(item)


@subscription.source("messageDeleted")
async def message_deleted_source(_: Any, info: GraphQLResolveInfo, user_id: str) -> Subscription:
    context = info.context
    try:
        check_acting_as(info, user_id)
    except DomainError as forbidden:
        raise GraphQLError(forbidden.messages[0]) from None
    if await context["store"].get_user(user_id) is None:
        raise GraphQLError("User not found")
    return context["hub"].subscribe_deletions(user_id, connection_subscriptions(info))


@subscription.field("messageDeleted")
def resolve_message_deleted(item: Delivery, _: GraphQLResolveInfo, **__: Any) -> str:
    return delivered(item)
