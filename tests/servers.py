"""Real PostgreSQL and Redis servers from Debian's packages, on 127.0.0.1, in temporary directories.

Nothing here is a stand-in: the tests start `postgres` (after `initdb`) and
`redis-server` as a deployment would, and stop them afterwards. PostgreSQL
refuses to run as root, so as root its processes run as the `postgres` user
that Debian's package creates.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import asyncpg

POSTGRES_HOW_TO = "apt-get install postgresql (the tests start their own server; .ci/run installs it)"
REDIS_HOW_TO = "apt-get install redis-server (the tests start their own server; .ci/run installs it)"


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def postgres_bin() -> Path | None:
    """The newest installed PostgreSQL's bin directory (Debian: /usr/lib/postgresql/<version>/bin)."""
    found = [
        path.parent
        for path in Path("/usr/lib/postgresql").glob("*/bin/postgres")
        if (path.parent / "initdb").is_file() and path.parent.parent.name.isdigit()
    ]
    return max(found, key=lambda bin_dir: int(bin_dir.parent.name), default=None)


def redis_server_binary() -> str | None:
    return shutil.which("redis-server") or (
        "/usr/bin/redis-server" if Path("/usr/bin/redis-server").is_file() else None
    )


def _wait(ready: Any, what: str, process: subprocess.Popen, log: Path, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}:\n{log.read_text()[-2000:]}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} did not start within {timeout} s:\n{log.read_text()[-2000:]}")
        time.sleep(0.05)


class _ServerProcess:
    """A server process under a temporary root directory; `remove()` stops it and deletes the root."""

    root: Path
    process: subprocess.Popen | None
    # How the server is asked to stop, and how long it has before it is killed.
    stop_signal = signal.SIGTERM
    stop_timeout = 10

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(self.stop_signal)
            try:
                self.process.wait(timeout=self.stop_timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


class PostgresServer(_ServerProcess):
    """A PostgreSQL cluster of its own: `initdb` into a temporary directory, `postgres` on a free port."""

    # SIGINT is PostgreSQL's fast shutdown: clients are disconnected, the data is kept.
    stop_signal = signal.SIGINT
    stop_timeout = 30

    def __init__(self) -> None:
        bin_dir = postgres_bin()
        assert bin_dir is not None, POSTGRES_HOW_TO
        self.bin_dir = bin_dir
        self.root = Path(tempfile.mkdtemp(prefix="chat-postgres-"))
        self.data = self.root / "data"
        self.log_path = self.root / "postgres.log"
        self.port = free_port()
        self.process: subprocess.Popen | None = None
        self._names = itertools.count(1)
        # As root, run as the `postgres` user (initdb refuses root), in a directory it owns.
        self._as: dict[str, Any] = {}
        if os.geteuid() == 0:
            account = pwd.getpwnam("postgres")
            os.chown(self.root, account.pw_uid, account.pw_gid)
            self._as = {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}
        subprocess.run(
            [self.bin_dir / "initdb", "-D", self.data, "-U", "postgres", "--auth=trust", "-E", "UTF8",
             "--no-instructions", "--no-sync"],
            check=True, capture_output=True, cwd=self.root, **self._as,
        )  # fmt: skip

    def start(self) -> PostgresServer:
        with open(self.log_path, "a") as log:
            self.process = subprocess.Popen(
                [self.bin_dir / "postgres", "-D", self.data, "-p", str(self.port), "-k", self.root,
                 "-c", "listen_addresses=127.0.0.1", "-c", "max_connections=200"],
                stdout=log, stderr=subprocess.STDOUT, cwd=self.root, **self._as,
            )  # fmt: skip
        _wait(self._accepting, "postgres", self.process, self.log_path)
        return self

    def _accepting(self) -> bool:
        check = [self.bin_dir / "pg_isready", "-q", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres"]
        return subprocess.run(check, check=False).returncode == 0

    def url(self, database: str, driver: str = "postgresql+asyncpg") -> str:
        return f"{driver}://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self) -> str:
        name = f"chat_{os.getpid()}_{next(self._names)}"
        self._admin(f'CREATE DATABASE "{name}"')
        return name

    def drop_database(self, name: str) -> None:
        self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def _admin(self, statement: str) -> None:
        async def run() -> None:
            connection = await asyncpg.connect(self.url("postgres", driver="postgresql"))
            try:
                await connection.execute(statement)
            finally:
                await connection.close()

        asyncio.run(run())


class RedisServer(_ServerProcess):
    """`redis-server` on a free port, without persistence (pub/sub needs none)."""

    def __init__(self) -> None:
        binary = redis_server_binary()
        assert binary is not None, REDIS_HOW_TO
        self.binary = binary
        self.root = Path(tempfile.mkdtemp(prefix="chat-redis-"))
        self.log_path = self.root / "redis.log"
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> RedisServer:
        with open(self.log_path, "a") as log:
            self.process = subprocess.Popen(
                [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                 "--appendonly", "no", "--dir", str(self.root)],
                stdout=log, stderr=subprocess.STDOUT, cwd=self.root,
            )  # fmt: skip
        _wait(self._answers, "redis-server", self.process, self.log_path)
        return self

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

