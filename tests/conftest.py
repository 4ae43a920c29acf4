"""Fixtures: a fresh app per test, in-process clients, and real uvicorn servers."""

from __future__ import annotations

import asyncio
import atexit
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.testclient import TestClient

from app import create_app
from explorer import ASSETS
from settings import Settings
from sqlstore import SqlStore
from store import MemoryStore
from tests.operations import CREATE_USER, CREATE_USER_ONE, CREATE_USER_TWO, SEND
from tests.servers import (
    POSTGRES_HOW_TO,
    REDIS_HOW_TO,
    PostgresServer,
    RedisServer,
    free_port,
    postgres_bin,
    redis_server_binary,
)

ROOT = Path(__file__).resolve().parent.parent

# A message's createdAt: ISO 8601, UTC, milliseconds.
ISO_UTC_MILLIS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


# Every server the tests start, in this process or as a subprocess (which inherits the environment),
# keeps its files here unless a test names its own directory: never in ./attachments, where a
# developer's own server keeps its files and which each server sweeps of orphans when it starts.
TEST_ATTACHMENTS_DIR = tempfile.mkdtemp(prefix="chat-tests-attachments-")
os.environ["ATTACHMENTS_DIR"] = TEST_ATTACHMENTS_DIR
atexit.register(shutil.rmtree, TEST_ATTACHMENTS_DIR, ignore_errors=True)


def make_settings(**overrides: Any) -> Settings:
    """Settings for a server in the test process, which many servers share (so nothing process-wide)."""
    return Settings(**{"freeze_startup_objects": False, "attachments_dir": TEST_ATTACHMENTS_DIR, **overrides})


@pytest.fixture
def app():
    return create_app(make_settings())


def sqlite_url(request: pytest.FixtureRequest) -> str:
    return f"sqlite+aiosqlite:///{request.getfixturevalue('tmp_path') / 'chat.db'}"


def postgres_url(request: pytest.FixtureRequest) -> str:
    return request.getfixturevalue("postgres_database")


# The stores every store-level test runs against: each kind's fresh, empty database.
STORES: dict[str, Callable[[pytest.FixtureRequest], str | None]] = {
    "memory": lambda _: None,
    "sqlite": sqlite_url,
    "postgresql": postgres_url,
}


@pytest.fixture(params=sorted(STORES))
def new_store(request) -> Callable[..., Any]:
    """Make stores of one kind (`new_store(clock=...)`), on one fresh database.

    A SQL store's connections belong to the event loop that made them: run
    each test's coroutine with `run_closing(coroutine, *stores)`.
    """
    url = STORES[request.param](request)

    def make(**options: Any) -> MemoryStore | SqlStore:
        return MemoryStore(**options) if url is None else SqlStore(url, **options)

    return make


@pytest.fixture
def store(new_store):
    """A fresh, empty store of each kind."""
    return new_store()


def run_closing(coroutine: Coroutine[Any, Any, Any], *stores: Any) -> Any:
    """Run a store test in a new event loop, then close the stores' connections in that loop."""

    async def main() -> Any:
        try:
            return await coroutine
        finally:
            for each in stores:
                await each.close()

    return asyncio.run(main())


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One PostgreSQL server for the session; each test gets its own database (`postgres_database`)."""
    require(postgres_bin() is not None, "PostgreSQL", POSTGRES_HOW_TO)
    server = PostgresServer().start()
    yield server
    server.remove()


@pytest.fixture
def postgres_database(postgres_server: PostgresServer) -> Iterator[str]:
    """The URL of a new, empty database, dropped after the test."""
    name = postgres_server.create_database()
    yield postgres_server.url(name)
    postgres_server.drop_database(name)


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """One Redis server for the session; each test uses its own channel (`redis_channel`)."""
    require(redis_server_binary() is not None, "Redis", REDIS_HOW_TO)
    server = RedisServer().start()
    yield server
    server.remove()


@pytest.fixture
def redis_channel(request: pytest.FixtureRequest) -> str:
    return f"chat-test:{os.getpid()}:{request.node.nodeid}"


@pytest.fixture
def client(app) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        yield test_client


def gql(client: TestClient, query: str, variables: dict | None = None, status: int = 200) -> dict:
    """POST a GraphQL operation and return the whole JSON response."""
    response = client.post("/", json={"query": query, "variables": variables or {}})
    assert response.status_code == status, response.text
    return response.json()


def create_user(client: TestClient, username: str) -> str:
    result = gql(client, CREATE_USER, {"username": username})["data"]["createUser"]
    assert result["success"], result
    return result["user"]["userId"]


def send(client: TestClient, sender: str, recipient: str, content: str) -> dict:
    return gql(client, SEND, {"from": sender, "to": recipient, "content": content})["data"]["createMessage"]


def wait_for_port(host: str, port: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex((host, port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on {host}:{port}")


class ThreadedServer:
    """A real uvicorn server on 127.0.0.1, run in a thread so tests can inspect its app."""

    def __init__(self, app: Any, **config: Any) -> None:
        self.app = app
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.ws_url = f"ws://127.0.0.1:{self.port}/"
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, log_config=None, lifespan="on", **config)
        )
        self.loop: asyncio.AbstractEventLoop | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        self.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self.server.serve())

    def start(self) -> ThreadedServer:
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        return self

    def call(self, fn: Callable[[], Any]) -> Any:
        """Run `fn` on the server's event loop and return its result."""
        assert self.loop is not None

        async def run() -> Any:
            return fn()

        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(timeout=10)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture
def live(app) -> Iterator[ThreadedServer]:
    server = ThreadedServer(app).start()
    yield server
    server.stop()


@pytest.fixture
def live_users(live: ThreadedServer) -> None:
    """The tutorial's two users (ids "1" and "2") on the `live` server, created over HTTP."""
    for operation in (CREATE_USER_ONE, CREATE_USER_TWO):
        assert httpx.post(live.url, json={"query": operation}).json()["data"]["createUser"]["success"]


@pytest.fixture
def live_with() -> Iterator[Callable[..., ThreadedServer]]:
    """Start real uvicorn servers on fresh apps with these settings; all stopped at the end."""
    servers: list[ThreadedServer] = []

    def start(**overrides: Any) -> ThreadedServer:
        server = ThreadedServer(create_app(make_settings(**overrides))).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def require(available: bool, what: str, how_to_install: str) -> None:
    """Skip a test whose tool is missing on a developer machine; fail it in CI (CI=true)."""
    if available:
        return
    message = f"Missing {what}: {how_to_install}"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{message} (CI must run every test; .ci/run installs it)")
    pytest.skip(message)


def require_node_packages(*packages: str) -> str:
    """The `node` executable, once it and these npm packages are installed."""
    node = shutil.which("node")
    require(node is not None, "Node.js", "apt-get install nodejs npm, then run `make`")
    require_npm_packages(*packages)
    assert node is not None
    return node


def require_npm_packages(*packages: str) -> None:
    missing = [name for name in packages if not (ROOT / "node_modules" / name / "package.json").is_file()]
    require(not missing, f"npm packages {', '.join(missing)}", "install npm, then run `make` (runs `npm ci`)")


def require_explorer_assets() -> None:
    require_npm_packages(*sorted({asset.package for asset in ASSETS.values()}))


class ProcessServer:
    """`uvicorn app:app` as users start it, in a subprocess, its log kept in a file."""

    def __init__(self, log_path: Path, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.ws_url = f"ws://127.0.0.1:{self.port}/"
        self.log_path = log_path
        self._log = open(log_path, "w")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "app:app", "--host", "127.0.0.1", "--port", str(self.port)],
            cwd=ROOT,
            env={**os.environ, **(env or {})},
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_for_port("127.0.0.1", self.port)
        except TimeoutError:
            self.stop()
            raise

    @property
    def log(self) -> str:
        return self.log_path.read_text()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()

    def kill(self) -> None:
        """SIGKILL: the process ends at once, with no shutdown of any kind."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()
        self._log.close()


@pytest.fixture
def uvicorn_process(tmp_path: Path) -> Iterator[ProcessServer]:
    server = ProcessServer(tmp_path / "server.log")
    yield server
    server.stop()


@pytest.fixture
def server_errors(caplog: pytest.LogCaptureFixture) -> Callable[[], list[str]]:
    """Log lines at ERROR or above, or with a traceback, seen so far in this test."""
    caplog.set_level("INFO")

    def errors() -> list[str]:
        return [
            record.getMessage()
            for record in caplog.records
            if record.levelno >= 40 or record.exc_info or "Traceback" in record.getMessage()
        ]

    return errors
