"""subscription messages(userId): who receives what, and that every queue is freed."""

import asyncio

import pytest
from graphql import GraphQLError

from store import Message
from subscriptions import Hub, Subscription
from tests.conftest import create_user, send
from tests.legacy_ws import LegacyClient
from tests.operations import SUBSCRIBE


@pytest.fixture
def users(client):
    return [create_user(client, name) for name in ("ann", "bob", "cy")]


def content_of(payload):
    return payload["data"]["messages"]["content"]


def test_each_subscription_of_the_recipient_gets_every_message_in_order(client, app, users):
    with LegacyClient(client) as tab_one, LegacyClient(client) as tab_two:
        tab_one.start("a", SUBSCRIBE, {"userId": "2"})
        tab_two.start("b", SUBSCRIBE, {"userId": "2"})
        tab_two.start("c", SUBSCRIBE, {"userId": "3"})
        tab_one.start("sync", "{ userId(username: \"ann\") }")
        assert tab_one.next_data("sync") == {"data": {"userId": "1"}}
        assert app.state.hub.count("2") == 2

        for n in range(5):
            send(client, "1", "2", f"to bob {n}")
        send(client, "1", "3", "to cy")

        assert [content_of(tab_one.next_data("a")) for _ in range(5)] == [f"to bob {n}" for n in range(5)]
        received_by_tab_two = [tab_two.receive() for _ in range(6)]
    by_operation = {}
    for message in received_by_tab_two:
        by_operation.setdefault(message["id"], []).append(content_of(message["payload"]))
    assert by_operation == {"b": [f"to bob {n}" for n in range(5)], "c": ["to cy"]}


def test_a_message_to_someone_else_is_not_delivered(client, users):
    with LegacyClient(client) as ws:
        ws.start("bob", SUBSCRIBE, {"userId": "2"})
        ws.start("sync", "{ userId(username: \"ann\") }")
        ws.next_data("sync")
        send(client, "1", "3", "for cy only")
        send(client, "1", "2", "for bob")
        assert content_of(ws.next_data("bob")) == "for bob"


def test_unknown_user_is_an_error_and_the_connection_stays_usable(client, app, users):
    with LegacyClient(client) as ws:
        ws.start("bad", SUBSCRIBE, {"userId": "99"})
        error = ws.receive()
        assert error["type"] == "error" and error["id"] == "bad"
        assert error["payload"]["message"] == "User not found"

        ws.start("missing", SUBSCRIBE, {})
        assert ws.receive()["payload"]["message"] == "userId is required"

        ws.start("good", SUBSCRIBE, {"userId": "2"})
        ws.start("sync", "{ userId(username: \"ann\") }")
        ws.next_data("sync")
        send(client, "1", "2", "still works")
        assert content_of(ws.next_data("good")) == "still works"
    assert app.state.hub.count() == 0


def test_stopping_an_active_subscription_keeps_the_connection(client, app, users, server_errors):
    """The legacy protocol's `stop` ends one operation; the same socket serves the next."""
    with LegacyClient(client) as ws:
        ws.start("first", SUBSCRIBE, {"userId": "2"})
        ws.start("sync", "{ userId(username: \"ann\") }")
        ws.next_data("sync")
        send(client, "1", "2", "one")
        assert content_of(ws.next_data("first")) == "one"

        ws.stop("first")
        ws.start("second", SUBSCRIBE, {"userId": "2"})
        ws.start("sync2", "{ userId(username: \"ann\") }")
        ws.next_data("sync2")
        assert app.state.hub.count("2") == 1

        send(client, "1", "2", "two")
        assert ws.next_data("second") == {
            "data": {"messages": {"content": "two", "senderId": "1", "recipientId": "2"}}
        }
    assert app.state.hub.count() == 0
    assert server_errors() == []


def test_thousand_subscribe_unsubscribe_cycles_leave_no_queue(client, app, users, server_errors):
    with LegacyClient(client) as ws:
        for cycle in range(1000):
            ws.start(str(cycle), SUBSCRIBE, {"userId": "2"})
            if cycle % 100 == 0:
                ws.start("sync", "{ userId(username: \"ann\") }")
                ws.next_data("sync")
                send(client, "1", "2", f"cycle {cycle}")
                assert content_of(ws.next_data(str(cycle))) == f"cycle {cycle}"
            ws.stop(str(cycle))
        ws.start("sync", "{ userId(username: \"ann\") }")
        ws.next_data("sync")
        assert app.state.hub.count() == 0
    assert server_errors() == []


def test_idle_subscriptions_of_others_cost_a_message_nothing(client, app, users, monkeypatch):
    """With 2,000 idle subscriptions of other users, a message touches only its recipient's queue."""
    hub = app.state.hub
    idle_owner = create_user(client, "idle")
    clients = [LegacyClient(client) for _ in range(20)]
    try:
        for index, ws in enumerate(clients):
            ws.__enter__()
            for n in range(100):
                ws.start(f"{index}-{n}", SUBSCRIBE, {"userId": idle_owner})
            ws.start("sync", "{ userId(username: \"ann\") }")
            ws.next_data("sync")
        with LegacyClient(client) as bob:
            bob.start("bob", SUBSCRIBE, {"userId": "2"})
            bob.start("sync", "{ userId(username: \"ann\") }")
            bob.next_data("sync")
            assert hub.count(idle_owner) == 2000

            offered = []
            original_offer = Subscription.offer

            def counting_offer(self, message):
                offered.append(self.recipient_id)
                return original_offer(self, message)

            monkeypatch.setattr(Subscription, "offer", counting_offer)
            send(client, "1", "2", "only for bob")
            monkeypatch.undo()
            assert offered == ["2"], "the publisher must visit only the recipient's subscriptions"
            assert content_of(bob.next_data("bob")) == "only for bob"
            assert all(sub.pending == 0 for sub in hub._subscriptions[idle_owner])
    finally:
        for ws in clients:
            ws.__exit__(None, None, None)
    assert hub.count() == 0


def test_a_subscriber_that_falls_behind_is_ended_and_the_publisher_never_waits():
    async def scenario():
        hub = Hub(queue_size=3)
        slow = hub.subscribe("2")
        fast = hub.subscribe("2")
        for n in range(3):
            await hub.publish(Message(str(n), "1", "2", f"m{n}"))
            assert (await anext(fast)).event.content == f"m{n}"
        await asyncio.wait_for(hub.publish(Message("3", "1", "2", "m3")), timeout=0.1)
        assert hub.count("2") == 1, "the slow subscription is unregistered at once"
        with pytest.raises(GraphQLError, match="more than 3 messages were waiting"):
            await anext(slow)
        assert slow.pending == 0
        assert (await anext(fast)).event.content == "m3"
        await fast.aclose()
        assert hub.count() == 0

    asyncio.run(scenario())
