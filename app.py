"""The ASGI application: wires settings, store, hub, schema and handlers.

`uvicorn app:app` serves it; tests call `create_app()` for a fresh server.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path
from typing import Any

from ariadne import load_schema_from_path, make_executable_schema
from ariadne.asgi import GraphQL
from ariadne.explorer import ExplorerGraphiQL, ExplorerPlayground
from graphql import Executor
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Mount, Route

from documents import DocumentCache
from errors import GraphQLErrorLogger
from execution import use_subscription_executor
from http_handler import FastHTTPHandler, FastPathApp
from mutations import mutation
from queries import query
from settings import Settings
from store import MemoryStore
from subscriptions import Hub, subscription
from websocket import LEGACY_WS, TRANSPORT_WS, LegacyWSHandler, NegotiatingWSHandler, TransportWSHandler

SCHEMA_PATH = Path(__file__).with_name("schema.graphql")

schema = make_executable_schema(
    load_schema_from_path(str(SCHEMA_PATH)),
    query,
    mutation,
    subscription,
    convert_names_case=True,
)


def configure_logging(settings: Settings) -> None:
    """Give the server's own loggers a handler and level, once per process."""
    chat_logger = logging.getLogger("chat")
    chat_logger.setLevel(settings.log_level.upper())
    if not chat_logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(levelname)s:     %(name)s: %(message)s"))
        chat_logger.addHandler(handler)


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or Settings.from_env()
    configure_logging(settings)
    use_subscription_executor()
    store = MemoryStore()
    hub = Hub(settings.subscription_queue_size)
    documents = DocumentCache(settings.document_cache_size)

    def context_value(request: Any, _data: Any) -> dict[str, Any]:
        return {"request": request, "store": store, "hub": hub, "settings": settings}

    websocket_handler = NegotiatingWSHandler(
        (
            TRANSPORT_WS,
            TransportWSHandler(
                connection_init_wait_timeout=timedelta(seconds=settings.connection_init_timeout)
            ),
        ),
        (LEGACY_WS, LegacyWSHandler(keepalive=settings.keepalive_interval or None)),
    )
    graphql = GraphQL(
        schema,
        context_value=context_value,
        query_parser=documents.parse,
        query_validator=documents.validate,
        debug=settings.debug,
        explorer=ExplorerPlayground(title="Chat API"),
        logger=GraphQLErrorLogger(logging.getLogger("chat.graphql"), {}),
        # The schema has no @defer/@stream: the plain executor skips incremental bookkeeping.
        execution_context_class=Executor,
        http_handler=FastHTTPHandler(),
        websocket_handler=websocket_handler,
    )
    graphiql_html = ExplorerGraphiQL(title="Chat API", subscription_url="/").html(None)

    async def graphiql(_: Request) -> HTMLResponse:
        return HTMLResponse(graphiql_html)

    app = FastPathApp(
        routes=[Route("/graphiql", graphiql), Mount("/", graphql)],
        graphql_path="/",
        graphql_handler=graphql.http_handler,
    )
    app.state.settings = settings
    app.state.store = store
    app.state.hub = hub
    app.state.documents = documents
    return app


app = create_app()
