"""The store's attachments, deletions and profiles, for every kind of store (`store` fixture).

What a database-backed store must do the same way: these tests are its specification.
"""

from __future__ import annotations

import pytest

from errors import DomainError
from store import Attachment
from tests.conftest import run_closing


def run(store, coroutine):
    return run_closing(coroutine, store)


def attachment(n: int) -> Attachment:
    return Attachment(f"{n:032x}", f"file{n}.txt", "text/plain", n, f"{n:064x}")


async def users(store, *names: str) -> list[str]:
    return [(await store.create_user(name)).user_id for name in names]


def test_a_message_keeps_its_attachments_in_order_with_its_id(store):
    async def scenario():
        ann, bob = await users(store, "ann", "bob")
        message = await store.add_message(ann, bob, "files", [attachment(2), attachment(1)])
        expected = tuple(
            Attachment(a.id, a.filename, a.content_type, a.size, a.sha256, message.id)
            for a in (attachment(2), attachment(1))
        )
        assert message.attachments == expected
        assert (await store.get_message(int(message.id))).attachments == expected
        assert (await store.messages_for(bob)).messages[0].attachments == expected
        assert (await store.messages_to(bob, after=0, limit=10)).messages[0].attachments == expected
        assert await store.get_attachment(attachment(1).id) == expected[1]
        assert await store.get_attachment("f" * 32) is None
        plain = await store.add_message(ann, bob, "no files")
        assert plain.attachments == ()

    run(store, scenario())


def test_a_deleted_message_is_gone_from_every_read(store):
    async def scenario():
        ann, bob = await users(store, "ann", "bob")
        kept = await store.add_message(ann, bob, "kept")
        doomed = await store.add_message(ann, bob, "doomed", [attachment(1)])
        to_self = await store.add_message(ann, ann, "note")

        assert await store.delete_message(int(doomed.id)) == doomed
        assert await store.delete_message(int(to_self.id)) == to_self
        assert await store.get_message(int(doomed.id)) is None
        assert await store.get_attachment(attachment(1).id) is None
        assert (await store.messages_for(ann)).messages == [kept]
        assert (await store.messages_for(bob)).messages == [kept]
        assert (await store.messages_to(bob, after=0, limit=10)).messages == [kept]
        assert (await store.messages_to(ann, after=0, limit=10)).messages == []

        assert await store.delete_message(int(doomed.id)) is None, "twice: nothing there"
        assert await store.delete_message(999) is None
        newer = await store.add_message(bob, ann, "after")
        assert int(newer.id) > int(to_self.id), "ids of deleted messages are never reused"

    run(store, scenario())


def test_ids_of_deleted_messages_stay_valid_cursors(store):
    async def scenario():
        ann, bob = await users(store, "ann", "bob")
        messages = [await store.add_message(ann, bob, f"m{n}") for n in range(6)]
        for gone in (messages[2], messages[3], messages[5]):
            await store.delete_message(int(gone.id))
        survivors = [messages[0], messages[1], messages[4]]
        assert (await store.messages_for(bob, after=int(messages[2].id), limit=10)).messages == [messages[4]]
        assert (await store.messages_for(bob, before=int(messages[3].id), limit=10)).messages == survivors[:2]
        assert (await store.messages_to(bob, after=int(messages[5].id), limit=10)).messages == []
        back = await store.messages_for(bob, limit=2)
        assert back.messages == survivors[1:] and back.has_more is True
        forward = await store.messages_for(bob, after=0, limit=2)
        assert forward.messages == survivors[:2] and forward.has_more is True
        with pytest.raises(DomainError, match="after: no message has id 7"):
            await store.messages_for(bob, after=7, limit=10)

    run(store, scenario())


def test_a_profile_is_set_partly_and_cleared(store):
    async def scenario():
        (ann,) = await users(store, "ann")
        fresh = await store.get_user(ann)
        assert (fresh.display_name, fresh.bio) == (None, None)
        assert fresh.created_at.utcoffset().total_seconds() == 0
        named = await store.update_profile(ann, {"display_name": "Ann"})
        assert (named.display_name, named.bio, named.created_at) == ("Ann", None, fresh.created_at)
        both = await store.update_profile(ann, {"bio": "Hi"})
        assert (both.display_name, both.bio) == ("Ann", "Hi")
        cleared = await store.update_profile(ann, {"display_name": None})
        assert (cleared.display_name, cleared.bio) == (None, "Hi")
        assert await store.get_user(ann) == cleared
        with pytest.raises(DomainError, match="User not found"):
            await store.update_profile("99", {"bio": "x"})

    run(store, scenario())


def test_known_attachment_ids_are_those_of_stored_messages_only(store):
    """What the start-up sweep asks: of many ids (over a SQL query's batch), which are stored."""

    async def scenario():
        ann, bob = await users(store, "ann", "bob")
        await store.add_message(ann, bob, "kept", [attachment(1), attachment(2)])
        doomed = await store.add_message(ann, bob, "doomed", [attachment(3)])
        late = await store.add_message(ann, bob, "late", [attachment(2_400)])
        await store.delete_message(int(doomed.id))
        asked = [attachment(n).id for n in range(2_500)]  # three SQL batches of at most 1,000
        assert await store.known_attachment_ids(asked) == {attachment(n).id for n in (1, 2, 2_400)}
        assert await store.known_attachment_ids([attachment(3).id, "f" * 32]) == set()
        assert await store.known_attachment_ids([]) == set()
        assert late.attachments[0].id in await store.known_attachment_ids([attachment(2_400).id])

    run(store, scenario())
