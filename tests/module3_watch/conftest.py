"""Fixtures of the module 3 tests: the complete app on SQLite or MariaDB, live servers and WebSocket clients.

With --base-url, ``api``, ``server_url`` and ``admin`` reach the live server
instead (``admin`` needs COURSE_ADMIN_TOKEN), so the black-box tests run against
it. ``app`` and ``make_app`` skip there, and so does every test that takes them.
"""

from __future__ import annotations

import inspect
import json
from typing import Any, Callable, Iterator

import pytest
from flask import Flask
from simple_websocket import ConnectionClosed

from module3_watch import create_app
# create_stream is imported from here by the module 3 tests.
from tests.services.api_client import ApiClient, create_stream  # noqa: F401
from tests.services.grading import live_admin_token, target_client, target_url, ws_base
from tests.services.seeds import close_complete_app
from tests.services.websocket import connect_websocket

# Seconds a test waits for one WebSocket message before it fails.
WS_RECEIVE_TIMEOUT = 10.0
IN_PROCESS_ONLY = "needs the app in-process; with --base-url only the black-box tests run"


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run each test whose own parameters name ``db_backend`` once on SQLite and once on MariaDB.

    With --base-url they run once, as ``live``. The other tests use SQLite only (the db_backend fixture below).
    """
    if "db_backend" not in inspect.signature(metafunc.function).parameters:
        return
    if metafunc.config.getoption("--base-url"):
        metafunc.parametrize("db_backend", ["live"])
    else:
        metafunc.parametrize("db_backend", ["sqlite", pytest.param("mariadb", marks=pytest.mark.mariadb)])


@pytest.fixture
def db_backend() -> str:
    """SQLite, for tests that do not ask for both databases."""
    return "sqlite"


@pytest.fixture
def make_app(app_config: dict, db_backend: str, base_url: str, request: pytest.FixtureRequest) -> Iterator[Callable[..., Flask]]:
    """Build module 3 apps with extra settings on the test's database; their workers stop at the end."""
    if base_url:
        pytest.skip(IN_PROCESS_ONLY)
    apps: list[Flask] = []
    database_url = request.getfixturevalue("mariadb_url") if db_backend == "mariadb" else app_config["DATABASE_URL"]

    def make(**settings: Any) -> Flask:
        app = create_app({**app_config, "DATABASE_URL": database_url, **settings})
        apps.append(app)
        return app

    yield make
    for app in apps:
        close_complete_app(app)


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    """The module 3 app with the default test settings."""
    return make_app()


@pytest.fixture
def api(request: pytest.FixtureRequest) -> ApiClient:
    """A client for the app in-process, or for the live server given with --base-url."""
    return target_client(request, "app")


@pytest.fixture
def server_url(request: pytest.FixtureRequest) -> str:
    """A real HTTP server for WebSocket tests: --base-url, or ``app`` served in a thread (the app behind ``api``)."""
    return target_url(request, "app")


def ws_url(server_url: str, path: str) -> str:
    """Return the WebSocket URL of ``path`` on the server at ``server_url``."""
    return ws_base(server_url) + path


@pytest.fixture
def admin(base_url: str, app_config: dict) -> dict[str, str]:
    """The instructor's Authorization header: ADMIN_TOKEN of app_config, or COURSE_ADMIN_TOKEN with --base-url."""
    token = live_admin_token() if base_url else app_config["ADMIN_TOKEN"]
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def make_stream(api: ApiClient) -> Callable[..., tuple[dict[str, Any], str]]:
    """Create a stream through the app's API; return its JSON and its publish token."""
    return lambda title="Clase de prueba", **fields: create_stream(api, title, **fields)


class EventSocket:
    """A WebSocket client that decodes each JSON message and records how the socket closed."""

    def __init__(self, url: str) -> None:
        self.client = connect_websocket(url)
        self.close_code: int | None = None
        self.close_reason: str | None = None

    def receive(self, timeout: float = WS_RECEIVE_TIMEOUT) -> dict[str, Any] | None:
        """Return the next message, or None once the server closed the socket.

        Raises TimeoutError when nothing arrives within ``timeout`` seconds.
        """
        try:
            message = self.client.receive(timeout=timeout)
        except ConnectionClosed as closed:
            self.close_code, self.close_reason = closed.reason, closed.message
            return None
        if message is None:
            raise TimeoutError(f"no WebSocket message within {timeout:g} s")
        return json.loads(message)

    def receive_until_closed(self, timeout: float = WS_RECEIVE_TIMEOUT) -> list[dict[str, Any]]:
        """Return every message until the server closes the socket."""
        messages = []
        while (message := self.receive(timeout)) is not None:
            messages.append(message)
        return messages

    def send(self, message: dict[str, Any]) -> None:
        self.client.send(json.dumps(message))

    def close(self) -> None:
        try:
            self.client.close()
        except ConnectionClosed:
            pass  # the server closed it first


@pytest.fixture
def open_socket() -> Iterator[Callable[[str], EventSocket]]:
    """Open WebSocket clients; all are closed when the test ends."""
    sockets: list[EventSocket] = []

    def open_(url: str) -> EventSocket:
        socket = EventSocket(url)
        sockets.append(socket)
        return socket

    yield open_
    for socket in sockets:
        socket.close()
