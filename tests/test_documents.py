"""The document cache: a repeated operation is parsed and validated once, and the cache stays bounded."""

from __future__ import annotations

import pytest
from graphql import GraphQLError, parse, validate
from graphql.validation import NoDeprecatedCustomRule, ValidationRule, specified_rules
from starlette.testclient import TestClient

import documents
import limits
from app import create_app, schema
from documents import DocumentCache
from tests.conftest import create_user, gql, make_settings
from tests.legacy_ws import LegacyClient
from tests.operations import SUBSCRIBE, USER_ID


@pytest.fixture
def calls(monkeypatch):
    """Count graphql-core's parse and validate as the cache calls them."""
    counted = {"parse": 0, "validate": 0}

    def counting_parse(*args, **kwargs):
        counted["parse"] += 1
        return parse(*args, **kwargs)

    def counting_validate(*args, **kwargs):
        counted["validate"] += 1
        return validate(*args, **kwargs)

    monkeypatch.setattr(documents, "parse", counting_parse)
    monkeypatch.setattr(limits, "parse", counting_parse)  # the app's parser, with its size limits
    monkeypatch.setattr(documents, "validate", counting_validate)
    return counted


def test_a_repeated_operation_is_parsed_and_validated_once(client, calls):
    create_user(client, "user_one")
    before = dict(calls)
    for _ in range(5):
        assert gql(client, USER_ID) == {"data": {"userId": "1"}}
    assert calls["parse"] - before["parse"] == 1
    assert calls["validate"] - before["validate"] == 1


def test_websocket_operations_share_the_cache(client, calls):
    create_user(client, "ann")
    with LegacyClient(client) as ws:
        for n in range(3):
            ws.start(str(n), SUBSCRIBE, {"userId": "1"})
        ws.start("sync", USER_ID)
        ws.next_data("sync")
    parsed_subscribe = calls["parse"]
    with LegacyClient(client) as ws:
        ws.start("again", SUBSCRIBE, {"userId": "1"})
        ws.start("sync", USER_ID)
        ws.next_data("sync")
    assert calls["parse"] == parsed_subscribe


def test_the_cache_forgets_the_least_recently_used_beyond_its_size(calls):
    cache = DocumentCache(size=2)
    texts = [f'{{ {alias}: userId(username: "x") }}' for alias in "abc"]
    for text in texts:
        cache.parse(None, {"query": text})
    cache.parse(None, {"query": texts[2]})
    assert len(cache) == 2
    assert calls["parse"] == 3
    cache.parse(None, {"query": texts[0]})  # forgotten: parsed again
    assert calls["parse"] == 4


def test_an_operation_too_long_to_keep_is_parsed_each_time(calls):
    cache = DocumentCache(size=10)
    padding = " " * documents.MAX_CACHED_QUERY_LENGTH
    for _ in range(2):
        document = cache.parse(None, {"query": '{ userId(username: "x") }' + padding})
        assert cache.validate(schema, document, specified_rules) == []
    assert calls["parse"] == 2
    assert calls["validate"] == 2
    assert len(cache) == 0
    assert len(cache._validations) == 0


def test_validation_results_are_bounded_too():
    cache = DocumentCache(size=3)
    for n in range(10):
        document = cache.parse(None, {"query": f"{{ n{n}: userId(username: \"x\") }}"})
        assert cache.validate(schema, document, specified_rules) == []
    assert len(cache._validations) == 3


def test_validation_is_remembered_per_rules(calls):
    """Rules added later (limits, hardening) take part in the key: other rules, a new validation."""

    class NoUserIdRule(ValidationRule):
        def enter_field(self, node, *_):
            if node.name.value == "userId":
                self.report_error(GraphQLError("userId is not allowed here", node))

    cache = DocumentCache(size=10)
    document = cache.parse(None, {"query": '{ userId(username: "x") }'})
    assert cache.validate(schema, document, specified_rules) == []
    errors = cache.validate(schema, document, (*specified_rules, NoUserIdRule))
    assert [error.message for error in errors] == ["userId is not allowed here"]
    assert cache.validate(schema, document, (*specified_rules, NoDeprecatedCustomRule)) == []
    assert calls["validate"] == 3
    assert [e.message for e in cache.validate(schema, document, (*specified_rules, NoUserIdRule))] == [
        "userId is not allowed here"
    ]
    assert calls["validate"] == 3


def test_an_invalid_operation_answers_the_same_error_every_time(client):
    first = gql(client, "{ nope }", status=400)
    second = gql(client, "{ nope }", status=400)
    assert first == second
    assert first["errors"][0]["message"] == "Cannot query field 'nope' on type 'Query'."


def test_a_syntax_error_is_not_cached_and_answers_each_time(client, calls):
    for _ in range(2):
        body = gql(client, "{ userId(", status=400)
        assert body["errors"][0]["message"].startswith("Syntax Error")
    assert calls["parse"] == 2


def test_a_cache_size_of_zero_turns_the_cache_off(calls):
    with TestClient(create_app(make_settings(document_cache_size=0))) as client:
        for _ in range(3):
            assert gql(client, USER_ID) == {"data": {"userId": None}}
    assert calls["parse"] == 3
