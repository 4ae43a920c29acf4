"""The explorer pages and their files: served by the app itself, or from the CDN when not installed."""

from __future__ import annotations

import json
import logging
import re
import shutil

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from explorer import ASSETS, CDN, ExplorerAssets, Playground, explorer_routes
from tests.conftest import ROOT, require_explorer_assets

PAGES = {"/": "playground", "/graphiql": "graphiql"}


@pytest.fixture
def installed() -> None:
    require_explorer_assets()


def page(client, path: str) -> str:
    response = client.get(path, headers={"Accept": "text/html"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    return response.text


def sources(html: str) -> list[str]:
    return re.findall(r'(?:src|href)="([^"]+)"', html)


@pytest.mark.parametrize("path", PAGES)
def test_explorer_page_uses_only_files_the_server_serves(client, installed, path):
    urls = sources(page(client, path))
    assert urls and all(url.startswith("/explorer/") for url in urls), urls
    for url in urls:
        asset = ASSETS[url.removeprefix("/explorer/")]
        response = client.get(url)
        assert response.status_code == 200, url
        assert response.content == (ROOT / "node_modules" / asset.package / asset.path).read_bytes()


def test_playground_is_at_the_root_and_graphiql_speaks_graphql_transport_ws(client, installed):
    playground = page(client, "/")
    assert "GraphQLPlayground.init" in playground
    assert "/explorer/playground.js" in playground
    graphiql = page(client, "/graphiql")
    assert "/explorer/graphiql.js" in graphiql
    assert "/explorer/graphql-ws.js" in graphiql
    assert "wsClient: graphqlWs.createClient(" in graphiql


@pytest.mark.parametrize("name", ["nope.js", "app.py", "package.json", "react.js.map"])
def test_only_the_listed_explorer_files_are_served(client, name):
    assert client.get(f"/explorer/{name}").status_code == 404


@pytest.mark.parametrize(
    "path",
    ["/explorer/..%2Fapp.py", "/explorer/%2E%2E%2Fapp.py", "/explorer/../app.py"],
)
def test_no_path_reaches_the_server_files(client, path):
    assert "create_app" not in client.get(path).text


def test_without_installed_assets_pages_use_the_pinned_cdn_files_and_say_so_once(tmp_path, caplog):
    shutil.copy(ROOT / "package.json", tmp_path / "package.json")
    pins = json.loads((ROOT / "package.json").read_text())["dependencies"]
    caplog.set_level(logging.INFO, logger="chat.explorer")

    assets = ExplorerAssets(tmp_path)
    playground = Playground(assets, "Chat API")
    with TestClient(Starlette(routes=explorer_routes(assets, "Chat API"))) as client:
        graphiql = [page(client, "/graphiql") for _ in range(3)][-1]
        assert client.get("/explorer/graphiql.js").status_code == 404

    notices = [record for record in caplog.records if record.name == "chat.explorer"]
    assert len(notices) == 1
    assert notices[0].levelno == logging.WARNING
    assert "graphql-playground-react" in notices[0].getMessage()
    assert CDN in notices[0].getMessage()
    playground_js = f"{CDN}graphql-playground-react@{pins['graphql-playground-react']}/build/static/js/"
    assert playground_js + "middleware.js" in playground.html(None)
    assert f"{CDN}graphiql@{pins['graphiql']}/graphiql.min.js" in graphiql
    assert all(url.startswith(CDN) for url in assets.urls.values())
    assert {url.split("/npm/")[1].split("/")[0] for url in assets.urls.values()} == {
        f"{package}@{pins[package]}" for package in {asset.package for asset in ASSETS.values()}
    }


def test_installed_assets_are_served_without_a_notice(installed, caplog):
    caplog.set_level(logging.INFO, logger="chat.explorer")
    assets = ExplorerAssets()
    assert all(url.startswith("/explorer/") for url in assets.urls.values())
    assert [record for record in caplog.records if record.name == "chat.explorer"] == []
