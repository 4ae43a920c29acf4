"""The tutorial's subscription in real headless Chromium, in GraphQL Playground and in GraphiQL.

Screenshots of each page go to artifacts/screenshots/ (git-ignored).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import Browser, Page, Route, sync_playwright

from tests.conftest import ROOT, require, require_explorer_assets
from tests.operations import SEND_HELLO, SUBSCRIBE_USER_TWO

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
HELLO = {"data": {"messages": {"content": "Hello there", "senderId": "1", "recipientId": "2"}}}

# Runs in the page before its own scripts: remembers each WebSocket it opens,
# so the test can read which subprotocol the server agreed to.
RECORD_SOCKETS = """
window.openedSockets = [];
window.WebSocket = class extends window.WebSocket {
  constructor(...args) { super(...args); window.openedSockets.push(this); }
};
"""
# What the read-only editors (the result panes) show.
RESULT_PANES = """
() => Array.from(document.querySelectorAll(".CodeMirror"))
  .filter((element) => element.CodeMirror.getOption("readOnly"))
  .map((element) => element.CodeMirror.getValue())
"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    require(CHROMIUM.exists(), "Chromium", "apt-get install chromium")
    require_explorer_assets()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@dataclass
class Tab:
    """A browser page on the test server, with what it tried to reach beyond it and its errors."""

    page: Page
    server: Any
    outside_requests: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def type_into_editor(self, editor: str) -> None:
        """Replace the editor's text with the tutorial's subscription, typed as a user would."""
        self.page.locator(editor).first.click()
        self.page.keyboard.press("Control+A")
        self.page.keyboard.insert_text(SUBSCRIBE_USER_TWO.strip())
        typed = self.page.locator(editor).first.evaluate("element => element.CodeMirror.getValue()")
        assert typed == SUBSCRIBE_USER_TWO.strip()

    def wait_for_subscription(self, seconds: float = 15) -> None:
        hub = self.server.app.state.hub
        deadline = time.monotonic() + seconds
        while self.server.call(lambda: hub.count("2")) == 0:
            assert time.monotonic() < deadline, "the explorer never subscribed"
            time.sleep(0.05)

    def shows_hello(self, screenshot: str) -> None:
        """Send "Hello there" over HTTP; the result pane must show exactly that event."""
        sent = httpx.post(self.server.url, json={"query": SEND_HELLO}).json()
        assert sent["data"]["createMessage"]["success"] is True
        self.page.wait_for_function(f"() => ({RESULT_PANES})().some((text) => text.includes('Hello there'))")
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SCREENSHOTS / f"{screenshot}.png"))
        panes = [text for text in self.page.evaluate(RESULT_PANES) if "Hello there" in text]
        assert [json.loads(text) for text in panes] == [HELLO]

    def subprotocols(self) -> list[str]:
        return self.page.evaluate("() => window.openedSockets.map((socket) => socket.protocol)")


@pytest.fixture
def tab(browser: Browser, live, live_users) -> Iterator[Tab]:
    """A fresh page that may reach the test server only; users 1 and 2 exist."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    tab = Tab(context.new_page(), live)
    tab.page.add_init_script(RECORD_SOCKETS)

    def only_the_server(route: Route) -> None:
        if urlsplit(route.request.url).netloc == f"127.0.0.1:{live.port}":
            route.continue_()
        else:
            tab.outside_requests.append(route.request.url)
            route.abort()

    tab.page.route("**/*", only_the_server)
    tab.page.on("pageerror", lambda error: tab.errors.append(str(error)))
    yield tab
    context.close()


def test_playground_at_root_shows_a_message_sent_to_the_subscribed_user(tab, live):
    tab.page.goto(live.url)
    tab.type_into_editor(".CodeMirror")
    tab.page.keyboard.press("Control+Enter")
    tab.wait_for_subscription()
    tab.shows_hello("playground")

    assert tab.subprotocols() == ["graphql-ws"]
    assert tab.outside_requests == []
    assert tab.errors == []


def test_graphiql_shows_a_message_sent_to_the_subscribed_user(tab, live):
    tab.page.goto(live.url + "graphiql")
    tab.type_into_editor(".graphiql-query-editor .CodeMirror")
    # GraphiQL picks the transport from the parsed document; it has parsed
    # the new text once it has saved it.
    tab.page.wait_for_function(
        "query => localStorage.getItem('graphiql:query') === query", arg=SUBSCRIBE_USER_TWO.strip()
    )
    tab.page.click(".graphiql-execute-button")
    tab.wait_for_subscription()
    tab.shows_hello("graphiql")

    assert tab.subprotocols() == ["graphql-transport-ws"]
    assert tab.outside_requests == []
    assert tab.errors == []
