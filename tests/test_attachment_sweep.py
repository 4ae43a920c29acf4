"""No attachment file outlives its message: files a crash left behind are swept at start-up.

A crash between writing a file and storing its message, or between deleting a
message and removing its files, leaves a file no message names; with the
in-memory store every file is such an orphan after a restart. The next start
removes those older than `ATTACHMENT_SWEEP_GRACE` and nothing else.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import time
from pathlib import Path

import httpx
import pytest

from app import create_app
from sqlstore import SqlStore
from store import Attachment
from tests.chat_api import ChatAPI
from tests.conftest import STORES, ProcessServer, ThreadedServer, make_settings, run_closing

HOUR = 3600.0
PNG = b"\x89PNG\r\n\x1a\n" + os.urandom(5_000)
TEXT = b"left behind\n"
SWEPT = "Removed {} orphaned attachment file(s)"


def age(path: Path, seconds: float) -> Path:
    """Make the file look last written `seconds` ago."""
    then = time.time() - seconds
    os.utime(path, (then, then))
    return path


def orphan(directory: Path, seconds_old: float) -> Path:
    """A file named like an attachment that no message names, written `seconds_old` ago."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / secrets.token_hex(16)
    path.write_bytes(b"orphaned bytes")
    return age(path, seconds_old)


def not_attachments(directory: Path) -> list[Path]:
    """Old things in the directory that are not attachment files: the sweep must never touch them."""
    directory.mkdir(parents=True, exist_ok=True)
    others = [directory / "notes.txt", directory / ("A" * 32), directory / ("a" * 33), directory / ("b" * 31)]
    for path in others:
        path.write_bytes(b"not an attachment")
        age(path, 10 * HOUR)
    subdirectory = directory / secrets.token_hex(16)  # named like an id, but a directory
    subdirectory.mkdir()
    age(subdirectory, 10 * HOUR)
    return [*others, subdirectory]


def start_with_stored_file(directory: Path, **settings) -> tuple[ThreadedServer, Path]:
    """A server on the in-memory store that holds one message whose (old) file is on disk."""
    app = create_app(make_settings(attachments_dir=str(directory), **settings))
    store = app.state.store
    stored = Attachment(secrets.token_hex(16), "kept.txt", "text/plain", 5, "0" * 64)

    async def add_message() -> None:
        ann, bob = (await store.create_user("ann")).user_id, (await store.create_user("bob")).user_id
        await store.add_message(ann, bob, "a file", [stored])

    asyncio.run(add_message())
    path = directory / stored.id
    directory.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"kept!")
    age(path, 10 * HOUR)
    return ThreadedServer(app).start(), path


def test_the_in_memory_store_sweeps_old_orphans_at_start_and_keeps_everything_else(tmp_path, caplog):
    caplog.set_level("INFO", logger="chat")
    directory = tmp_path / "attachments"
    old, older = orphan(directory, 2 * HOUR), orphan(directory, 30 * 24 * HOUR)
    recent = orphan(directory, HOUR - 60)  # an upload another process may still be recording
    others = not_attachments(directory)
    server, stored = start_with_stored_file(directory)
    try:
        assert not old.exists() and not older.exists()
        assert recent.exists() and stored.exists()
        assert all(path.exists() for path in others)
        assert [r.levelname for r in caplog.records if SWEPT.format(2) in r.getMessage()] == ["INFO"]
    finally:
        server.stop()


def test_a_start_with_nothing_to_sweep_logs_nothing_and_a_missing_directory_is_fine(tmp_path, caplog):
    caplog.set_level("INFO", logger="chat")
    directory = tmp_path / "attachments"
    recent = orphan(directory, 60)
    first = ThreadedServer(create_app(make_settings(attachments_dir=str(directory)))).start()
    first.stop()
    missing = ThreadedServer(create_app(make_settings(attachments_dir=str(tmp_path / "absent")))).start()
    missing.stop()
    assert recent.exists()
    assert not [r for r in caplog.records if "orphaned" in r.getMessage()]


@pytest.mark.parametrize("grace", [0, -1])
def test_a_grace_of_zero_or_less_never_sweeps(tmp_path, grace):
    directory = tmp_path / "attachments"
    old = orphan(directory, 30 * 24 * HOUR)
    settings = make_settings(attachments_dir=str(directory), attachment_sweep_grace=grace)
    server = ThreadedServer(create_app(settings)).start()
    server.stop()
    assert old.exists()


def test_a_shorter_grace_sweeps_younger_orphans(tmp_path):
    directory = tmp_path / "attachments"
    ten_minutes, one_minute = orphan(directory, 600), orphan(directory, 60)
    server = ThreadedServer(
        create_app(make_settings(attachments_dir=str(directory), attachment_sweep_grace=300))
    ).start()
    server.stop()
    assert not ten_minutes.exists() and one_minute.exists()


def test_a_sweep_that_fails_is_a_warning_and_the_server_starts(tmp_path, caplog):
    caplog.set_level("INFO", logger="chat")
    not_a_directory = tmp_path / "attachments"
    not_a_directory.write_bytes(b"a file where the directory should be")
    server = ThreadedServer(create_app(make_settings(attachments_dir=str(not_a_directory)))).start()
    try:
        api = ChatAPI(server.url)
        assert api.sign_up("ann").user_id
        api.close()
    finally:
        server.stop()
    warnings = [r for r in caplog.records if "Could not sweep orphaned attachment files" in r.getMessage()]
    assert [r.levelname for r in warnings] == ["WARNING"]
    assert not_a_directory.read_bytes() == b"a file where the directory should be"


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_files_a_crash_left_behind_on_a_database_are_swept_when_uvicorn_restarts(request, tmp_path, kind):
    """SIGKILL after a deletion reached the database but before its files were removed, and
    after a file was written but before its message was stored: the next start removes both."""
    database_url = STORES[kind](request)
    directory = tmp_path / "attachments"
    env = {"DATABASE_URL": database_url, "ATTACHMENTS_DIR": str(directory)}
    first = ProcessServer(tmp_path / "first.log", env)
    try:
        api = ChatAPI(first.url)
        ann, bob = api.sign_up("ann"), api.sign_up("bob")
        kept = api.send_files(ann, bob, [("photo.png", PNG, "image/png")], "kept")["message"]
        doomed = api.send_files(ann, bob, [("notes.txt", TEXT, "text/plain")], "doomed")["message"]
        api.close()
    finally:
        first.kill()
    # The deletion's database half, as deleteMessage does it, without the file removal that follows.
    store = SqlStore(database_url)
    assert run_closing(store.delete_message(int(doomed["id"])), store) is not None
    never_stored = orphan(directory, 0)  # the write half of an upload whose message never was
    kept_file = directory / kept["attachments"][0]["id"]
    doomed_file = directory / doomed["attachments"][0]["id"]
    for path in (kept_file, doomed_file, never_stored):
        age(path, 2 * HOUR)
    recent = orphan(directory, 60)
    others = not_attachments(directory)
    assert doomed_file.exists()

    second = ProcessServer(tmp_path / "second.log", env)
    try:
        assert set(directory.iterdir()) == {kept_file, recent, *others}
        fetched = httpx.get(kept["attachments"][0]["url"].replace(f":{first.port}/", f":{second.port}/"))
        assert fetched.status_code == 200 and fetched.content == PNG
    finally:
        second.stop()
    assert SWEPT.format(2) in second.log


def test_files_of_the_in_memory_store_are_swept_once_a_restart_has_forgotten_their_messages(tmp_path):
    directory = tmp_path / "attachments"
    env = {"ATTACHMENTS_DIR": str(directory)}
    first = ProcessServer(tmp_path / "first.log", env)
    try:
        api = ChatAPI(first.url)
        ann, bob = api.sign_up("ann"), api.sign_up("bob")
        sent = api.send_files(ann, bob, [("photo.png", PNG, "image/png")], "forgotten")["message"]
        api.close()
    finally:
        first.stop()
    file = age(directory / sent["attachments"][0]["id"], 2 * HOUR)
    second = ProcessServer(tmp_path / "second.log", env)
    second.stop()
    assert not file.exists()
    assert SWEPT.format(1) in second.log
