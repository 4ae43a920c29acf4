"""The ASGI application: wires settings, store, hub, schema and handlers.

`uvicorn app:app` serves it; tests call `create_app()` for a fresh server.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any

from ariadne import load_schema_from_path, make_executable_schema
from ariadne.asgi import GraphQL
from starlette.applications import Starlette
from starlette.routing import Mount

from attachments import AttachmentFiles, attachment_routes, sweep_orphaned_files, upload
from auth import CONNECTION_VIEWER, VIEWER_UNKNOWN, bearer_token, connection_authenticator, user_for_token
from connections import Connections
from documents import DocumentCache
from errors import GraphQLErrorLogger, ServiceUnavailable, format_error
from execution import RequestExecutor, use_subscription_executor
from explorer import ExplorerAssets, Playground, explorer_routes
from health import healthz_route
from http_handler import FastHTTPHandler, FastPathApp, header
from limits import BodySizeLimit, query_parser, validation_rules
from mutations import mutation
from objects import attachment, message, user
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
    user,
    attachment,
    upload,
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
    hub = Hub(
        settings.subscription_queue_size,
        fanout.broadcast if fanout else None,
        fanout.broadcast_deletion if fanout else None,
    )
    connections = Connections(settings.max_connections_per_client)
    attachment_files = AttachmentFiles(settings.attachments_dir)
    documents = DocumentCache(settings.document_cache_size, query_parser(settings))

    def context_value(request: Any, _data: Any) -> dict[str, Any] | Awaitable[dict[str, Any]]:
        """The resolvers' context; awaitable only when a token must be looked up (Ariadne awaits it)."""
        context = {
            "request": request,
            "store": store,
            "hub": hub,
            "settings": settings,
            "viewer": None,
            "attachments": attachment_files,
        }
        scope = request.scope
        if scope["type"] == "websocket":
            context["viewer"] = scope.get(CONNECTION_VIEWER)
            return context
        token = bearer_token(header(scope, b"authorization"))
        if token is None:  # an anonymous caller: nothing to look up
            return context
        return with_viewer(context, token, request.client.host if request.client else "?")

    async def with_viewer(context: dict[str, Any], token: str, source: str) -> dict[str, Any]:
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
        query_parser=documents.parse,
        query_validator=documents.validate,
        validation_rules=validation_rules(settings),
        execute_get_queries=True,
        debug=settings.debug,
        explorer=Playground(explorer_assets, title="Chat API"),
        logger=GraphQLErrorLogger(logging.getLogger("chat.graphql"), {}),
        error_formatter=format_error,
        # The schema has no @defer/@stream: the plain executor skips incremental bookkeeping.
        execution_context_class=RequestExecutor,
        http_handler=FastHTTPHandler(),
        websocket_handler=websocket_handler,
    )

    async def sweep_at_start_up() -> None:
        """Remove files left by a crash (see attachments.py); a failure is logged, never fatal."""
        try:
            await sweep_orphaned_files(attachment_files, store, settings.attachment_sweep_grace)
        except Exception as error:
            logging.getLogger("chat.attachments").warning(
                "Could not sweep orphaned attachment files from %s: %s", settings.attachments_dir, error
            )

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        await store.open()
        await sweep_at_start_up()
        if fanout is not None:
            await fanout.start(hub.publish, hub.publish_deletion)
        connections.close_all_on_shutdown_signals()
        if settings.freeze_startup_objects:
            gc.collect()
            gc.freeze()
        yield
        await connections.wait_closed()
        if fanout is not None:
            await fanout.close()
        await store.close()

    health_checks = {"database": store.ping, **({"redis": fanout.ping} if fanout else {})}
    app = FastPathApp(
        routes=[
            healthz_route(health_checks),
            *explorer_routes(explorer_assets, title="Chat API"),
            *attachment_routes(store, attachment_files, settings),
            Mount("/", graphql),
        ],
        graphql_path="/",
        graphql_handler=graphql.http_handler,
        body_limit=partial(
            BodySizeLimit,
            max_body_size=settings.max_body_size,
            max_multipart_size=settings.max_multipart_body_size,
        ),
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.store = store
    app.state.hub = hub
    app.state.fanout = fanout
    app.state.connections = connections
    app.state.attachments = attachment_files
    app.state.documents = documents
    return app


app = create_app()
