"""The in-browser explorers: GraphQL Playground at `/`, GraphiQL at `/graphiql`.

Their JavaScript and CSS are npm packages pinned in package.json and
installed into node_modules/ (`make` runs `npm ci`); the server serves those
files itself, so both pages work offline and behind firewalls. Where a file
is not installed, the page loads the same pinned version from a public CDN
instead, and the log says so once.
"""

from __future__ import annotations

import html
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ariadne.explorer import Explorer
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, PlainTextResponse, Response
from starlette.routing import Route

logger = logging.getLogger("chat.explorer")

ROOT = Path(__file__).resolve().parent
ASSETS_PATH = "/explorer/"
CDN = "https://cdn.jsdelivr.net/npm/"


@dataclass(frozen=True, slots=True)
class Asset:
    """One browser-ready file shipped by an npm package."""

    package: str
    path: str


# Each explorer's files, by the name the server serves them under.
ASSETS = {
    "playground.css": Asset("graphql-playground-react", "build/static/css/index.css"),
    "playground.js": Asset("graphql-playground-react", "build/static/js/middleware.js"),
    "playground-favicon.png": Asset("graphql-playground-react", "build/favicon.png"),
    "playground-logo.png": Asset("graphql-playground-react", "build/logo.png"),
    "graphiql.css": Asset("graphiql", "graphiql.min.css"),
    "graphiql.js": Asset("graphiql", "graphiql.min.js"),
    "react.js": Asset("react", "umd/react.production.min.js"),
    "react-dom.js": Asset("react-dom", "umd/react-dom.production.min.js"),
    "graphql-ws.js": Asset("graphql-ws", "umd/graphql-ws.min.js"),
}


class ExplorerAssets:
    """Where each explorer file comes from: node_modules/ if installed, else the CDN."""

    def __init__(self, root: Path = ROOT) -> None:
        pins = json.loads((root / "package.json").read_text())["dependencies"]
        self.files: dict[str, Path] = {}
        self.urls: dict[str, str] = {}
        missing: set[str] = set()
        for name, asset in ASSETS.items():
            file = root / "node_modules" / asset.package / asset.path
            if file.is_file():
                self.files[name] = file
                self.urls[name] = ASSETS_PATH + name
            else:
                missing.add(asset.package)
                self.urls[name] = f"{CDN}{asset.package}@{pins[asset.package]}/{asset.path}"
        if missing:
            logger.warning(
                "Explorer assets not installed (%s): the explorer pages load them from %s; "
                "run `make` with npm installed to serve them locally",
                ", ".join(sorted(missing)),
                CDN,
            )

    async def serve(self, request: Request) -> Response:
        file = self.files.get(request.path_params["name"])
        if file is None:
            return PlainTextResponse("Not found", status_code=404)
        return FileResponse(file)


PLAYGROUND_PAGE = """<!DOCTYPE html>
<html>
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="user-scalable=no, initial-scale=1.0, minimum-scale=1.0, maximum-scale=1.0">
  <title>{title}</title>
  <link rel="stylesheet" href="{url[playground.css]}">
  <link rel="shortcut icon" href="{url[playground-favicon.png]}">
  <script src="{url[playground.js]}"></script>
</head>
<body>
  <div id="root">
    <!-- Inside #root, so that the Playground replaces it when it starts. -->
    <style>
      body {{ background-color: rgb(23, 42, 58); font-family: Open Sans, sans-serif; height: 90vh; }}
      #root {{ height: 100%; width: 100%; display: flex; align-items: center; justify-content: center; }}
      .loading {{ font-size: 32px; font-weight: 200; color: rgba(255, 255, 255, .6); margin-left: 20px; }}
      img {{ width: 78px; height: 78px; }}
    </style>
    <img src="{url[playground-logo.png]}" alt="">
    <div class="loading">Loading {title}</div>
  </div>
  <script>
    window.addEventListener("load", function () {{
      GraphQLPlayground.init(document.getElementById("root"), {{}});
    }});
  </script>
</body>
</html>
"""

# GraphiQL's UMD build on React 18's; subscriptions go over graphql-transport-ws
# through the graphql-ws browser client.
GRAPHIQL_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1.0">
  <title>{title}</title>
  <style>body {{ margin: 0; }} #graphiql {{ height: 100vh; }}</style>
  <link rel="stylesheet" href="{url[graphiql.css]}">
  <script src="{url[react.js]}"></script>
  <script src="{url[react-dom.js]}"></script>
  <script src="{url[graphql-ws.js]}"></script>
  <script src="{url[graphiql.js]}"></script>
</head>
<body>
  <div id="graphiql">Loading {title}</div>
  <script>
    const endpoint = new URL("/", window.location.href);
    const subscriptions = new URL(endpoint);
    subscriptions.protocol = endpoint.protocol === "https:" ? "wss:" : "ws:";
    const fetcher = GraphiQL.createFetcher({{
      url: endpoint.href,
      wsClient: graphqlWs.createClient({{ url: subscriptions.href }}),
    }});
    ReactDOM.createRoot(document.getElementById("graphiql")).render(
      React.createElement(GraphiQL, {{ fetcher, defaultEditorToolsVisibility: true }}),
    );
  </script>
</body>
</html>
"""


def render(page: str, assets: ExplorerAssets, title: str) -> str:
    urls = {name: html.escape(url) for name, url in assets.urls.items()}
    return page.format(title=html.escape(title), url=urls)


class Playground(Explorer):
    """GraphQL Playground, the tutorial's explorer, for Ariadne's `GET /`."""

    def __init__(self, assets: ExplorerAssets, title: str) -> None:
        self.page = render(PLAYGROUND_PAGE, assets, title)

    def html(self, request: Any) -> str:
        return self.page


def explorer_routes(assets: ExplorerAssets, title: str) -> list[Route]:
    """`GET /graphiql` and the explorers' files."""
    graphiql_page = render(GRAPHIQL_PAGE, assets, title)

    async def graphiql(_: Request) -> HTMLResponse:
        return HTMLResponse(graphiql_page)

    return [
        Route("/graphiql", graphiql),
        Route(ASSETS_PATH + "{name}", assets.serve),
    ]
