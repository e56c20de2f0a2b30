"""Fixture plugin: a throwaway MariaDB server on 127.0.0.1, one per test session.

`mariadb_server` starts Debian's mariadbd on a free port with its data directory
and socket in a temporary folder, creates an application user with a random
password, and stops the server by its PID at the end. `MariaDBServer.restart`
stops and starts the same server on the same data directory and port, for
tests of a database outage. `mariadb_url` gives each
test a fresh utf8mb4 database and drops it afterwards. `start_mariadb` is also
used by bench/bench_streams.py.
"""

from __future__ import annotations

import logging
import secrets
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Sequence

import pytest

from tests.services.availability import free_port, require_binary

logger = logging.getLogger(__name__)

APP_USER = "course"
DATABASE_PREFIX = "course_"
START_TIMEOUT = 60.0
STOP_TIMEOUT = 60.0


class MariaDBStartError(RuntimeError):
    """mariadb-install-db or mariadbd failed; the message carries the end of the server log."""


@dataclass
class MariaDBServer:
    """A running mariadbd: where it listens and how to reach it as root (socket) or as the app user (TCP)."""

    workdir: Path
    port: int
    password: str
    process: subprocess.Popen
    client: str
    log_path: Path
    databases: set[str] = field(default_factory=set)
    # What starts this server again: the mariadbd command line and the mariadb-admin path.
    command: list[str] = field(default_factory=list)
    admin_binary: str = ""

    @property
    def socket(self) -> Path:
        return self.workdir / "mysqld.sock"

    def admin(self, sql: str) -> str:
        """Run ``sql`` as root over the Unix socket and return the tab-separated output."""
        completed = subprocess.run(
            [self.client, "--no-defaults", f"--socket={self.socket}", "--user=root", "--batch", "--skip-column-names", "-e", sql],
            capture_output=True,
            text=True,
            timeout=60,
        )
        if completed.returncode != 0:
            raise RuntimeError(f"mariadb client failed ({completed.returncode}) on {sql!r}: {completed.stderr.strip()}")
        return completed.stdout

    def url(self, database: str) -> str:
        """Return the SQLAlchemy URL of ``database`` for the app user over TCP."""
        return f"mysql+pymysql://{APP_USER}:{self.password}@127.0.0.1:{self.port}/{database}?charset=utf8mb4"

    def create_database(self, name: str | None = None) -> str:
        """Create an empty utf8mb4 database and return its name."""
        name = name or DATABASE_PREFIX + secrets.token_hex(6)
        self.admin(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
        self.databases.add(name)
        return name

    def drop_database(self, name: str) -> None:
        """Drop a database made by ``create_database``."""
        self.admin(f"DROP DATABASE IF EXISTS `{name}`")
        self.databases.discard(name)

    def status_value(self, name: str) -> int:
        """Return a numeric global status variable, e.g. Connections."""
        output = self.admin(f"SHOW GLOBAL STATUS LIKE '{name}'")
        return int(output.split("\t")[1])

    def stop_process(self, kill: bool = False) -> None:
        """Stop mariadbd by its PID and keep its files: SIGTERM (SIGKILL after STOP_TIMEOUT), or SIGKILL at once with ``kill``."""
        if self.process.poll() is not None:
            return
        if kill:
            self.process.kill()
        else:
            self.process.terminate()
        try:
            self.process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            logger.warning("mariadbd %d did not stop in %.0f s; killing it", self.process.pid, STOP_TIMEOUT)
            self.process.kill()
            self.process.wait(timeout=STOP_TIMEOUT)

    def start_process(self) -> None:
        """Start mariadbd again with the same command line (data directory, port) and wait until it responds."""
        if self.process.poll() is None:
            return
        self.process = subprocess.Popen(self.command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.wait_ready()

    def restart(self, kill: bool = False) -> None:
        """Stop mariadbd (SIGKILL with ``kill``, as a crash) and start it again on the same data directory and port."""
        self.stop_process(kill=kill)
        self.start_process()

    def wait_ready(self) -> None:
        """Wait until mariadbd responds to ping on its socket; raise MariaDBStartError when it exits or START_TIMEOUT passes."""
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if self.process.poll() is not None:
                raise MariaDBStartError(f"mariadbd exited with {self.process.returncode} on port {self.port}:\n{_log_tail(self.log_path)}")
            ping = subprocess.run(
                [self.admin_binary, "--no-defaults", f"--socket={self.socket}", "--user=root", "ping"],
                capture_output=True,
                timeout=30,
            )
            if ping.returncode == 0:
                return
            if time.monotonic() > deadline:
                raise MariaDBStartError(f"mariadbd did not answer ping within {START_TIMEOUT:.0f} s:\n{_log_tail(self.log_path)}")
            time.sleep(0.1)

    def stop(self) -> None:
        """Stop mariadbd by its PID (SIGTERM, then SIGKILL after STOP_TIMEOUT) and remove its files."""
        self.stop_process()
        shutil.rmtree(self.workdir, ignore_errors=True)


def _log_tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _start_once(workdir: Path, binaries: dict[str, str], server_args: Sequence[str]) -> MariaDBServer:
    port = free_port()
    log_path = workdir / "mariadbd.log"
    command = [
        binaries["mariadbd"],
        "--no-defaults",
        f"--datadir={workdir / 'data'}",
        "--user=root",
        "--bind-address=127.0.0.1",
        f"--port={port}",
        f"--socket={workdir / 'mysqld.sock'}",
        f"--pid-file={workdir / 'mariadbd.pid'}",
        f"--log-error={log_path}",
        # Own temp folder: a cleaner of the shared /tmp must not delete its temporary tables.
        f"--tmpdir={workdir}",
        "--skip-name-resolve",
        "--skip-log-bin",
        "--character-set-server=utf8mb4",
        "--collation-server=utf8mb4_unicode_ci",
        *server_args,
    ]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    server = MariaDBServer(
        workdir=workdir,
        port=port,
        password=secrets.token_urlsafe(18),
        process=process,
        client=binaries["mariadb"],
        log_path=log_path,
        command=command,
        admin_binary=binaries["mariadb-admin"],
    )
    try:
        server.wait_ready()
    except MariaDBStartError:
        server.stop_process()
        raise

    server.admin(
        f"CREATE USER '{APP_USER}'@'127.0.0.1' IDENTIFIED BY '{server.password}'; "
        f"GRANT ALL PRIVILEGES ON `{DATABASE_PREFIX}%`.* TO '{APP_USER}'@'127.0.0.1';"
    )
    return server


def start_mariadb(
    binaries: dict[str, str],
    server_args: Sequence[str] = ("--innodb-buffer-pool-size=32M",),
    attempts: int = 3,
) -> MariaDBServer:
    """Initialize a data directory in a new temporary folder and start mariadbd on it.

    ``binaries`` maps mariadbd, mariadb-install-db, mariadb and mariadb-admin to their paths.
    A port taken by someone else between choosing and binding it is retried ``attempts`` times.
    """
    # The socket path must stay under the 108-byte limit of Unix socket names, so use a short temp dir.
    workdir = Path(tempfile.mkdtemp(prefix="mariadb-"))
    install = subprocess.run(
        [
            binaries["mariadb-install-db"],
            "--no-defaults",
            f"--datadir={workdir / 'data'}",
            "--user=root",
            "--auth-root-authentication-method=socket",
            "--skip-test-db",
            "--innodb-log-file-size=8M",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    if install.returncode != 0:
        shutil.rmtree(workdir, ignore_errors=True)
        raise MariaDBStartError(f"mariadb-install-db failed ({install.returncode}): {install.stderr.strip()[-2000:]}")

    for attempt in range(1, attempts + 1):
        try:
            return _start_once(workdir, binaries, server_args)
        except MariaDBStartError:
            if attempt == attempts:
                shutil.rmtree(workdir, ignore_errors=True)
                raise
            logger.warning("mariadbd start attempt %d failed; retrying on another port", attempt)
    raise AssertionError("unreachable")


def find_binaries() -> dict[str, str]:
    """Return the paths of the MariaDB programs, skipping (or failing under CI) when one is missing."""
    return {
        "mariadbd": require_binary("mariadbd", "mariadb-server"),
        "mariadb-install-db": require_binary("mariadb-install-db", "mariadb-server"),
        "mariadb": require_binary("mariadb", "mariadb-client"),
        "mariadb-admin": require_binary("mariadb-admin", "mariadb-client"),
    }


@pytest.fixture(scope="session")
def mariadb_server() -> Iterator[MariaDBServer]:
    """A MariaDB server for the whole test session, stopped by its PID at the end."""
    # Tests commit often: flushing the log once per second instead of per commit
    # keeps them fast and does not change what they check.
    server = start_mariadb(
        find_binaries(),
        server_args=("--innodb-buffer-pool-size=32M", "--innodb-flush-log-at-trx-commit=2", "--max-connections=200"),
    )
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def mariadb_url(mariadb_server: MariaDBServer) -> Iterator[str]:
    """The URL of a fresh, empty utf8mb4 database, dropped after the test."""
    name = mariadb_server.create_database()
    try:
        yield mariadb_server.url(name)
    finally:
        mariadb_server.drop_database(name)
