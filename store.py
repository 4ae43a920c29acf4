"""The chat's data: users, messages and attachments' metadata, behind a small async interface.

`MemoryStore` keeps everything in dicts and lists, as the tutorial does, with
per-user indexes in id order, so that a page of one user's history costs
O(log n + page) whatever the size of the store.
`sqlstore.SqlStore` implements the same `Store` protocol on SQLite or PostgreSQL.
Attachment files themselves live outside the store (attachments.py).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Protocol

from errors import DomainError


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class User:
    """A user; in SQL, `users` gains `created_at` (set on insert), `display_name` and `bio` (NULL)."""

    user_id: str
    username: str
    created_at: datetime = field(default_factory=_utc_now)
    # Profile: None until the user sets it (or after clearing it).
    display_name: str | None = None
    bio: str | None = None


# The profile fields `Store.update_profile` may change.
PROFILE_FIELDS = frozenset({"display_name", "bio"})


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file sent with a message: its metadata; the bytes are in the attachments directory.

    `id` is random (it names the file and appears in its URL); `message_id`
    is set by the store when the message is stored.
    """

    id: str
    filename: str
    content_type: str
    size: int
    sha256: str
    message_id: str | None = None


@dataclass(frozen=True, slots=True)
class Message:
    id: str
    sender_id: str
    recipient_id: str
    content: str
    created_at: datetime = field(default_factory=_utc_now)
    attachments: tuple[Attachment, ...] = ()


@dataclass(frozen=True, slots=True)
class MessagePage:
    """Messages oldest first, and whether more lie beyond them in the direction they were read."""

    messages: list[Message]
    has_more: bool = False


def message_position(message: Message) -> int:
    """A message's place in the store's order: its id, as a number."""
    return int(message.id)


class Store(Protocol):
    """What the resolvers and the hub need from a store.

    Message ids are decimal strings of increasing integers (1, 2, ...); a
    cursor is such an integer, or 0 for "before the first message". A store
    must make messages visible in id order (a reader never sees id n + 1
    without n), so that "every message after id n" is a stable question.
    Each read below is one indexed range scan in SQL:
    `WHERE <user column> = :user AND id > :after AND id < :before ORDER BY id LIMIT :limit + 1`,
    and every Message it returns carries its attachments (one more query:
    `SELECT ... FROM attachments WHERE message_id IN (:ids)`).

    Deleted messages are gone from every read, but their ids are never
    reused and stay valid cursors: a client may hold the id of a message
    deleted since it saw it, and resuming or paging from it must go on from
    that place. So a cursor is valid if it is 0, the id of a message, or the
    id of a deleted one (the in-memory store, whose ids have no gaps, checks
    0 <= cursor <= the last id; SQL: the id is in `messages`, or in a
    `deleted_messages(id)` table that `delete_message` adds it to).

    A store that cannot reach its database raises `errors.ServiceUnavailable`.
    """

    async def open(self) -> None:
        """Get ready to serve (a database store creates or migrates its tables); called at start-up."""

    async def close(self) -> None:
        """Release connections; the store may be opened again later (in another event loop)."""

    async def ping(self) -> None:
        """Return when the store answers; ServiceUnavailable otherwise (for the health check)."""

    async def create_user(self, username: str) -> User:
        """Add a user with the next id; DomainError("Username is taken") if it exists."""

    async def user_id(self, username: str) -> str | None: ...

    async def token_hash(self, user_id: str) -> str | None:
        """The SHA-256 of the user's current token secret, or None."""

    async def set_token_hash(self, user_id: str, token_hash: str) -> None:
        """Replace the user's token: the old one stops working at once."""

    async def get_user(self, user_id: str) -> User | None: ...

    async def update_profile(self, user_id: str, changes: Mapping[str, str | None]) -> User:
        """Set the profile fields named in `changes` (keys from PROFILE_FIELDS; None clears one).

        Returns the updated user; DomainError("User not found").
        SQL: `UPDATE users SET display_name = :display_name, bio = :bio WHERE id = :user_id
        RETURNING *`, setting only the columns in `changes`.
        """

    async def add_message(
        self, sender_id: str, recipient_id: str, content: str, attachments: Sequence[Attachment] = ()
    ) -> Message:
        """Store a message with the next id and a `created_at` no earlier than the last one's.

        With `attachments`, their metadata too, in the given order, each with
        this message's id as `message_id` (SQL: the INSERT into `messages`, then
        one `INSERT INTO attachments (id, message_id, filename, content_type,
        size, sha256, position)` per attachment, in one transaction).
        DomainError naming each unknown party.
        """

    async def get_message(self, message_id: int) -> Message | None:
        """The message with this id, with its attachments, or None (never stored, or deleted).

        SQL: `SELECT ... FROM messages WHERE id = :message_id`, and its attachments.
        """

    async def delete_message(self, message_id: int) -> Message | None:
        """Delete the message and its attachments' metadata; return it as it was, or None if absent.

        Its id stays a valid cursor (see above). The caller removes the files.
        SQL, in one transaction: `DELETE FROM messages WHERE id = :message_id RETURNING ...`
        (attachments go with it: `ON DELETE CASCADE`, read before the delete),
        then `INSERT INTO deleted_messages (id) VALUES (:message_id)`.
        """

    async def get_attachment(self, attachment_id: str) -> Attachment | None:
        """An attachment's metadata, or None. SQL: `SELECT ... FROM attachments WHERE id = :attachment_id`."""

    async def known_attachment_ids(self, attachment_ids: Sequence[str]) -> set[str]:
        """Those of these ids that name a stored attachment (what the start-up sweep keeps).

        Callers pass a bounded batch; SQL: `SELECT id FROM attachments WHERE id IN (:ids)`,
        one query per 1,000 ids.
        """

    async def messages_for(
        self,
        user_id: str,
        after: int | None = None,
        before: int | None = None,
        limit: int | None = None,
    ) -> MessagePage:
        """The messages the user sent or received with after < id < before, oldest first.

        Without a limit, all of them. With one, at most `limit`: the first ones
        when `after` is given (reading forward), else the last ones (reading
        back from `before`, or from the newest). DomainError for an unknown
        user or a cursor that is neither 0 nor the id of a message (present or deleted).
        """

    async def messages_to(self, recipient_id: str, after: int, limit: int) -> MessagePage:
        """The first `limit` messages received by the user with an id above `after`, oldest first.

        What a subscription resuming after `after` replays; DomainError as for `messages_for`.
        """

    async def messages_after(self, after: int, limit: int) -> MessagePage:
        """The first `limit` messages of anyone with an id above `after`, oldest first.

        What a process's fan-out reads to fill a gap in what it received from
        the others (`redis_fanout.py`); `after` need not be a message's id.
        """

    async def newest_message_id(self) -> int:
        """The id of the newest message, 0 when there is none."""


class MemoryStore:
    """The tutorial's in-memory store: lost on restart, private to one process."""

    def __init__(self, clock: Callable[[], datetime] = _utc_now) -> None:
        self._clock = clock
        self._users: dict[str, User] = {}
        self._ids_by_username: dict[str, str] = {}
        self._token_hashes: dict[str, str] = {}
        self._messages: list[Message] = []
        # Per user, in id order: every message sent or received, and those received.
        self._messages_by_user: dict[str, list[Message]] = {}
        self._received_by_user: dict[str, list[Message]] = {}
        self._messages_by_id: dict[str, Message] = {}
        self._attachments: dict[str, Attachment] = {}
        self._message_count = 0
        self._last_created_at: datetime | None = None

    async def open(self) -> None:
        pass

    async def close(self) -> None:
        pass

    async def ping(self) -> None:
        pass

    async def create_user(self, username: str) -> User:
        if username in self._ids_by_username:
            raise DomainError("Username is taken")
        user = User(user_id=str(len(self._users) + 1), username=username, created_at=self._clock())
        self._users[user.user_id] = user
        self._ids_by_username[username] = user.user_id
        self._messages_by_user[user.user_id] = []
        self._received_by_user[user.user_id] = []
        return user

    async def user_id(self, username: str) -> str | None:
        return self._ids_by_username.get(username)

    async def get_user(self, user_id: str) -> User | None:
        return self._users.get(user_id)

    async def update_profile(self, user_id: str, changes: Mapping[str, str | None]) -> User:
        unknown = set(changes) - PROFILE_FIELDS
        if unknown:
            raise ValueError(f"Not profile fields: {sorted(unknown)}")
        user = self._users.get(user_id)
        if user is None:
            raise DomainError("User not found")
        user = replace(user, **changes)
        self._users[user_id] = user
        return user

    async def token_hash(self, user_id: str) -> str | None:
        return self._token_hashes.get(user_id)

    async def set_token_hash(self, user_id: str, token_hash: str) -> None:
        self._token_hashes[user_id] = token_hash

    async def add_message(
        self, sender_id: str, recipient_id: str, content: str, attachments: Sequence[Attachment] = ()
    ) -> Message:
        errors = []
        if sender_id not in self._users:
            errors.append("Sender not found")
        if recipient_id not in self._users:
            errors.append("Recipient not found")
        if errors:
            raise DomainError(*errors)
        self._message_count += 1
        message_id = str(self._message_count)
        stored: tuple[Attachment, ...] = ()
        if attachments:
            stored = tuple(replace(attachment, message_id=message_id) for attachment in attachments)
        message = Message(message_id, sender_id, recipient_id, content, self._next_created_at(), stored)
        self._messages_by_id[message_id] = message
        if stored:
            self._attachments.update((attachment.id, attachment) for attachment in stored)
        self._messages.append(message)
        self._messages_by_user[sender_id].append(message)
        if recipient_id != sender_id:
            self._messages_by_user[recipient_id].append(message)
        self._received_by_user[recipient_id].append(message)
        return message

    async def get_message(self, message_id: int) -> Message | None:
        return self._messages_by_id.get(str(message_id))

    async def delete_message(self, message_id: int) -> Message | None:
        message = self._messages_by_id.pop(str(message_id), None)
        if message is None:
            return None
        for attachment in message.attachments:
            del self._attachments[attachment.id]
        _remove(self._messages_by_user[message.sender_id], message)
        if message.recipient_id != message.sender_id:
            _remove(self._messages_by_user[message.recipient_id], message)
        _remove(self._received_by_user[message.recipient_id], message)
        _remove(self._messages, message)
        return message

    async def get_attachment(self, attachment_id: str) -> Attachment | None:
        return self._attachments.get(attachment_id)

    async def known_attachment_ids(self, attachment_ids: Sequence[str]) -> set[str]:
        return {attachment_id for attachment_id in attachment_ids if attachment_id in self._attachments}

    def _next_created_at(self) -> datetime:
        """Now, or the last message's time if the clock went back: times never decrease."""
        now = self._clock()
        if self._last_created_at is not None and now < self._last_created_at:
            now = self._last_created_at
        self._last_created_at = now
        return now

    async def messages_for(
        self,
        user_id: str,
        after: int | None = None,
        before: int | None = None,
        limit: int | None = None,
    ) -> MessagePage:
        if user_id not in self._users:
            raise DomainError("User not found")
        self._check_cursor("after", after)
        self._check_cursor("before", before)
        return _page(self._messages_by_user[user_id], after, before, limit)

    async def messages_to(self, recipient_id: str, after: int, limit: int) -> MessagePage:
        if recipient_id not in self._users:
            raise DomainError("User not found")
        self._check_cursor("after", after)
        return _page(self._received_by_user[recipient_id], after, None, limit)

    async def messages_after(self, after: int, limit: int) -> MessagePage:
        return _page(self._messages, after, None, limit)

    async def newest_message_id(self) -> int:
        return self._message_count

    def _check_cursor(self, argument: str, cursor: int | None) -> None:
        # Ids 1..count were all issued here (deleted ones stay valid cursors);
        # a SQL store looks the id up in `messages` and `deleted_messages`.
        if cursor is not None and not 0 <= cursor <= self._message_count:
            raise DomainError(f"{argument}: no message has id {cursor}")


def _remove(messages: list[Message], message: Message) -> None:
    """Remove a message from an id-ordered list, found by bisection."""
    index = bisect_left(messages, message_position(message), key=message_position)
    if index < len(messages) and messages[index] is message:
        del messages[index]


def _page(messages: list[Message], after: int | None, before: int | None, limit: int | None) -> MessagePage:
    """The page of an id-ordered list that `Store.messages_for` describes, found by bisection."""
    start = 0 if after is None else bisect_right(messages, after, key=message_position)
    end = len(messages) if before is None else bisect_left(messages, before, key=message_position)
    if end <= start:
        return MessagePage([])
    if limit is None or end - start <= limit:
        return MessagePage(messages[start:end])
    if after is not None:
        return MessagePage(messages[start : start + limit], has_more=True)
    return MessagePage(messages[end - limit : end], has_more=True)
