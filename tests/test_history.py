"""messages(userId, after, before, limit): pages of history over HTTP, ids, times and bad cursors."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from starlette.testclient import TestClient

from app import create_app
from settings import Settings
from tests.conftest import ISO_UTC_MILLIS, create_user, gql, make_settings, send
from tests.operations import HISTORY_PAGE, MESSAGES, MESSAGES_USER_TWO

NOT_AN_ID = '{}: "{}" is not a message id (ids are "1", "2", ...; "0" is the start)'


def page(client, user_id="1", **arguments) -> dict:
    return gql(client, HISTORY_PAGE, {"userId": user_id, **arguments})["data"]["messages"]


@pytest.fixture
def history(client) -> list[dict]:
    """30 messages among ann, bob and cy; returns the 24 in which ann (1) takes part."""
    ann, bob, cy = (create_user(client, name) for name in ("ann", "bob", "cy"))
    for n in range(30):
        sender, recipient = [(ann, bob), (bob, ann), (bob, cy), (ann, ann), (cy, ann)][n % 5]
        assert send(client, sender, recipient, f"m{n}")["success"]
    whole = page(client, ann)
    assert whole["success"] and whole["hasMore"] is False
    assert len(whole["messages"]) == 24
    return whole["messages"]


def test_ids_increase_and_created_at_is_iso_utc_with_milliseconds(client, history):
    ids = [int(message["id"]) for message in history]
    assert ids == sorted(set(ids))
    stamps = [message["createdAt"] for message in history]
    assert all(ISO_UTC_MILLIS.fullmatch(stamp) for stamp in stamps), stamps[:3]
    moments = [datetime.fromisoformat(stamp) for stamp in stamps]
    assert all(moment.utcoffset() == timedelta(0) for moment in moments)
    assert moments == sorted(moments)
    assert abs(datetime.now(moments[0].tzinfo) - moments[-1]) < timedelta(minutes=1)


def test_created_message_carries_its_id_and_time(client, history):
    created = gql(
        client,
        'mutation { createMessage(senderId: "2", recipientId: "1", content: "new") '
        "{ message { id createdAt } } }",
    )["data"]["createMessage"]["message"]
    assert int(created["id"]) > int(history[-1]["id"])
    assert created["createdAt"] >= history[-1]["createdAt"]
    assert page(client, "1", after=history[-1]["id"])["messages"][0]["id"] == created["id"]


def test_tutorial_query_still_returns_everything_oldest_first(history):
    """Without the new arguments the answer is the whole history, however long, as in the tutorial."""
    with TestClient(create_app(make_settings(max_page_size=5))) as client:
        for name in ("user_one", "user_two"):
            create_user(client, name)
        for n in range(12):
            send(client, "1", "2", f"hello {n}")
        answer = gql(client, MESSAGES_USER_TWO)["data"]["messages"]
        assert answer["success"] is True
        assert [m["content"] for m in answer["messages"]] == [f"hello {n}" for n in range(12)]
        assert set(answer["messages"][0]) == {"content", "senderId", "recipientId"}


@pytest.mark.parametrize("limit", [1, 5, 7, 24, 500])
def test_forward_pages_from_the_start_walk_the_whole_history(client, history, limit):
    walked, cursor = [], "0"
    for _ in range(len(history) + 1):
        answer = page(client, after=cursor, limit=limit)
        assert answer["success"] and 0 < len(answer["messages"]) <= limit
        walked += answer["messages"]
        if not answer["hasMore"]:
            break
        cursor = answer["messages"][-1]["id"]
    assert walked == history


@pytest.mark.parametrize("limit", [1, 5, 7, 24, 500])
def test_backward_pages_from_the_newest_walk_the_whole_history(client, history, limit):
    answer = page(client, limit=limit)
    assert answer["messages"] == history[-limit:]
    walked = answer["messages"]
    for _ in range(len(history)):
        if not answer["hasMore"]:
            break
        answer = page(client, before=walked[0]["id"], limit=limit)
        assert answer["success"] and 0 < len(answer["messages"]) <= limit
        walked = answer["messages"] + walked
    assert walked == history


def test_both_cursors_bound_a_window(client, history):
    answer = page(client, after=history[3]["id"], before=history[9]["id"])
    assert answer["messages"] == history[4:9] and answer["hasMore"] is False


def test_the_page_size_is_capped_by_a_setting():
    with TestClient(create_app(make_settings(max_page_size=5))) as client:
        create_user(client, "ann")
        for n in range(12):
            send(client, "1", "1", f"note {n}")
        asked_too_much = page(client, after="0", limit=100)
        assert len(asked_too_much["messages"]) == 5 and asked_too_much["hasMore"] is True
        no_limit = page(client, after="0")
        assert [m["content"] for m in no_limit["messages"]] == [f"note {n}" for n in range(5)]
        newest = page(client, before="12")
        assert [m["content"] for m in newest["messages"]] == [f"note {n}" for n in range(6, 11)]


def test_default_cap_is_500():
    assert Settings().max_page_size == 500
    assert Settings.from_env({"MAX_PAGE_SIZE": "50"}).max_page_size == 50


@pytest.mark.parametrize(
    ("arguments", "errors"),
    [
        ({"after": "999"}, ["after: no message has id 999"]),
        ({"before": "31"}, ["before: no message has id 31"]),
        ({"after": "abc"}, [NOT_AN_ID.format("after", "abc")]),
        ({"before": "-1"}, [NOT_AN_ID.format("before", "-1")]),
        ({"after": "1.5"}, [NOT_AN_ID.format("after", "1.5")]),
        ({"after": " 3"}, [NOT_AN_ID.format("after", " 3")]),
        ({"after": "9" * 30}, [NOT_AN_ID.format("after", "9" * 30)]),
        ({"after": "3", "limit": 0}, ["limit must be at least 1"]),
        ({"limit": -5}, ["limit must be at least 1"]),
        (
            {"after": "x", "before": "y", "limit": 0},
            [
                NOT_AN_ID.format("after", "x"),
                NOT_AN_ID.format("before", "y"),
                "limit must be at least 1",
            ],
        ),
    ],
)
def test_bad_cursors_and_limits_are_refused_with_a_clear_error(client, history, arguments, errors):
    refused = {"success": False, "errors": errors, "hasMore": None, "messages": None}
    assert page(client, **arguments) == refused


def test_an_integer_cursor_is_accepted_as_an_id(client, history):
    """GraphQL's ID accepts 7 as well as "7"."""
    answer = gql(client, 'query { messages(userId: "1", after: 7, limit: 2) { messages { id } } }')
    assert [m["id"] for m in answer["data"]["messages"]["messages"]] == [
        m["id"] for m in history if int(m["id"]) > 7
    ][:2]


def test_a_cursor_of_the_wrong_graphql_type_is_a_graphql_error(client, history):
    answer = gql(client, 'query { messages(userId: "1", after: 1.5) { success } }', status=400)
    assert "ID cannot represent" in answer["errors"][0]["message"]


def test_a_page_of_an_unknown_user_is_an_error(client, history):
    assert page(client, "99", after="0") == {
        "success": False,
        "errors": ["User not found"],
        "hasMore": None,
        "messages": None,
    }


def test_an_unpaged_history_never_has_more(client, history):
    answer = gql(client, MESSAGES.replace("success", "success hasMore"), {"userId": "2"})["data"]["messages"]
    assert answer["hasMore"] is False and len(answer["messages"]) == 18
