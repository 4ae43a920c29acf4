"""Server settings, read once from the environment.

Every knob the server has lives here with its default; the README lists them.
`create_app()` reads `Settings.from_env()` unless a test passes its own.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields


@dataclass(frozen=True, slots=True)
class Settings:
    # Ariadne's debug mode: error responses carry tracebacks. Never in production.
    debug: bool = False
    # Level of the server's own log lines (DEBUG, INFO, WARNING, ERROR).
    log_level: str = "INFO"
    # Longest message content accepted by createMessage, in characters.
    max_content_length: int = 4096
    # Longest username accepted by createUser, in characters (after trimming).
    max_username_length: int = 64
    # Undelivered messages a subscription may hold before it is ended as too slow.
    subscription_queue_size: int = 1000
    # Seconds between keep-alive `ka` frames on the legacy graphql-ws protocol (0: off).
    keepalive_interval: float = 12.0
    # Seconds a graphql-transport-ws client has to send `connection_init`.
    connection_init_timeout: float = 3.0
    # Most messages in one page of history (`messages(after/before/limit)`) and in
    # one store read of a resuming subscription's replay.
    max_page_size: int = 500
    # Largest HTTP request body, in bytes; larger gets 413 before it is parsed.
    max_body_size: int = 1024 * 1024
    # Longest query text, in characters, and most lexical tokens (and comments) in it.
    max_query_length: int = 65536
    max_query_tokens: int = 2000
    # Deepest nesting of fields in an operation (introspection fields excepted).
    max_query_depth: int = 10
    # Most aliased fields in one document.
    max_aliases: int = 30
    # Most top-level fields in one operation.
    max_root_fields: int = 20
    # Largest WebSocket message from a client, in bytes; larger closes with 1009.
    max_ws_message_size: int = 64 * 1024
    # Most active subscriptions on one WebSocket connection.
    max_subscriptions_per_connection: int = 100
    # Most open WebSocket connections from one client address (0: no limit).
    max_connections_per_client: int = 0
    # `open`: anyone may act as anyone (the tutorial); `required`: bearer tokens.
    auth_mode: str = "open"
    # Directory where attachment files are kept, each under a random name.
    attachments_dir: str = "./attachments"
    # Largest attachment, in bytes, and most attachments on one message.
    max_attachment_size: int = 10 * 1024 * 1024
    max_attachments_per_message: int = 5
    # Content types an attachment may have, comma-separated.
    allowed_attachment_types: str = "image/png,image/jpeg,image/gif,image/webp,application/pdf,text/plain"
    # At start-up, remove attachment files no stored message names once they are this many
    # seconds old (younger ones may be uploads another process has yet to record); 0: never.
    attachment_sweep_grace: float = 3600.0
    # Longest display name and bio in a profile, in characters (after trimming).
    max_display_name_length: int = 64
    max_bio_length: int = 500
    # Parsed and validated operations kept for reuse, least recently used forgotten first (0: off).
    document_cache_size: int = 1000
    # Where users and messages live: empty for the in-memory store, else
    # sqlite+aiosqlite:///chat.db or postgresql+asyncpg://user:password@host/database.
    database_url: str = ""
    # Redis for fan-out between processes (redis://host:6379/0); empty: in-process only.
    redis_url: str = ""
    # The Redis pub/sub channel; deployments sharing one Redis server need different ones.
    redis_channel: str = "chat:messages"
    # Once started, leave the objects alive then (modules, schema, loaded data) out of the
    # garbage collector's passes (`gc.freeze()`): its full passes, which stall every
    # connection, then scan only what came later. Process-wide: off where servers share one.
    freeze_startup_objects: bool = True

    def __post_init__(self) -> None:
        if self.auth_mode not in ("open", "required"):
            raise ValueError(f"Setting AUTH_MODE={self.auth_mode!r} must be 'open' or 'required'")
        if not self.attachment_types:
            raise ValueError("Setting ALLOWED_ATTACHMENT_TYPES must name at least one content type")
        if not 0 < self.max_attachment_size < 2**31:
            # `Attachment.size` is a GraphQL Int: 32 bits.
            raise ValueError("Setting MAX_ATTACHMENT_SIZE must be between 1 and 2147483647 bytes")

    @property
    def attachment_types(self) -> frozenset[str]:
        """The allowed attachment content types, lower-cased."""
        return frozenset(
            kind.strip().lower() for kind in self.allowed_attachment_types.split(",") if kind.strip()
        )

    @property
    def max_multipart_body_size(self) -> int:
        """Largest upload request: every file at its largest, plus the ordinary body allowance
        for the operation, the map and the parts' headers."""
        return self.max_attachments_per_message * self.max_attachment_size + self.max_body_size

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Build settings from upper-case environment variables named after the fields."""
        environ = os.environ if environ is None else environ
        values = {}
        for field in fields(cls):
            raw = environ.get(field.name.upper())
            if raw is None or raw == "":
                continue
            values[field.name] = _parse(field.name, field.type, raw)
        return cls(**values)


def _parse(name: str, kind: str, raw: str) -> object:
    try:
        if kind == "bool":
            if raw.lower() in ("1", "true", "yes", "on"):
                return True
            if raw.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError(raw)
        if kind == "int":
            return int(raw)
        if kind == "float":
            return float(raw)
        return raw
    except ValueError:
        raise ValueError(f"Setting {name.upper()}={raw!r} is not a valid {kind}") from None
