"""Generated sequences of store operations (users, messages, deletions, profiles, every kind of
history read with cursors on present, deleted and unknown ids): each SQL store answers every one
as the in-memory store does, errors included.

Ids are compared by what they name: PostgreSQL's sequences skip the number a failed insert took
(a taken username), so the n-th user or message may have another id there. Operations name
users and messages by the order they were created in, and results are read back that way.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from errors import DomainError
from sqlstore import SqlStore
from store import MemoryStore, Message, MessagePage, User
from tests.conftest import STORES, run_closing

NAMES = ["ann", "bob", "cy", " ann ", "Ann"]
USERS = st.integers(0, 2)  # the n-th user created (2: nobody, unless a third was)
MESSAGES = st.integers(0, 4)  # the n-th message created (perhaps deleted since), or none
CURSORS = st.one_of(st.none(), st.just(0), MESSAGES)  # 0: the start of the history
LIMITS = st.one_of(st.none(), st.sampled_from([1, 2, 5, 500]))
UNKNOWN = 10**9  # an id no message has

STEPS = {
    "create_user": st.tuples(st.sampled_from(NAMES)),
    "user_id": st.tuples(st.sampled_from(NAMES)),
    "get_user": st.tuples(USERS),
    "update_profile": st.tuples(
        USERS,
        st.fixed_dictionaries(
            {}, optional={"display_name": st.sampled_from(["Ann B", None]), "bio": st.none()}
        ),
    ),
    "add_message": st.tuples(USERS, USERS, st.sampled_from(["hi", "é 🙂", "x" * 300])),
    "delete_message": st.tuples(MESSAGES),
    "get_message": st.tuples(MESSAGES),
    "messages_for": st.tuples(USERS, CURSORS, CURSORS, LIMITS),
    "messages_to": st.tuples(USERS, CURSORS.filter(lambda c: c is not None), st.sampled_from([1, 3, 500])),
    "messages_after": st.tuples(CURSORS.filter(lambda c: c is not None), st.sampled_from([1, 3, 500])),
    "newest_message_id": st.tuples(),
}
# Every sequence starts with two users and a message each way, so that most steps find something.
START = [
    ("create_user", "ann"),
    ("create_user", "bob"),
    ("add_message", 0, 1, "hi"),
    ("add_message", 1, 0, "hi"),
]
# Each step as likely as the others, writes more (so that the reads find messages and deletions).
KINDS = [*STEPS, "add_message", "add_message", "add_message", "delete_message", "messages_for"]
operations = st.lists(
    st.sampled_from(KINDS).flatmap(lambda kind: STEPS[kind].map(lambda arguments: (kind, *arguments))),
    min_size=5,
    max_size=30,
).map(lambda sequence: [*START, *sequence])

# Where each operation names a user (U) or a message (M, or a cursor: C), after its name.
ROLES = {
    "get_user": "U",
    "update_profile": "U.",
    "add_message": "UU.",
    "delete_message": "M",
    "get_message": "M",
    "messages_for": "UCC.",
    "messages_to": "UC.",
    "messages_after": "C.",
}


class Side:
    """One store, with the ids it gave the users and messages created so far, in order."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self.users: list[str] = []
        self.messages: list[int] = []

    def user(self, n: int) -> str:
        return self.users[n] if n < len(self.users) else str(UNKNOWN)

    def message(self, n: int | None, cursor: bool = False) -> int | None:
        if n is None or (cursor and n == 0):
            return n
        n -= 1 if cursor else 0
        return self.messages[n] if n < len(self.messages) else UNKNOWN

    async def run(self, operation: tuple[Any, ...]) -> Any:
        """What the operation returned (or the domain error it raised), ids as creation order."""
        name, *given = operation
        arguments = [
            self.user(value) if role == "U" else self.message(value, role == "C") if role in "MC" else value
            for role, value in zip(ROLES.get(name, "." * len(given)), given, strict=True)
        ]
        try:
            result = await getattr(self.store, name)(*arguments)
        except DomainError as error:
            return ("DomainError", error.messages)
        if name == "create_user":
            self.users.append(result.user_id)
        elif name == "add_message":
            self.messages.append(int(result.id))
        return self.read_back(result)

    def read_back(self, value: Any) -> Any:
        if isinstance(value, User):
            return replace(value, user_id=self.users.index(value.user_id))
        if isinstance(value, Message):
            return replace(
                value,
                id=self.messages.index(int(value.id)),
                sender_id=self.users.index(value.sender_id),
                recipient_id=self.users.index(value.recipient_id),
            )
        if isinstance(value, MessagePage):
            return [self.read_back(message) for message in value.messages], value.has_more
        if isinstance(value, int) and value in self.messages:  # newest_message_id
            return ("message", self.messages.index(value))
        if isinstance(value, str) and value in self.users:  # user_id
            return ("user", self.users.index(value))
        return value


@pytest.mark.parametrize("kind", [kind for kind in sorted(STORES) if kind != "memory"])
def test_sql_stores_answer_generated_operations_as_the_memory_store_does(request, kind):
    def moment() -> datetime:  # one moment for every write, so that times compare equal
        return datetime(2026, 11, 28, 12, 0, tzinfo=UTC)

    compared: list[str] = []

    # The same examples in every run (each on a new database), so that what they reach is asserted.
    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
    @given(sequence=operations)
    def check(sequence: list[tuple[Any, ...]]) -> None:
        if kind == "sqlite":
            url = STORES[kind](request).replace("chat.db", f"chat-{len(compared)}.db")
        else:
            server = request.getfixturevalue("postgres_server")
            url = server.url(server.create_database())
        memory, sql = Side(MemoryStore(clock=moment)), Side(SqlStore(url, clock=moment))

        async def both() -> None:
            await sql.store.open()
            for operation in sequence:
                assert await sql.run(operation) == await memory.run(operation), operation
                compared.append(operation[0])

        run_closing(both(), sql.store)

    check()
    assert {"messages_for", "delete_message", "add_message", "messages_to", "create_user"} <= set(compared)
