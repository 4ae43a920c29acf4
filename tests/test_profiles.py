"""Profiles: displayName, bio, createdAt; updateProfile with its rules; the user query; both auth modes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.chat_api import ChatAPI, Person
from tests.conftest import ISO_UTC_MILLIS

MODES = ["open", "required"]
USER = "query ($id: String!) { user(userId: $id) { userId username displayName bio createdAt } }"
UPDATE_BOTH = """
mutation ($id: String!, $name: String, $bio: String) {
  updateProfile(userId: $id, displayName: $name, bio: $bio) { success errors user { displayName bio } }
}
"""
UPDATE_NAME = """
mutation ($id: String!, $name: String) {
  updateProfile(userId: $id, displayName: $name) { success errors user { displayName bio } }
}
"""


@pytest.fixture(params=MODES)
def api(request, live_with):
    server = live_with(auth_mode=request.param, max_display_name_length=12, max_bio_length=40)
    client = ChatAPI(server.url)
    client.mode = request.param
    yield client
    client.close()


def update(
    api: ChatAPI, person: Person, as_: Person | None = None, query: str = UPDATE_BOTH, **values
) -> dict:
    answer = api.call(query, {"id": person.user_id, **values}, as_=as_ or person)
    return answer["data"]["updateProfile"]


def profile(api: ChatAPI, user_id: str, as_: Person) -> dict | None:
    return api.call(USER, {"id": user_id}, as_=as_)["data"]["user"]


def test_a_new_user_has_an_empty_profile_and_a_creation_time(api):
    before = datetime.now(UTC) - timedelta(seconds=1)
    ann = api.sign_up("ann")
    user = profile(api, ann.user_id, as_=ann)
    assert {key: user[key] for key in ("userId", "username", "displayName", "bio")} == {
        "userId": ann.user_id,
        "username": "ann",
        "displayName": None,
        "bio": None,
    }
    assert ISO_UTC_MILLIS.fullmatch(user["createdAt"])
    created = datetime.fromisoformat(user["createdAt"].replace("Z", "+00:00"))
    assert before <= created <= datetime.now(UTC)
    assert profile(api, "99", as_=ann) is None


def test_a_user_sets_changes_and_clears_a_profile(api):
    ann, bob = api.sign_up("ann"), api.sign_up("bob")
    first = update(api, ann, name="  Ann  ", bio="Likes tea")
    assert first == {"success": True, "errors": None, "user": {"displayName": "Ann", "bio": "Likes tea"}}
    assert update(api, ann, query=UPDATE_NAME, name="Ann B.")["user"] == {
        "displayName": "Ann B.",
        "bio": "Likes tea",
    }, "an argument left out stays as it was"
    seen_by_bob = profile(api, ann.user_id, as_=bob)
    assert (seen_by_bob["displayName"], seen_by_bob["bio"]) == ("Ann B.", "Likes tea")
    cleared = update(api, ann, name="", bio=None)
    assert cleared["user"] == {"displayName": None, "bio": None}, "empty or null clears"
    composed = update(api, ann, name="Zoe\u0301")["user"]["displayName"]
    assert composed == "Zo\u00e9", "normalised to NFC, as usernames are"


@pytest.mark.parametrize(
    ("values", "errors"),
    [
        ({"name": "x" * 13}, ["Display name exceeds 12 characters"]),
        ({"bio": "y" * 41}, ["Bio exceeds 40 characters"]),
        ({"name": "Ann\u200b"}, ["Display name contains control or invisible characters"]),
        ({"bio": "line one\nline two"}, ["Bio contains control or invisible characters"]),
        (
            {"name": "x" * 13, "bio": "\u202eevil"},
            ["Display name exceeds 12 characters", "Bio contains control or invisible characters"],
        ),
    ],
)
def test_profile_limits_and_character_rules(api, values, errors):
    ann = api.sign_up("ann")
    assert update(api, ann, name="Ann", bio="Hi")["success"] is True
    refused = update(api, ann, **{"name": "Ann", "bio": "Hi", **values})
    assert refused == {"success": False, "errors": errors, "user": None}
    unchanged = profile(api, ann.user_id, as_=ann)
    assert (unchanged["displayName"], unchanged["bio"]) == ("Ann", "Hi"), "a refused update changes nothing"


def test_the_limits_are_exactly_the_settings(api):
    ann = api.sign_up("ann")
    assert update(api, ann, name="x" * 12, bio="y" * 40)["success"] is True


def test_updating_an_unknown_user_is_refused(api):
    ann = api.sign_up("ann")
    ghost = Person("99", ann.token)
    answer = update(api, ghost, as_=ann)
    if api.mode == "required":
        assert answer["errors"] == ["Forbidden"]
    else:
        assert answer == {"success": False, "errors": ["User not found"], "user": None}


def test_who_may_update_whose_profile(api):
    """Open mode: anyone acts as anyone, as in the tutorial. Required: only yourself."""
    ann, bob = api.sign_up("ann"), api.sign_up("bob")
    by_bob = update(api, ann, as_=bob, name="Hacked")
    if api.mode == "required":
        assert by_bob == {"success": False, "errors": ["Forbidden"], "user": None}
        assert profile(api, ann.user_id, as_=ann)["displayName"] is None
        anonymous = api.call(UPDATE_BOTH, {"id": ann.user_id, "name": "x"})
        assert [error["message"] for error in anonymous["errors"]] == ["Unauthenticated"]
        assert [error["message"] for error in api.call(USER, {"id": ann.user_id})["errors"]] == [
            "Unauthenticated"
        ]
    else:
        assert by_bob["success"] is True
        assert api.call(USER, {"id": ann.user_id})["data"]["user"]["displayName"] == "Hacked"


def test_the_tutorial_user_fields_are_unchanged(api):
    answer = api.call('mutation { createUser(username: "user_one") { success user { userId username } } }')
    created = {"success": True, "user": {"userId": "1", "username": "user_one"}}
    assert answer == {"data": {"createUser": created}}
