"""The ASGI application: wires settings, store, hub, schema and handlers.

`uvicorn app:app` serves it; tests call `create_app()` for a fresh server.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

from ariadne import load_schema_from_path, make_executable_schema
from ariadne.asgi import GraphQL
from ariadne.asgi.handlers import GraphQLHTTPHandler
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount

from auth import CONNECTION_VIEWER, VIEWER_UNKNOWN, bearer_token, connection_authenticator, user_for_token
from connections import Connections
from errors import GraphQLErrorLogger, ServiceUnavailable, format_error
from explorer import ExplorerAssets, Playground, explorer_routes
from health import healthz_route
from limits import BodySizeLimit, query_parser, validation_rules
from mutations import mutation
from objects import message
from queries import query
from redis_fanout import RedisFanout
from settings import Settings
from sqlstore import SqlStore
from store import MemoryStore, Store
from subscriptions import Hub, subscription
from websocket import LEGACY_WS, TRANSPORT_WS, LegacyWSHandler, NegotiatingWSHandler, TransportWSHandler

SCHEMA_PATH = Path(__file__).with_name("schema.graphql")

schema = make_executable_schema(
    load_schema_from_path(str(SCHEMA_PATH)),
    query,
    mutation,
    subscription,
    message,
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


class HTTPHandler(GraphQLHTTPHandler):
    """Ariadne's HTTP handler, answering in valid UTF-8 even when input had lone surrogates."""

    async def create_json_response(self, request: Request, result: dict, success: bool) -> Response:
        try:
            return await super().create_json_response(request, result, success)
        except UnicodeEncodeError:
            status = 200 if success or result.get("data") is not None else 400
            return Response(json.dumps(result), status_code=status, media_type="application/json")


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or Settings.from_env()
    configure_logging(settings)
    store: Store = SqlStore(settings.database_url) if settings.database_url else MemoryStore()
    fanout = (
        RedisFanout(settings.redis_url, settings.redis_channel, store, settings.max_page_size)
        if settings.redis_url
        else None
    )
    if fanout is not None and not settings.database_url:
        logging.getLogger("chat").warning(
            "REDIS_URL without DATABASE_URL: each process has its own in-memory store, "
            "so run one process only, or set DATABASE_URL"
        )
    hub = Hub(settings.subscription_queue_size, fanout.broadcast if fanout else None)
    connections = Connections(settings.max_connections_per_client)

    async def context_value(request: Any, _data: Any) -> dict[str, Any]:
        context = {"request": request, "store": store, "hub": hub, "settings": settings, "viewer": None}
        if request.scope["type"] == "websocket":
            context["viewer"] = request.scope.get(CONNECTION_VIEWER)
            return context
        token = bearer_token(request.headers.get("authorization"))
        source = request.client.host if request.client else "?"
        try:
            context["viewer"] = await user_for_token(store, token, source)
        except ServiceUnavailable as unavailable:
            context[VIEWER_UNKNOWN] = unavailable  # raised by the first resolver that asks who calls
        return context

    on_connect = connection_authenticator(store, settings.auth_mode)
    websocket_handler = NegotiatingWSHandler(
        (
            TRANSPORT_WS,
            TransportWSHandler(
                on_connect=on_connect,
                connection_init_wait_timeout=timedelta(seconds=settings.connection_init_timeout),
            ),
        ),
        (LEGACY_WS, LegacyWSHandler(on_connect=on_connect, keepalive=settings.keepalive_interval or None)),
        connections=connections,
        max_message_size=settings.max_ws_message_size,
    )
    explorer_assets = ExplorerAssets()
    graphql = GraphQL(
        schema,
        context_value=context_value,
        query_parser=query_parser(settings),
        validation_rules=validation_rules(settings),
        execute_get_queries=True,
        debug=settings.debug,
        explorer=Playground(explorer_assets, title="Chat API"),
        logger=GraphQLErrorLogger(logging.getLogger("chat.graphql"), {}),
        error_formatter=format_error,
        http_handler=HTTPHandler(),
        websocket_handler=websocket_handler,
    )
    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        await store.open()
        if fanout is not None:
            await fanout.start(hub.publish)
        connections.close_all_on_shutdown_signals()
        yield
        await connections.wait_closed()
        if fanout is not None:
            await fanout.close()
        await store.close()

    health_checks = {"database": store.ping, **({"redis": fanout.ping} if fanout else {})}
    app = Starlette(
        routes=[
            healthz_route(health_checks),
            *explorer_routes(explorer_assets, title="Chat API"),
            Mount("/", graphql),
        ],
        middleware=[Middleware(BodySizeLimit, max_body_size=settings.max_body_size)],
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.store = store
    app.state.hub = hub
    app.state.fanout = fanout
    app.state.connections = connections
    return app


app = create_app()
