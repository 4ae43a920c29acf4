"""The chat's data in SQLite or PostgreSQL, through SQLAlchemy's async Core.

One implementation of the `store.Store` protocol for both databases.
Durability: a write returns only once its transaction is committed (SQLite in
WAL mode with `synchronous=FULL`, PostgreSQL's default commit). Ids come from
the database, so they stay unique across processes and hosts.

Order: a reader must never see message n + 1 without n. Every message insert
first takes one lock (PostgreSQL: a transaction-level advisory lock; SQLite:
`BEGIN IMMEDIATE`, its database-wide write lock), so ids are assigned and
committed in the same order, whatever the number of writers.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Select,
    String,
    Table,
    Text,
    TypeDecorator,
    delete,
    event,
    func,
    insert,
    select,
    union_all,
    update,
)
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from errors import DomainError, ServiceUnavailable
from store import PROFILE_FIELDS, Attachment, Message, MessagePage, User

logger = logging.getLogger("chat.store")

# The layout below is version 1. A change adds a function to MIGRATIONS that
# takes a version-n database to n + 1, and raises SCHEMA_VERSION.
SCHEMA_VERSION = 1
MIGRATIONS: dict[int, Callable[[AsyncConnection], Awaitable[None]]] = {}

# PostgreSQL advisory lock keys (any 64-bit numbers no other application of the database uses).
MESSAGE_ORDER_LOCK = 0x63686174_6D736773  # "chatmsgs": one message insert at a time
SCHEMA_LOCK = 0x63686174_73636D61  # "chatscma": one process creates or migrates the tables

# Seconds to wait for a new connection, for one PostgreSQL statement, and for SQLite's write lock.
CONNECT_TIMEOUT = 5.0
STATEMENT_TIMEOUT = 30.0
SQLITE_BUSY_TIMEOUT = 10.0
# Connection attempts while the database was last seen up (1 while it is known down, to fail fast).
CONNECT_ATTEMPTS = 4
FIRST_RETRY_DELAY = 0.05

# Execution option of SQLite connections that only read: they run without a transaction.
_READS = "chat_reads"
# At most this many ids in one `IN (...)` list (SQLite and asyncpg cap bound parameters).
_IN_CHUNK = 1000
# A user or message id in a row: the decimal form the API shows, within BIGINT.
_ROW_ID = re.compile(r"[1-9][0-9]{0,18}")
_LARGEST_ID = 2**63 - 1

# SQLite's INTEGER PRIMARY KEY is its rowid, which it numbers itself; BIGINT elsewhere.
RowId = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator):
    """A UTC time that comes back aware, also from SQLite, which keeps times without a zone."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        value = value.astimezone(UTC)
        return value if dialect.name == "postgresql" else value.replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


metadata = MetaData()

users = Table(
    "users",
    metadata,
    Column("id", RowId, primary_key=True, autoincrement=True),
    Column("username", String, nullable=False, unique=True),
    Column("token_hash", String(64)),  # SHA-256 of the current token's secret (auth.py)
    Column("created_at", UTCDateTime, nullable=False),
    # Profile: NULL until the user sets it (or after clearing it).
    Column("display_name", Text),
    Column("bio", Text),
)

# AUTOINCREMENT on SQLite: without it, deleting the newest message would let
# the next one take its id, which must stay a cursor for what came after it.
messages = Table(
    "messages",
    metadata,
    Column("id", RowId, primary_key=True, autoincrement=True),
    Column("sender_id", RowId, ForeignKey("users.id"), nullable=False),
    Column("recipient_id", RowId, ForeignKey("users.id"), nullable=False),
    Column("content", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Index("messages_by_recipient", "recipient_id", "id"),
    sqlite_autoincrement=True,
)

# Files' metadata (the bytes are in ATTACHMENTS_DIR), in the order they were sent.
attachments_table = Table(
    "attachments",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("message_id", RowId, ForeignKey("messages.id", ondelete="CASCADE"), nullable=False),
    Column("position", Integer, nullable=False),
    Column("filename", Text, nullable=False),
    Column("content_type", Text, nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("sha256", String(64), nullable=False),
    Index("attachments_by_message", "message_id", "position", unique=True),
)

# The ids of deleted messages: they stay valid cursors (see `store.Store`).
deleted_messages = Table(
    "deleted_messages",
    metadata,
    Column("id", RowId, primary_key=True, autoincrement=False),
)

# One row per party of a message (one for a message to oneself), so that a
# user's whole history, sent and received, is one range of the primary key.
user_messages = Table(
    "user_messages",
    metadata,
    Column("user_id", RowId, ForeignKey("users.id"), primary_key=True),
    Column("message_id", RowId, ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True),
)

schema_version = Table("schema_version", metadata, Column("version", Integer, nullable=False))

_MESSAGE_COLUMNS = (
    messages.c.id,
    messages.c.sender_id,
    messages.c.recipient_id,
    messages.c.content,
    messages.c.created_at,
)

_ATTACHMENT_COLUMNS = (
    attachments_table.c.id,
    attachments_table.c.filename,
    attachments_table.c.content_type,
    attachments_table.c.size,
    attachments_table.c.sha256,
    attachments_table.c.message_id,
)

_USER_COLUMNS = (users.c.id, users.c.username, users.c.created_at, users.c.display_name, users.c.bio)


class SchemaTooNew(RuntimeError):
    """The database was migrated by a newer version of the server; this one must not write to it."""


def database_url(url: str) -> URL:
    """The SQLAlchemy URL for DATABASE_URL, with the async driver filled in when omitted."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend in ("postgres", "postgresql"):
        return parsed.set(drivername="postgresql+asyncpg")
    if backend == "sqlite":
        if parsed.database in (None, "", ":memory:"):
            raise ValueError(
                "DATABASE_URL: an in-memory SQLite database is private to one connection; "
                "name a file (sqlite+aiosqlite:///chat.db) or leave DATABASE_URL unset for the memory store"
            )
        return parsed.set(drivername="sqlite+aiosqlite")
    raise ValueError(
        f"DATABASE_URL: unsupported database {backend!r}; "
        "use sqlite+aiosqlite:///path.db or postgresql+asyncpg://user:password@host/database"
    )


def _engines(url: URL) -> tuple[AsyncEngine, AsyncEngine]:
    """An engine for writing and one for reading (on SQLite, reads need no transaction)."""
    if url.get_backend_name() == "postgresql":
        # pre-ping: a connection the server dropped (restart, failover) is replaced, not used.
        engine = create_async_engine(
            url,
            pool_pre_ping=True,
            connect_args={"timeout": CONNECT_TIMEOUT, "command_timeout": STATEMENT_TIMEOUT},
        )
        return engine, engine
    engine = create_async_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT})

    @event.listens_for(engine.sync_engine, "connect")
    def configure_sqlite(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # the driver's own BEGIN would be deferred
        cursor = dbapi_connection.cursor()
        for pragma in ("journal_mode=WAL", "synchronous=FULL", "foreign_keys=ON"):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def begin_sqlite(connection: Any) -> None:
        # A writer takes the write lock at once: a deferred transaction that reads
        # first could not upgrade while another process writes, and would fail.
        # Each read is one statement, consistent on its own: no transaction.
        if not connection.get_execution_options().get(_READS):
            connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine, engine.execution_options(**{_READS: True})


def _row_id(user_id: str) -> int | None:
    """The row id an API id names, or None when no row can have it."""
    if _ROW_ID.fullmatch(user_id) and int(user_id) <= _LARGEST_ID:
        return int(user_id)
    return None


def _is_unavailable(error: BaseException) -> bool:
    """Whether an error means the database could not be reached (rather than a bad statement)."""
    if isinstance(error, DBAPIError):
        return error.connection_invalidated or isinstance(error, OperationalError | InterfaceError)
    return isinstance(error, OSError | TimeoutError | PoolTimeout)


def _utc_now() -> datetime:
    return datetime.now(UTC)


class SqlStore:
    """Users and messages in a SQL database shared by every process that names it."""

    def __init__(self, url: str, clock: Callable[[], datetime] = _utc_now) -> None:
        self.url = database_url(url)
        self._engine, self._reader = _engines(self.url)
        self._postgres = self.url.get_backend_name() == "postgresql"
        self._clock = clock
        self._schema_ready = False
        self._schema_lock = asyncio.Lock()
        self._reachable = True

    @property
    def description(self) -> str:
        """The database, without its password, for the log."""
        return self.url.render_as_string(hide_password=True)

    async def open(self) -> None:
        """Create or migrate the tables now if the database answers; else on first use."""
        try:
            async with self._transaction():
                pass
        except ServiceUnavailable:
            logger.warning("Starting without the database (%s); retrying on each request", self.description)

    async def close(self) -> None:
        await self._engine.dispose()
        self._schema_lock = asyncio.Lock()  # the next loop that opens the store gets its own

    async def ping(self) -> None:
        async with self._transaction(attempts=1) as connection:
            await connection.execute(select(1))

    async def create_user(self, username: str) -> User:
        created_at = self._clock()
        try:
            async with self._transaction(write=True) as connection:
                new_id = await connection.scalar(
                    insert(users).values(username=username, created_at=created_at).returning(users.c.id)
                )
        except IntegrityError:
            raise DomainError("Username is taken") from None
        return User(user_id=str(new_id), username=username, created_at=created_at)

    async def user_id(self, username: str) -> str | None:
        async with self._transaction() as connection:
            found = await connection.scalar(select(users.c.id).where(users.c.username == username))
        return None if found is None else str(found)

    async def get_user(self, user_id: str) -> User | None:
        row_id = _row_id(user_id)
        if row_id is None:
            return None
        async with self._transaction() as connection:
            row = (await connection.execute(select(*_USER_COLUMNS).where(users.c.id == row_id))).first()
        return None if row is None else _user(row)

    async def update_profile(self, user_id: str, changes: Mapping[str, str | None]) -> User:
        unknown = set(changes) - PROFILE_FIELDS
        if unknown:
            raise ValueError(f"Not profile fields: {sorted(unknown)}")
        row_id = _row_id(user_id)
        row = None
        if row_id is not None:
            async with self._transaction(write=True) as connection:
                statement = update(users).where(users.c.id == row_id).returning(*_USER_COLUMNS)
                if changes:
                    statement = statement.values(dict(changes))
                else:  # nothing to change: still one statement that says whether the user exists
                    statement = statement.values(username=users.c.username)
                row = (await connection.execute(statement)).first()
        if row is None:
            raise DomainError("User not found")
        return _user(row)

    async def token_hash(self, user_id: str) -> str | None:
        row_id = _row_id(user_id)
        if row_id is None:
            return None
        async with self._transaction() as connection:
            return await connection.scalar(select(users.c.token_hash).where(users.c.id == row_id))

    async def set_token_hash(self, user_id: str, token_hash: str) -> None:
        row_id = _row_id(user_id)
        if row_id is None:
            return
        async with self._transaction(write=True) as connection:
            await connection.execute(update(users).where(users.c.id == row_id).values(token_hash=token_hash))

    async def add_message(
        self, sender_id: str, recipient_id: str, content: str, attachments: Sequence[Attachment] = ()
    ) -> Message:
        sender, recipient = _row_id(sender_id), _row_id(recipient_id)
        async with self._transaction(write=True) as connection:
            if self._postgres:
                await connection.execute(select(func.pg_advisory_xact_lock(MESSAGE_ORDER_LOCK)))
            parties = {row_id for row_id in (sender, recipient) if row_id is not None}
            known = set((await connection.scalars(select(users.c.id).where(users.c.id.in_(parties)))).all())
            errors = []
            if sender not in known:
                errors.append("Sender not found")
            if recipient not in known:
                errors.append("Recipient not found")
            if errors:
                raise DomainError(*errors)
            created_at = self._clock()
            last = await connection.scalar(
                select(messages.c.created_at).order_by(messages.c.id.desc()).limit(1)
            )
            if last is not None and created_at < last:
                created_at = last  # the clock went back: times never decrease
            message_id = await connection.scalar(
                insert(messages)
                .values(sender_id=sender, recipient_id=recipient, content=content, created_at=created_at)
                .returning(messages.c.id)
            )
            await connection.execute(
                insert(user_messages),
                [{"user_id": party, "message_id": message_id} for party in sorted({sender, recipient})],
            )
            stored = tuple(replace(attachment, message_id=str(message_id)) for attachment in attachments)
            if stored:
                await connection.execute(
                    insert(attachments_table),
                    [_attachment_row(attachment, position) for position, attachment in enumerate(stored)],
                )
        return Message(str(message_id), sender_id, recipient_id, content, created_at, stored)

    async def get_message(self, message_id: int) -> Message | None:
        if not 0 < message_id <= _LARGEST_ID:
            return None
        async with self._transaction() as connection:
            result = await connection.execute(select(*_MESSAGE_COLUMNS).where(messages.c.id == message_id))
            found = await _with_attachments(connection, result)
        return found[0] if found else None

    async def delete_message(self, message_id: int) -> Message | None:
        if not 0 < message_id <= _LARGEST_ID:
            return None
        async with self._transaction(write=True) as connection:
            files = await _attachments_of(connection, [message_id])
            row = (
                await connection.execute(
                    delete(messages).where(messages.c.id == message_id).returning(*_MESSAGE_COLUMNS)
                )
            ).first()
            if row is None:
                return None  # never stored, or deleted already (perhaps by a concurrent request)
            await connection.execute(insert(deleted_messages).values(id=message_id))
        return _message(row, files.get(message_id, ()))

    async def get_attachment(self, attachment_id: str) -> Attachment | None:
        async with self._transaction() as connection:
            row = (
                await connection.execute(
                    select(*_ATTACHMENT_COLUMNS).where(attachments_table.c.id == attachment_id)
                )
            ).first()
        return None if row is None else _attachment(row)

    async def known_attachment_ids(self, attachment_ids: Sequence[str]) -> set[str]:
        known: set[str] = set()
        async with self._transaction() as connection:
            for start in range(0, len(attachment_ids), _IN_CHUNK):
                chunk = list(attachment_ids[start : start + _IN_CHUNK])
                found = await connection.scalars(
                    select(attachments_table.c.id).where(attachments_table.c.id.in_(chunk))
                )
                known.update(found.all())
        return known

    async def messages_for(
        self,
        user_id: str,
        after: int | None = None,
        before: int | None = None,
        limit: int | None = None,
    ) -> MessagePage:
        async with self._transaction() as connection:
            row_id = await self._known_user(connection, user_id)
            await self._check_cursor(connection, "after", after)
            await self._check_cursor(connection, "before", before)
            query = (
                select(*_MESSAGE_COLUMNS)
                .join_from(user_messages, messages, user_messages.c.message_id == messages.c.id)
                .where(user_messages.c.user_id == row_id)
            )
            return await _read_page(connection, query, user_messages.c.message_id, after, before, limit)

    async def messages_to(self, recipient_id: str, after: int, limit: int) -> MessagePage:
        async with self._transaction() as connection:
            row_id = await self._known_user(connection, recipient_id)
            await self._check_cursor(connection, "after", after)
            query = select(*_MESSAGE_COLUMNS).where(messages.c.recipient_id == row_id)
            return await _read_page(connection, query, messages.c.id, after, None, limit)

    async def messages_after(self, after: int, limit: int) -> MessagePage:
        async with self._transaction() as connection:
            return await _read_page(connection, select(*_MESSAGE_COLUMNS), messages.c.id, after, None, limit)

    async def newest_message_id(self) -> int:
        """The largest id issued, that of a deleted message included (as in the memory store)."""
        async with self._transaction() as connection:
            newest = union_all(
                select(func.max(messages.c.id).label("id")),
                select(func.max(deleted_messages.c.id).label("id")),
            ).subquery()
            return await connection.scalar(select(func.coalesce(func.max(newest.c.id), 0)))

    async def _known_user(self, connection: AsyncConnection, user_id: str) -> int:
        row_id = _row_id(user_id)
        if row_id is None or await connection.scalar(select(users.c.id).where(users.c.id == row_id)) is None:
            raise DomainError("User not found")
        return row_id

    @staticmethod
    async def _check_cursor(connection: AsyncConnection, argument: str, cursor: int | None) -> None:
        if cursor is None or cursor == 0:
            return
        found = 0 < cursor <= _LARGEST_ID and await connection.scalar(
            union_all(
                select(messages.c.id).where(messages.c.id == cursor),
                select(deleted_messages.c.id).where(deleted_messages.c.id == cursor),
            ).limit(1)
        )
        if not found:
            raise DomainError(f"{argument}: no message has id {cursor}")

    @asynccontextmanager
    async def _transaction(
        self, write: bool = False, attempts: int | None = None
    ) -> AsyncIterator[AsyncConnection]:
        """A connection in a transaction, committed when the block ends without an exception.

        A database that cannot be reached, or a connection lost on the way,
        raises ServiceUnavailable (after a few attempts to connect, spaced
        out, while the database was last seen up).
        """
        if not self._schema_ready:
            await self._prepare_schema(attempts)
        async with self._begin(self._engine if write else self._reader, attempts) as connection:
            yield connection

    @asynccontextmanager
    async def _begin(self, engine: AsyncEngine, attempts: int | None) -> AsyncIterator[AsyncConnection]:
        """`_transaction` without the schema check: connect, begin, and say when the database is away."""
        connection = await self._connect(engine, attempts)
        try:
            async with connection.begin():
                yield connection
        except Exception as error:
            if not _is_unavailable(error):
                raise
            raise self._unavailable(error) from error
        finally:
            await _release(connection)
        self._available()

    async def _connect(self, engine: AsyncEngine, attempts: int | None) -> AsyncConnection:
        if attempts is None:
            attempts = CONNECT_ATTEMPTS if self._reachable else 1
        delay = FIRST_RETRY_DELAY
        for attempt in range(1, attempts + 1):
            try:
                connection = await engine.connect()
            except Exception as error:  # refused, timed out, starting up, bad password: not reachable
                if attempt == attempts:
                    raise self._unavailable(error) from error
                await asyncio.sleep(delay)
                delay *= 4
                continue
            return connection
        raise AssertionError("unreachable")

    def _unavailable(self, error: BaseException) -> ServiceUnavailable:
        if self._reachable:
            self._reachable = False
            logger.warning("Database unavailable (%s): %s", self.description, _describe(error))
        return ServiceUnavailable()

    def _available(self) -> None:
        if not self._reachable:
            self._reachable = True
            logger.warning("Database available again (%s)", self.description)

    async def _prepare_schema(self, attempts: int | None) -> None:
        """Create the tables, or migrate them to SCHEMA_VERSION, once per process."""
        async with self._schema_lock:
            if self._schema_ready:
                return
            async with self._begin(self._engine, attempts) as connection:
                if self._postgres:
                    await connection.execute(select(func.pg_advisory_xact_lock(SCHEMA_LOCK)))
                await connection.run_sync(metadata.create_all)
                version = await connection.scalar(select(schema_version.c.version))
                if version is None:
                    await connection.execute(insert(schema_version).values(version=SCHEMA_VERSION))
                elif version > SCHEMA_VERSION:
                    raise SchemaTooNew(
                        f"The database {self.description} has schema version {version}; "
                        f"this server knows versions up to {SCHEMA_VERSION}: upgrade the server"
                    )
                else:
                    for step in range(version, SCHEMA_VERSION):
                        await MIGRATIONS[step](connection)
                    await connection.execute(update(schema_version).values(version=SCHEMA_VERSION))
            self._schema_ready = True


async def _read_page(
    connection: AsyncConnection,
    query: Select,
    key: Any,
    after: int | None,
    before: int | None,
    limit: int | None,
) -> MessagePage:
    """The page `Store.messages_for` describes, `key` being the id column the range is on."""
    if after is not None:
        query = query.where(key > after)
    if before is not None:
        query = query.where(key < before)
    if limit is None:
        return MessagePage(await _with_attachments(connection, await connection.execute(query.order_by(key))))
    if after is not None:
        rows = (await connection.execute(query.order_by(key).limit(limit + 1))).all()
        return MessagePage(await _with_attachments(connection, rows[:limit]), has_more=len(rows) > limit)
    rows = (await connection.execute(query.order_by(key.desc()).limit(limit + 1))).all()
    return MessagePage(await _with_attachments(connection, rows[:limit][::-1]), has_more=len(rows) > limit)


async def _release(connection: AsyncConnection) -> None:
    """Return a connection to the pool; one the database dropped is discarded."""
    try:
        await connection.close()
    except Exception as error:
        if not _is_unavailable(error):
            raise


async def _with_attachments(connection: AsyncConnection, rows: Any) -> list[Message]:
    """Messages from their rows, each with its attachments: one more query for them all."""
    rows = list(rows)
    files = await _attachments_of(connection, [row.id for row in rows])
    return [_message(row, files.get(row.id, ())) for row in rows]


async def _attachments_of(
    connection: AsyncConnection, message_ids: list[int]
) -> dict[int, tuple[Attachment, ...]]:
    """The attachments of these messages, in order, by message id (one query per 1,000 messages)."""
    found: dict[int, list[Attachment]] = {}
    for start in range(0, len(message_ids), _IN_CHUNK):
        chunk = message_ids[start : start + _IN_CHUNK]
        result = await connection.execute(
            select(*_ATTACHMENT_COLUMNS)
            .where(attachments_table.c.message_id.in_(chunk))
            .order_by(attachments_table.c.message_id, attachments_table.c.position)
        )
        for row in result:
            found.setdefault(row.message_id, []).append(_attachment(row))
    return {message_id: tuple(files) for message_id, files in found.items()}


def _message(row: Any, files: tuple[Attachment, ...]) -> Message:
    return Message(str(row.id), str(row.sender_id), str(row.recipient_id), row.content, row.created_at, files)


def _attachment(row: Any) -> Attachment:
    return Attachment(row.id, row.filename, row.content_type, row.size, row.sha256, str(row.message_id))


def _attachment_row(attachment: Attachment, position: int) -> dict[str, Any]:
    return {
        "id": attachment.id,
        "message_id": int(attachment.message_id or 0),
        "position": position,
        "filename": attachment.filename,
        "content_type": attachment.content_type,
        "size": attachment.size,
        "sha256": attachment.sha256,
    }


def _user(row: Any) -> User:
    return User(str(row.id), row.username, row.created_at, row.display_name, row.bio)


def _describe(error: BaseException) -> str:
    cause = error.orig if isinstance(error, DBAPIError) and error.orig is not None else error
    return f"{type(cause).__name__}: {cause}".strip()
