"""Subscription events run on an executor that collects the selection once per subscription."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest
from graphql import Executor, parse, subscribe, validate
from starlette.testclient import TestClient

import execution
from app import create_app, schema
from settings import Settings
from store import MemoryStore, Message
from subscriptions import Hub
from tests.conftest import create_user, gql, make_settings, send
from tests.legacy_ws import LegacyClient
from tests.operations import SUBSCRIBE


@pytest.fixture
def executors(monkeypatch) -> list[execution.SubscriptionExecutor]:
    """Every subscription executor the app builds, in order."""
    built = []

    class Recorded(execution.SubscriptionExecutor):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            built.append(self)

    monkeypatch.setattr(execution, "SubscriptionExecutor", Recorded)
    return built


def test_a_long_subscription_does_not_collect_or_keep_anything_per_event(executors):
    """graphql-core 3.3 alone re-collects the fields and keeps one more memo entry for every event."""
    with TestClient(create_app(make_settings())) as client:
        ann, bob = create_user(client, "ann"), create_user(client, "bob")
        with LegacyClient(client) as ws:
            ws.start("s", SUBSCRIBE, {"userId": bob})
            ws.start("sync", '{ userId(username: "ann") }')
            ws.next_data("sync")
            for n in range(50):
                send(client, ann, bob, f"message {n}")
            received = [ws.next_data("s")["data"]["messages"]["content"] for _ in range(50)]
    assert received == [f"message {n}" for n in range(50)]
    (executor,) = executors
    assert executor._event_plan[0] is not None, "events run on the operation's plan (plans.py)"
    assert len(executor._relevant_sub_fields) == 0


VARIABLE_INCLUDE = (
    "subscription ($id: String, $yes: Boolean!) "
    "{ messages(userId: $id) { content ... @include(if: $yes) { senderId } alias: recipientId } }"
)
FRAGMENTS = (
    "subscription ($id: String) { messages(userId: $id) "
    "{ content ...M alias: recipientId ... on Message @include(if: true) { id } } }"
    " fragment M on Message { senderId content alias: recipientId }"
)


@pytest.mark.parametrize(
    ("text", "planned", "last"),
    [
        # A variable decides a field: the variant of the plan its value chooses runs the events.
        (VARIABLE_INCLUDE, True, {"content": "m2", "senderId": "1", "alias": "1"}),
        # Fragments, a repeated key and a literal @include: the operation's plan runs them.
        (FRAGMENTS, True, {"content": "m2", "senderId": "1", "alias": "1", "id": "2"}),
    ],
)
def test_events_answer_exactly_as_with_graphql_cores_own_executor(executors, text, planned, last):
    assert validate(schema, parse(text)) == []

    async def events(executor_class):
        store, hub = MemoryStore(), Hub(10)
        await store.create_user("ann")
        context = {
            "store": store,
            "hub": hub,
            "settings": Settings(),
            "request": SimpleNamespace(scope={}),  # one connection's worth of state, no socket
            "viewer": None,
        }
        document = parse(text)
        stream = await subscribe(
            schema,
            document,
            context_value=context,
            variable_values={"id": "1", "yes": True},
            executor_class=executor_class,
        )
        results = []
        for n in range(3):
            await hub.publish(Message(str(n), "1", "1", f"m{n}"))
            results.append((await anext(stream)).formatted)
        await stream.aclose()
        return results

    ours = asyncio.run(events(execution.SubscriptionExecutor))
    assert ours == asyncio.run(events(Executor))
    assert ours[2] == {"data": {"messages": last}}
    assert list(ours[2]["data"]["messages"]) == list(last)  # keys in the order first collected
    (executor,) = executors
    assert (executor._event_plan[0] is not None) is planned


def test_subscriptions_of_one_operation_share_its_field_collection(executors):
    """Thousands of subscribers of one operation keep one collection and run on one plan, not one
    each; where a directive lets variables decide the fields, each runs on the variant of the plan its
    values choose, and gets its own fields."""
    with_directive = (
        "subscription ($userId: String, $yes: Boolean!) "
        "{ messages(userId: $userId) { content senderId @include(if: $yes) } }"
    )
    with TestClient(create_app(make_settings())) as client:
        ann, bob, cid = (create_user(client, name) for name in ("ann", "bob", "cid"))
        with LegacyClient(client) as ws:
            ws.start("bob", SUBSCRIBE, {"userId": bob})
            ws.start("cid", SUBSCRIBE, {"userId": cid})
            ws.start("yes", with_directive, {"userId": cid, "yes": True})
            ws.start("no", with_directive, {"userId": cid, "yes": False})
            ws.start("sync", '{ userId(username: "ann") }')
            ws.next_data("sync")
            send(client, ann, bob, "to bob")
            send(client, ann, cid, "to cid")
            frames = [ws.receive() for _ in range(4)]  # in no set order across operations
    received = {frame["id"]: frame["payload"]["data"]["messages"] for frame in frames}
    assert received["bob"] == {"content": "to bob", "senderId": ann, "recipientId": bob}
    assert received["cid"] == {"content": "to cid", "senderId": ann, "recipientId": cid}
    assert received["yes"] == {"content": "to cid", "senderId": ann}
    assert received["no"] == {"content": "to cid"}
    plain, other_plain, yes, no = executors
    assert plain._relevant_sub_fields is other_plain._relevant_sub_fields
    assert plain._root_fields is other_plain._root_fields
    # Without directives events run on one plan for all; with them, on the variant each one's
    # variables choose (graphql-core's collection is then never asked for).
    assert plain._event_plan[0] is other_plain._event_plan[0] is not None
    assert None is not yes._event_plan[0] is not no._event_plan[0] is not None
    assert len(yes._relevant_sub_fields) == len(no._relevant_sub_fields) == 0


def test_events_of_subscriptions_that_use_fragments_run_on_one_plan(executors):
    """Fragments (and the repeated keys they bring) are planned: no field collection by graphql-core."""
    with_fragment = (
        "subscription ($userId: String) { messages(userId: $userId) { ... on Message { content } ...Who } }"
        " fragment Who on Message { senderId content }"
    )
    with TestClient(create_app(make_settings())) as client:
        ann, bob = create_user(client, "ann"), create_user(client, "bob")
        with LegacyClient(client) as ws:
            ws.start("one", with_fragment, {"userId": bob})
            ws.start("two", with_fragment, {"userId": bob})
            ws.start("sync", '{ userId(username: "ann") }')
            ws.next_data("sync")
            send(client, ann, bob, "to bob")
            frames = [ws.receive() for _ in range(2)]
    assert {frame["id"]: frame["payload"]["data"]["messages"] for frame in frames} == {
        "one": {"content": "to bob", "senderId": ann},
        "two": {"content": "to bob", "senderId": ann},
    }
    one, two = executors
    # One of them ran the event, on the plan; the other took its result (see test_delivery.py).
    (plan,) = [*one._event_plan, *two._event_plan]
    assert plan is not None
    assert len(one._relevant_sub_fields) == len(two._relevant_sub_fields) == 0  # graphql-core collected none


def test_a_query_whose_fields_depend_on_its_variables_answers_each_request_by_its_own():
    """Requests share a collection of fields only where no directive lets variables change it."""
    history = (
        "query ($userId: String!, $withSender: Boolean!, $withoutContent: Boolean!) "
        "{ messages(userId: $userId) { messages { content @skip(if: $withoutContent) "
        "senderId @include(if: $withSender) } } }"
    )
    with TestClient(create_app(make_settings())) as client:
        ann, bob = create_user(client, "ann"), create_user(client, "bob")
        send(client, ann, bob, "hello")
        answers = [
            gql(client, history, {"userId": bob, "withSender": sender, "withoutContent": skip})["data"]
            for sender, skip in ((True, False), (False, False), (True, True), (False, True))
        ]
    assert [answer["messages"]["messages"][0] for answer in answers] == [
        {"content": "hello", "senderId": ann},
        {"content": "hello"},
        {"senderId": ann},
        {},
    ]


def test_shared_collections_are_bounded_and_kept_per_operation():
    shared = execution.SharedCollections(size=2)
    operations = [
        parse("subscription ($id: String) { messages(userId: $id) { " + field + " } }").definitions[0]
        for field in ("content", "senderId", "recipientId")
    ]
    kept = shared.get(schema, operations[0], {})
    assert shared.get(schema, operations[0], {}) is kept
    assert shared.get(schema, operations[1], {}) is not kept
    shared.get(schema, operations[2], {})  # the oldest, the first, goes
    assert len(shared) == 2
    assert shared.get(schema, operations[0], {}) is not kept
    with_directive = parse('subscription ($no: Boolean!) { messages(userId: "1") { id @skip(if: $no) } }')
    assert shared.get(schema, with_directive.definitions[0], {}) is None
