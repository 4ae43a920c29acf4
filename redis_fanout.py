"""Fan-out across processes and hosts through Redis pub/sub.

Every process publishes each message it stores to one Redis channel, and holds
one subscription to that channel whose messages it hands to its hub's
`publish`, which queues them for the local subscriptions as before.

Messages reach the hub in id order, each once. Two processes may publish
messages n and n + 1 in the wrong order, and Redis drops whatever is published
while a process is disconnected; so a message that arrives with a gap before
it, every (re)subscription and every failed publish make the process read the
missing messages from the store, which has them all (a message is published
after its commit, and the store commits in id order). While Redis is down,
messages are still stored and acknowledged; subscribers receive those created
through their own process at once, and the others' once Redis is back.

Deletions go on the same channel, marked by `kind`, and each process hands
them to its hub's `publish_deletion`. They are not replayed: one published
while Redis is down, or while a process is resubscribing, reaches only the
subscribers that were listening then (histories no longer list the message
either way).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from contextlib import suppress
from datetime import datetime

import redis.asyncio as redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from errors import ServiceUnavailable
from store import Attachment, Message, Store, message_position

logger = logging.getLogger("chat.fanout")

# Seconds: to connect, to publish, to wait for the first subscription at start-up.
CONNECT_TIMEOUT = 2.0
PUBLISH_TIMEOUT = 2.0
STARTUP_WAIT = 2.0
# Resubscription backoff: the first delay, doubled after each failure up to the last.
FIRST_RETRY_DELAY = 0.05
LAST_RETRY_DELAY = 2.0
# Seconds of silence on the subscription after which Redis is pinged; no answer
# within as long again counts as a lost connection.
QUIET_INTERVAL = 10.0
# Seconds between looks at whether a failed publish asked to subscribe again.
POLL_INTERVAL = 1.0

_REDIS_DOWN = (RedisError, OSError, TimeoutError)


# What an event on the channel says of its message (absent: "message").
NEW = "message"
DELETED = "deleted"


def encode(message: Message, kind: str = NEW) -> str:
    return json.dumps(
        {
            "kind": kind,
            "id": message.id,
            "senderId": message.sender_id,
            "recipientId": message.recipient_id,
            "content": message.content,
            "createdAt": message.created_at.isoformat(),
            "attachments": [
                [a.id, a.filename, a.content_type, a.size, a.sha256] for a in message.attachments
            ],
        }
    )


def decode(data: bytes | str) -> tuple[str, Message]:
    """The event's kind (NEW or DELETED) and its message."""
    fields = json.loads(data)
    kind = fields.get("kind", NEW)
    if kind not in (NEW, DELETED):
        raise ValueError(f"unknown kind {kind!r}")
    message_id = str(fields["id"])
    attachments = tuple(
        Attachment(str(id_), str(filename), str(content_type), int(size), str(sha256), message_id)
        for id_, filename, content_type, size, sha256 in fields.get("attachments", ())
    )
    message = Message(
        message_id,
        str(fields["senderId"]),
        str(fields["recipientId"]),
        str(fields["content"]),
        datetime.fromisoformat(fields["createdAt"]),
        attachments,
    )
    return kind, message


class RedisFanout:
    """One Redis channel shared by every process; this process's publisher and subscriber."""

    def __init__(self, url: str, channel: str, store: Store, page_size: int) -> None:
        options = {"socket_connect_timeout": CONNECT_TIMEOUT, "socket_timeout": PUBLISH_TIMEOUT}
        # Publishing retries once, on a fresh connection: a pooled one may predate a Redis restart.
        self._publisher = redis.from_url(url, retry=Retry(NoBackoff(), 1), **options)
        # The subscription never reconnects behind our back: resubscribing must read the gap.
        self._subscriber = redis.from_url(url, retry=Retry(NoBackoff(), 0), **options)
        self.channel = channel
        self._store = store
        self._page_size = page_size
        self._deliver: Callable[[Message], Awaitable[None]] | None = None
        self._deliver_deletion: Callable[[Message], Awaitable[None]] | None = None
        self._delivered_up_to: int | None = None  # the last id handed to the hub
        self._delivering = asyncio.Lock()  # one sequence of deliveries at a time
        self._listener: asyncio.Task | None = None
        self._catch_up: asyncio.Task | None = None
        self._catch_up_again = False
        self._subscribed = asyncio.Event()
        self._resubscribe = asyncio.Event()  # set when a publish failed: Redis may be hung
        self._down = False
        self._publish_failing = False

    @property
    def subscribed(self) -> bool:
        """Whether this process is receiving the channel's messages now."""
        return self._subscribed.is_set()

    async def start(
        self,
        deliver: Callable[[Message], Awaitable[None]],
        deliver_deletion: Callable[[Message], Awaitable[None]],
    ) -> None:
        """Subscribe, handing each message to `deliver` and each deleted one to `deliver_deletion`.

        Waits a little for the first subscription.
        """
        self._deliver = deliver
        self._deliver_deletion = deliver_deletion
        with suppress(ServiceUnavailable):  # else the first subscription or message sets it
            self._delivered_up_to = await self._store.newest_message_id()
        self._listener = asyncio.create_task(self._listen_forever(), name="redis-fanout")
        try:
            await asyncio.wait_for(self._subscribed.wait(), STARTUP_WAIT)
        except TimeoutError:
            logger.warning("Starting without Redis: subscribers receive messages once it answers")

    async def close(self) -> None:
        for task in (self._listener, self._catch_up):
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        self._listener = self._catch_up = None
        await self._publisher.aclose()
        await self._subscriber.aclose()

    async def broadcast(self, message: Message) -> None:
        """Publish a stored message to every process; never fails (the store has it)."""
        if not await self._publish(encode(message)):
            # Other processes find the gap when a later message arrives, or when they
            # subscribe again; this one reads it from the store now.
            self._read_missed_messages()

    async def broadcast_deletion(self, message: Message) -> None:
        """Publish a deleted message to every process; without Redis, to this one's subscribers only."""
        if not await self._publish(encode(message, DELETED)):
            assert self._deliver_deletion is not None
            await self._deliver_deletion(message)

    async def _publish(self, event: str) -> bool:
        """Publish an event to the channel; False if not subscribed or Redis failed."""
        if not self.subscribed:
            return False
        try:
            async with asyncio.timeout(PUBLISH_TIMEOUT):
                await self._publisher.publish(self.channel, event)
        except _REDIS_DOWN as error:
            if not self._publish_failing:
                self._publish_failing = True
                logger.warning("Could not publish to Redis (%s: %s)", type(error).__name__, error)
            # Until subscribed again, publish nothing: a hung Redis must not hold up every sender.
            self._subscribed.clear()
            self._resubscribe.set()
            return False
        self._publish_failing = False
        return True

    async def ping(self) -> None:
        """Return when Redis answers and this process is subscribed; ServiceUnavailable otherwise."""
        try:
            async with asyncio.timeout(CONNECT_TIMEOUT):
                await self._publisher.ping()
        except _REDIS_DOWN as error:
            raise ServiceUnavailable() from error
        if not self.subscribed:
            raise ServiceUnavailable()

    async def _listen_forever(self) -> None:
        delay = FIRST_RETRY_DELAY
        while True:
            self._resubscribe.clear()
            try:
                async with self._subscriber.pubsub() as pubsub:
                    await pubsub.subscribe(self.channel)
                    await self._on_subscribed()
                    delay = FIRST_RETRY_DELAY
                    await self._relay(pubsub)
            except _REDIS_DOWN as error:
                self._subscribed.clear()
                if not self._down:
                    self._down = True
                    logger.warning(
                        "Lost the Redis connection (%s: %s); subscribing again, with backoff",
                        type(error).__name__,
                        error,
                    )
            except Exception:
                self._subscribed.clear()
                logger.exception("Fan-out failed; subscribing to Redis again")
            await asyncio.sleep(delay)
            delay = min(delay * 2, LAST_RETRY_DELAY)

    async def _on_subscribed(self) -> None:
        if self._down:
            self._down = False
            logger.warning("Redis available again: reading the messages stored meanwhile")
        self._subscribed.set()
        async with self._delivering:
            if self._delivered_up_to is None:
                with suppress(ServiceUnavailable):  # else the first message received sets it
                    self._delivered_up_to = await self._store.newest_message_id()
            else:
                await self._fill_gap(before=None)

    async def _relay(self, pubsub: redis.client.PubSub) -> None:
        """Hand the channel's messages to the hub until the connection fails or a publish did."""
        quiet_since, pinged = time.monotonic(), False
        while not self._resubscribe.is_set():
            event = await pubsub.get_message(timeout=POLL_INTERVAL)
            if event is None:
                if time.monotonic() - quiet_since >= QUIET_INTERVAL:
                    if pinged:
                        raise TimeoutError(f"Redis did not answer a ping within {QUIET_INTERVAL} s")
                    await pubsub.ping()
                    quiet_since, pinged = time.monotonic(), True
                continue
            quiet_since, pinged = time.monotonic(), False
            if event["type"] == "message":
                async with self._delivering:
                    await self._receive(event["data"])
        raise ConnectionError("a publish failed")

    async def _receive(self, data: bytes) -> None:
        try:
            kind, message = decode(data)
            position = message_position(message)
        except (ValueError, KeyError, TypeError):
            logger.warning("Ignoring a malformed message on Redis channel %s: %.200r", self.channel, data)
            return
        if kind == DELETED:
            # Published after the message itself (its id came from an acknowledgement
            # or a subscription), so never ahead of it on the channel.
            assert self._deliver_deletion is not None
            await self._deliver_deletion(message)
            return
        if self._delivered_up_to is not None:
            if position <= self._delivered_up_to:
                return  # already read from the store
            if position > self._delivered_up_to + 1:
                await self._fill_gap(before=position)
        await self._hand_over(message)

    def _read_missed_messages(self) -> None:
        """Deliver what the store holds beyond the last message delivered, in a task of its own."""
        if self._catch_up is not None and not self._catch_up.done():
            self._catch_up_again = True  # the running one reads once more when done
            return
        self._catch_up = asyncio.create_task(self._read_missed_messages_now(), name="redis-fanout-catch-up")

    async def _read_missed_messages_now(self) -> None:
        while True:
            self._catch_up_again = False
            async with self._delivering:
                if self._delivered_up_to is not None:
                    await self._fill_gap(before=None)
            if not self._catch_up_again:
                return

    async def _fill_gap(self, before: int | None) -> None:
        """Deliver the stored messages after the last one delivered (and below `before`)."""
        assert self._delivered_up_to is not None
        while True:
            try:
                page = await self._store.messages_after(self._delivered_up_to, self._page_size)
            except ServiceUnavailable:
                logger.warning("Could not read missed messages from the store; delivering what arrives")
                return
            for message in page.messages:
                if before is not None and message_position(message) >= before:
                    return
                await self._hand_over(message)
            if not page.has_more:
                return

    async def _hand_over(self, message: Message) -> None:
        assert self._deliver is not None
        self._delivered_up_to = message_position(message)
        await self._deliver(message)
