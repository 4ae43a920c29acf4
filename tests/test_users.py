"""createUser and userId: ids in order, unique names, and each naming rule."""

import pytest

from tests.conftest import create_user, gql
from tests.operations import CREATE_USER


def create(client, username):
    return gql(client, CREATE_USER, {"username": username})["data"]["createUser"]


def user_id(client, username):
    return gql(client, "query ($u: String!) { userId(username: $u) }", {"u": username})["data"]["userId"]


def test_ids_are_given_in_order_of_creation(client):
    assert [create_user(client, name) for name in ("ann", "bob", "cy")] == ["1", "2", "3"]


def test_usernames_are_trimmed(client):
    result = create(client, "  ann \t")
    assert result["user"] == {"userId": "1", "username": "ann"}
    assert user_id(client, " ann ") == "1"
    assert create(client, "ann")["errors"] == ["Username is taken"]


@pytest.mark.parametrize(
    ("username", "error"),
    [
        ("", "Username is empty"),
        ("   ", "Username is empty"),
        ("x" * 65, "Username exceeds 64 characters"),
        ("bell\x07", "Username contains control or invisible characters"),
        ("del\x7f", "Username contains control or invisible characters"),
        ("tab\tin", "Username contains control or invisible characters"),
        ("Zo\x85ë", "Username contains control or invisible characters"),
        ("zero\u200bwidth", "Username contains control or invisible characters"),
        ("rtl\u202emark", "Username contains control or invisible characters"),
    ],
)
def test_bad_usernames_are_refused_with_the_rule(client, username, error):
    result = create(client, username)
    assert result == {"success": False, "errors": [error], "user": None}
    assert create_user(client, "valid") == "1", "a refused name must not use up an id"


@pytest.mark.parametrize("username", ["ann lee", "Zoë", "名前", "o'brien-2~"])
def test_names_with_spaces_punctuation_and_letters_beyond_ascii_are_accepted(client, username):
    assert create(client, username)["success"] is True


def test_longest_username_is_accepted(client):
    assert create(client, "x" * 64)["success"] is True


def test_user_id_of_unknown_name_is_null(client):
    create_user(client, "ann")
    assert user_id(client, "nobody") is None
    assert user_id(client, "") is None
