"""The store's history reads: ids, times, pages and cursors, for every kind of store (`store` fixture)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from errors import DomainError
from sqlstore import SqlStore
from tests.conftest import STORES, run_closing


def run(store, coroutine):
    return run_closing(coroutine, store)


async def conversation(store, count: int = 23) -> tuple[list, list]:
    """Users ann, bob, cy; `count` messages among them. Returns (users, every message)."""
    users = [(await store.create_user(name)).user_id for name in ("ann", "bob", "cy")]
    pairs = [(0, 1), (1, 0), (2, 1), (0, 2), (1, 1), (2, 0)]
    messages = []
    for n in range(count):
        sender, recipient = pairs[n % len(pairs)]
        messages.append(await store.add_message(users[sender], users[recipient], f"m{n}"))
    return users, messages


def ids(messages) -> list[int]:
    return [int(message.id) for message in messages]


def test_ids_increase_and_times_never_decrease(store):
    async def scenario():
        _, messages = await conversation(store)
        assert ids(messages) == sorted(set(ids(messages)))
        times = [message.created_at for message in messages]
        assert all(t.tzinfo is not None and t.utcoffset() == timedelta(0) for t in times)
        assert times == sorted(times)

    run(store, scenario())


def test_times_never_decrease_when_the_clock_goes_back(new_store):
    """A wall clock set back (NTP) must not make a newer message look older."""
    # The first reading dates the user; the others, the messages.
    readings = iter(datetime(2026, 11, 27, 15, 4, second, tzinfo=UTC) for second in (0, 30, 10, 20, 40))
    store = new_store(clock=lambda: next(readings))

    async def scenario():
        ann = (await store.create_user("ann")).user_id
        sent = [(await store.add_message(ann, ann, f"m{n}")).created_at.second for n in range(4)]
        stored = [message.created_at.second for message in (await store.messages_for(ann)).messages]
        return sent, stored

    assert run(store, scenario()) == ([30, 30, 30, 40], [30, 30, 30, 40])


def test_whole_history_is_every_message_of_the_user_oldest_first(store):
    async def scenario():
        (_, bob, _), messages = await conversation(store)
        page = await store.messages_for(bob)
        expected = [m for m in messages if bob in (m.sender_id, m.recipient_id)]
        assert page.messages == expected and page.has_more is False
        assert len(set(ids(page.messages))) == len(expected), "a message to oneself is listed once"

    run(store, scenario())


@pytest.mark.parametrize("limit", [1, 4, 5, 100])
def test_forward_pages_walk_the_history_without_gap_or_overlap(store, limit):
    async def scenario():
        (ann, _, _), _ = await conversation(store)
        everything = (await store.messages_for(ann)).messages
        walked, cursor, pages = [], 0, 0
        for _ in range(len(everything) + 1):
            page = await store.messages_for(ann, after=cursor, limit=limit)
            assert 0 < len(page.messages) <= limit
            walked += page.messages
            pages += 1
            if not page.has_more:
                break
            cursor = int(page.messages[-1].id)
        assert walked == everything
        assert pages == -(-len(everything) // limit)

    run(store, scenario())


@pytest.mark.parametrize("limit", [1, 4, 5, 100])
def test_backward_pages_walk_the_history_without_gap_or_overlap(store, limit):
    async def scenario():
        (ann, _, _), _ = await conversation(store)
        everything = (await store.messages_for(ann)).messages
        page = await store.messages_for(ann, limit=limit)
        assert page.messages == everything[-limit:], "the first page is the newest, oldest first"
        walked = list(page.messages)
        for _ in range(len(everything)):
            if not page.has_more:
                break
            page = await store.messages_for(ann, before=int(page.messages[0].id), limit=limit)
            assert 0 < len(page.messages) <= limit
            assert ids(page.messages) == sorted(ids(page.messages))
            walked = page.messages + walked
        assert walked == everything

    run(store, scenario())


def test_a_window_between_two_cursors_is_read_forward(store):
    async def scenario():
        (_, bob, _), _ = await conversation(store)
        everything = (await store.messages_for(bob)).messages
        low, high = int(everything[2].id), int(everything[10].id)
        window = await store.messages_for(bob, after=low, before=high)
        assert window.messages == everything[3:10] and window.has_more is False
        first = await store.messages_for(bob, after=low, before=high, limit=3)
        assert first.messages == everything[3:6] and first.has_more is True
        last = await store.messages_for(bob, after=int(everything[6].id), before=high, limit=3)
        assert last.messages == everything[7:10] and last.has_more is False

    run(store, scenario())


def test_pages_past_either_end_are_empty(store):
    async def scenario():
        (ann, _, _), messages = await conversation(store)
        newest = int(messages[-1].id)
        assert (await store.messages_for(ann, after=newest, limit=5)).messages == []
        assert (await store.messages_for(ann, before=0, limit=5)).messages == []
        assert (await store.messages_for(ann, before=1, limit=5)).messages == []

    run(store, scenario())


def test_messages_to_holds_only_what_the_user_received_after_the_cursor(store):
    async def scenario():
        (_, bob, _), messages = await conversation(store)
        received = [m for m in messages if m.recipient_id == bob]
        first = await store.messages_to(bob, after=0, limit=3)
        assert first.messages == received[:3] and first.has_more is True
        rest = await store.messages_to(bob, after=int(received[2].id), limit=1000)
        assert rest.messages == received[3:] and rest.has_more is False
        assert all(m.recipient_id == bob for m in rest.messages)

    run(store, scenario())


@pytest.mark.parametrize("read", ["messages_for", "messages_to"])
def test_a_cursor_that_is_no_message_is_refused(store, read):
    async def scenario():
        (ann, _, _), _ = await conversation(store, count=3)
        reader = getattr(store, read)
        with pytest.raises(DomainError) as refused:
            await reader(ann, after=4, limit=10)
        assert refused.value.messages == ["after: no message has id 4"]
        assert (await reader(ann, after=3, limit=10)).messages == []
        if read == "messages_for":
            with pytest.raises(DomainError, match="before: no message has id 99"):
                await reader(ann, before=99, limit=10)

    run(store, scenario())


@pytest.mark.parametrize("read", ["messages_for", "messages_to"])
def test_reading_the_history_of_an_unknown_user_is_refused(store, read):
    async def scenario():
        await conversation(store, count=3)
        with pytest.raises(DomainError) as refused:
            await getattr(store, read)("99", after=0, limit=10)
        assert refused.value.messages == ["User not found"]

    run(store, scenario())


def test_a_taken_username_is_refused_and_names_find_their_ids(store):
    async def scenario():
        ann = await store.create_user("ann")
        bob = await store.create_user("bob")
        assert ann.user_id != bob.user_id
        with pytest.raises(DomainError) as refused:
            await store.create_user("ann")
        assert refused.value.messages == ["Username is taken"]
        assert await store.user_id("ann") == ann.user_id
        assert await store.user_id("nobody") is None
        assert await store.get_user(bob.user_id) == bob
        cy = await store.create_user("cy")
        assert len({ann.user_id, bob.user_id, cy.user_id}) == 3, "a refused name takes no id from anyone"

    run(store, scenario())


@pytest.mark.parametrize(
    ("sender", "recipient", "errors"),
    [
        ("ann", "99", ["Recipient not found"]),
        ("99", "ann", ["Sender not found"]),
        ("98", "99", ["Sender not found", "Recipient not found"]),
        ("01", "ann", ["Sender not found"]),
        ("ann", "abc", ["Recipient not found"]),
        ("", "-1", ["Sender not found", "Recipient not found"]),
        ("ann", "9" * 30, ["Recipient not found"]),
    ],
)
def test_a_message_with_an_unknown_party_is_refused_and_not_stored(store, sender, recipient, errors):
    """Ids no user has, in any form (leading zero, not a number, too large), are unknown parties."""

    async def scenario():
        ann = (await store.create_user("ann")).user_id
        parties = [ann if party == "ann" else party for party in (sender, recipient)]
        with pytest.raises(DomainError) as refused:
            await store.add_message(*parties, "hello")
        assert refused.value.messages == errors
        assert (await store.messages_for(ann)).messages == []
        assert await store.newest_message_id() == 0

    run(store, scenario())


def test_unknown_users_have_no_record_and_no_token(store):
    async def scenario():
        ann = (await store.create_user("ann")).user_id
        for unknown in ("99", "abc", "01", "", "9" * 30):
            assert await store.get_user(unknown) is None
            assert await store.token_hash(unknown) is None
        assert await store.token_hash(ann) is None
        await store.set_token_hash(ann, "a" * 64)
        await store.set_token_hash(ann, "b" * 64)
        assert await store.token_hash(ann) == "b" * 64, "a new token replaces the old one"

    run(store, scenario())


def test_messages_after_reads_everyones_messages_in_pages(store):
    """What a process's fan-out reads to fill a gap: every message above an id, a page at a time."""

    async def scenario():
        _, messages = await conversation(store)
        walked, cursor = [], 0
        for _ in range(len(messages)):
            page = await store.messages_after(cursor, 4)
            walked += page.messages
            if not page.has_more:
                break
            cursor = int(page.messages[-1].id)
        assert walked == messages
        newest = await store.newest_message_id()
        assert newest == int(messages[-1].id)
        assert (await store.messages_after(newest, 4)).messages == []

    run(store, scenario())


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_writers_on_one_database_never_let_a_reader_see_a_later_message_first(request, kind):
    """Three stores on one database (as three processes would have) write at once while one reads.

    Each read of every message must be ids 1..n with none missing: a reader
    never sees id n + 1 before n is committed, whatever the writer.
    """
    url = STORES[kind](request)
    stores = [SqlStore(url) for _ in range(3)]

    async def scenario():
        ann, bob = [(await stores[0].create_user(name)).user_id for name in ("ann", "bob")]
        writing = True

        async def writer(store, name):
            for n in range(40):
                await store.add_message(ann, bob, f"{name} {n}")

        async def reader():
            reads = 0
            while writing:
                seen = ids((await stores[2].messages_after(0, 10_000)).messages)
                missing = sorted(set(range(1, max(seen, default=0))) - set(seen))
                assert seen == list(range(1, len(seen) + 1)), f"not yet visible: {missing}"
                reads += 1
            return reads

        reading = asyncio.create_task(reader())
        await asyncio.gather(*(writer(store, f"{k}.{w}") for k, store in enumerate(stores) for w in range(2)))
        writing = False
        assert await reading > 5
        everything = (await stores[1].messages_after(0, 10_000)).messages
        assert ids(everything) == list(range(1, 241))
        times = [message.created_at for message in everything]
        assert times == sorted(times)

    run_closing(scenario(), *stores)
