"""What only the SQL store has: DATABASE_URL forms, tables created at start-up, schema versions."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import inspect, select, update

import sqlstore
from sqlstore import SchemaTooNew, SqlStore, database_url, schema_version
from tests.conftest import STORES, run_closing

SQL_KINDS = ["sqlite", "postgresql"]


@pytest.mark.parametrize(
    ("given", "used"),
    [
        ("sqlite+aiosqlite:///chat.db", "sqlite+aiosqlite:///chat.db"),
        ("sqlite:///chat.db", "sqlite+aiosqlite:///chat.db"),
        ("postgresql://chat:secret@db:5432/chat", "postgresql+asyncpg://chat:***@db:5432/chat"),
        ("postgres://chat@db/chat", "postgresql+asyncpg://chat@db/chat"),
        ("postgresql+asyncpg://chat@db/chat", "postgresql+asyncpg://chat@db/chat"),
    ],
)
def test_database_urls_get_their_async_driver(given, used):
    assert database_url(given).render_as_string(hide_password=True) == used


@pytest.mark.parametrize(
    ("given", "problem"),
    [
        ("mysql://chat@db/chat", "unsupported database 'mysql'"),
        ("sqlite://", "in-memory SQLite database"),
        ("sqlite:///:memory:", "in-memory SQLite database"),
    ],
)
def test_unsupported_database_urls_are_refused_with_the_reason(given, problem):
    with pytest.raises(ValueError, match=problem):
        database_url(given)


async def versions(store: SqlStore) -> list[int]:
    async with store._transaction() as connection:
        return list((await connection.scalars(select(schema_version.c.version))).all())


@pytest.mark.parametrize("kind", SQL_KINDS)
def test_processes_starting_together_create_the_tables_once_and_record_the_version(request, kind):
    """Four stores open one empty database at once, as four workers starting would."""
    url = STORES[kind](request)
    stores = [SqlStore(url) for _ in range(4)]

    async def scenario():
        await asyncio.gather(*(store.open() for store in stores))
        ann = await stores[0].create_user("ann")
        assert await stores[3].get_user(ann.user_id) == ann
        return await versions(stores[1])

    assert run_closing(scenario(), *stores) == [sqlstore.SCHEMA_VERSION]


@pytest.mark.parametrize("kind", SQL_KINDS)
def test_a_database_migrated_by_a_newer_server_is_refused(request, kind):
    url = STORES[kind](request)
    first, second = SqlStore(url), SqlStore(url)

    async def scenario():
        await first.open()
        async with first._transaction(write=True) as connection:
            await connection.execute(update(schema_version).values(version=sqlstore.SCHEMA_VERSION + 1))
        with pytest.raises(SchemaTooNew, match="upgrade the server"):
            await second.open()

    run_closing(scenario(), first, second)


@pytest.mark.parametrize("kind", SQL_KINDS)
def test_an_older_schema_is_migrated_step_by_step_at_start_up(request, kind, monkeypatch):
    """A later version adds a migration: the next server to start runs it, once, and records the version."""
    url = STORES[kind](request)
    old, new = SqlStore(url), SqlStore(url)
    steps = []

    async def add_a_column(connection):
        steps.append("1 to 2")
        await connection.exec_driver_sql("ALTER TABLE users ADD COLUMN karma INTEGER")

    async def scenario():
        await old.open()
        await old.create_user("ann")
        monkeypatch.setattr(sqlstore, "SCHEMA_VERSION", 2)
        monkeypatch.setitem(sqlstore.MIGRATIONS, 1, add_a_column)
        await new.open()
        assert await new.user_id("ann") is not None, "the data stays"
        async with new._transaction() as connection:
            found = await connection.run_sync(lambda sync: inspect(sync).get_columns("users"))
            columns = [column["name"] for column in found]
        return await versions(new), columns

    recorded, columns = run_closing(scenario(), old, new)
    assert recorded == [2] and steps == ["1 to 2"] and "karma" in columns
