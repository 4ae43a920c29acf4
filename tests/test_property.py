"""Generated operations, valid and invalid: always a well-formed answer, never a 500, data intact."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis_graphql import Mode, from_schema
from starlette.testclient import TestClient

from app import SCHEMA_PATH, create_app
from tests.conftest import create_user, gql, make_settings, send
from tests.operations import MESSAGES

SCHEMA = SCHEMA_PATH.read_text()


@pytest.fixture(scope="module")
def seeded():
    """One server for all examples, holding data that no operation may damage."""
    with TestClient(create_app(make_settings()), raise_server_exceptions=False) as client:
        create_user(client, "ann")
        create_user(client, "bob")
        for n in range(5):
            send(client, "1", "2", f"before {n}")
        yield client, gql(client, MESSAGES, {"userId": "2"})["data"]["messages"]["messages"]


def assert_well_formed(response) -> None:
    assert response.status_code in (200, 400, 413), (response.status_code, response.text)
    if response.headers["content-type"].startswith("application/json"):
        body = response.json()
        assert isinstance(body, dict) and body.keys() <= {"data", "errors", "extensions"} and body
        for error in body.get("errors", []):
            assert isinstance(error["message"], str) and error["message"]
            assert "Traceback" not in error["message"] and error["message"] != "Internal server error"
    else:
        assert response.text and "Traceback" not in response.text


def assert_history_intact(client, before) -> None:
    history = gql(client, MESSAGES, {"userId": "2"})["data"]["messages"]["messages"]
    assert history[: len(before)] == before


@pytest.mark.parametrize("mode", [Mode.POSITIVE, Mode.NEGATIVE], ids=["valid", "invalid"])
def test_generated_operations_get_well_formed_answers(seeded, mode, server_errors):
    client, before = seeded

    @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
    @given(operation=from_schema(SCHEMA, mode=mode))
    def check(operation):
        response = client.post("/", json={"query": operation})
        assert_well_formed(response)
        if mode is Mode.POSITIVE and response.status_code == 200:
            assert "data" in response.json()
        assert_history_intact(client, before)

    check()
    assert server_errors() == []
