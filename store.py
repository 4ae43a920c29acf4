"""The chat's data: users and messages, behind a small async interface.

`MemoryStore` keeps everything in dicts and lists, as the tutorial does, with
a per-user index so that one user's history costs O(that user's messages).
A database-backed store implements the same `Store` protocol.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

from errors import DomainError


@dataclass(frozen=True, slots=True)
class User:
    user_id: str
    username: str


@dataclass(frozen=True, slots=True)
class Message:
    id: str
    sender_id: str
    recipient_id: str
    content: str
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))


class Store(Protocol):
    async def create_user(self, username: str) -> User:
        """Add a user with the next id; DomainError("Username is taken") if it exists."""

    async def user_id(self, username: str) -> str | None: ...

    async def token_hash(self, user_id: str) -> str | None:
        """The SHA-256 of the user's current token secret, or None."""

    async def set_token_hash(self, user_id: str, token_hash: str) -> None:
        """Replace the user's token: the old one stops working at once."""

    async def get_user(self, user_id: str) -> User | None: ...

    async def add_message(self, sender_id: str, recipient_id: str, content: str) -> Message:
        """Store a message; DomainError naming each unknown party."""

    async def messages_for(self, user_id: str) -> list[Message]:
        """Every message the user sent or received, oldest first."""


class MemoryStore:
    """The tutorial's in-memory store: lost on restart, private to one process."""

    def __init__(self) -> None:
        self._users: dict[str, User] = {}
        self._ids_by_username: dict[str, str] = {}
        self._token_hashes: dict[str, str] = {}
        self._messages_by_user: dict[str, list[Message]] = {}
        self._message_count = 0

    async def create_user(self, username: str) -> User:
        if username in self._ids_by_username:
            raise DomainError("Username is taken")
        user = User(user_id=str(len(self._users) + 1), username=username)
        self._users[user.user_id] = user
        self._ids_by_username[username] = user.user_id
        self._messages_by_user[user.user_id] = []
        return user

    async def user_id(self, username: str) -> str | None:
        return self._ids_by_username.get(username)

    async def get_user(self, user_id: str) -> User | None:
        return self._users.get(user_id)

    async def token_hash(self, user_id: str) -> str | None:
        return self._token_hashes.get(user_id)

    async def set_token_hash(self, user_id: str, token_hash: str) -> None:
        self._token_hashes[user_id] = token_hash

    async def add_message(self, sender_id: str, recipient_id: str, content: str) -> Message:
        errors = []
        if sender_id not in self._users:
            errors.append("Sender not found")
        if recipient_id not in self._users:
            errors.append("Recipient not found")
        if errors:
            raise DomainError(*errors)
        self._message_count += 1
        message = Message(str(self._message_count), sender_id, recipient_id, content)
        self._messages_by_user[sender_id].append(message)
        if recipient_id != sender_id:
            self._messages_by_user[recipient_id].append(message)
        return message

    async def messages_for(self, user_id: str) -> list[Message]:
        if user_id not in self._users:
            raise DomainError("User not found")
        return list(self._messages_by_user[user_id])
