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
    # Parsed and validated operations kept for reuse, least recently used forgotten first (0: off).
    document_cache_size: int = 1000

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
