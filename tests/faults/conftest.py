"""Fixtures of the fault tests: the complete backend on real services, and checks that run after a fault.

Every fault test ends with the same checks: no server error, no stream stuck
LIVE without a publisher, no negative or stale viewer count, and every stream
the backend acknowledged still in the database. The helpers here make those
checks from the public API, so they work for an app served in a thread and
for a backend in its own process.
"""

from __future__ import annotations

import socket
import threading
import time
from typing import Any, Callable, Iterator

import pytest
import requests
from flask import Flask

from common.janus.errors import JanusHandleNotFound
from tests.module2_session.conftest import wait_for  # noqa: F401  (used by the fault tests)
from tests.module3_watch.conftest import EventSocket, db_backend, make_app, open_socket  # noqa: F401  (fixtures)
from tests.services.gunicorn import Gunicorn
from tests.services.live_server import LiveServer

# Bounded waits for what happens asynchronously. Generous because other suites
# share the 2-core machine; no fault test checks how fast anything is.
EVENT_WAIT = 45.0
# Video frames a viewer must decode to count as watching.
FRAMES = 10
HTTP_TIMEOUT = 30.0
# Statuses that a fault may cause and that the API documents: any other 5xx is a bug.
DOCUMENTED_5XX = {503, 504}


class ServerErrors:
    """The 5xx responses an in-process app sent, recorded by an after_request hook."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.responses: list[tuple[str, str, int]] = []

    def record(self, method: str, path: str, status: int) -> None:
        with self._lock:
            self.responses.append((method, path, status))

    def undocumented(self) -> list[tuple[str, str, int]]:
        """Return the recorded 5xx responses whose status the API does not document (500, 502 ...)."""
        with self._lock:
            return [entry for entry in self.responses if entry[2] not in DOCUMENTED_5XX]


def record_server_errors(app: Flask) -> ServerErrors:
    """Record every 5xx response of ``app``; call it before the app serves its first request."""
    from flask import request

    errors = ServerErrors()

    def after(response: Any) -> Any:
        if response.status_code >= 500:
            errors.record(request.method, request.path, response.status_code)
        return response

    app.after_request(after)
    return errors


class Backend:
    """A backend reached over HTTP like a real client: an app in a thread or a server process."""

    def __init__(self, url: str, app: Flask | None = None) -> None:
        self.url = url.rstrip("/")
        self.port = int(self.url.rsplit(":", 1)[1])
        self.app = app
        self.server_errors = None if app is None else app.extensions.get("fault_server_errors")

    def request(self, method: str, path: str, body: Any = None, token: str | None = None, **kwargs: Any) -> requests.Response:
        headers = dict(kwargs.pop("headers", {}) or {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return requests.request(method, self.url + path, json=body, headers=headers, timeout=kwargs.pop("timeout", HTTP_TIMEOUT), **kwargs)

    def post(self, path: str, body: Any = None, token: str | None = None, **kwargs: Any) -> requests.Response:
        return self.request("POST", path, body, token, **kwargs)

    def get_json(self, path: str) -> dict[str, Any]:
        response = requests.get(self.url + path, timeout=HTTP_TIMEOUT)
        assert response.status_code == 200, response.text
        return response.json()

    def stream(self, stream_id: str) -> dict[str, Any]:
        return self.get_json(f"/api/v1/streams/{stream_id}")

    def create_stream(self, title: str = "Clase con fallos", **fields: Any) -> tuple[dict[str, Any], str]:
        """Create a stream; return its JSON and its publish token."""
        response = self.post("/api/v1/streams", {"title": title, **fields})
        assert response.status_code == 201, response.text
        body = response.json()
        return body, body.pop("publishToken")

    def all_streams(self) -> dict[str, dict[str, Any]]:
        """Return every stream by id, reading all pages of the list."""
        streams: dict[str, dict[str, Any]] = {}
        page = 1
        while True:
            body = self.get_json(f"/api/v1/streams?page={page}&pageSize=100")
            for item in body["items"]:
                streams[item["id"]] = item
            if page * 100 >= body["total"]:
                return streams
            page += 1

    def ws_url(self, stream_id: str) -> str:
        return f"ws://127.0.0.1:{self.port}/ws/streams/{stream_id}"


def publish_when_ready(backend: Backend, peer: Any, stream_id: str, token: str) -> dict[str, Any]:
    """Publish ``peer`` once the backend accepts the offer (503/504 while it reconnects to Janus); return the session."""
    offer = peer.create_offer()
    deadline = time.monotonic() + EVENT_WAIT
    while True:
        response = peer.post_offer(backend.url, stream_id, token, offer)
        if response.status_code == 201:
            break
        assert response.status_code in DOCUMENTED_5XX, response.text
        if time.monotonic() > deadline:
            pytest.fail(f"the backend still answers {response.status_code} to a publish after {EVENT_WAIT:g} s: {response.text}")
        time.sleep(0.5)
    peer.session = response.json()
    peer.accept_answer(peer.session["answer"]["sdp"])
    return peer.session


def publish_and_watch(backend: Backend, peers: Callable[[type], Any], stream_id: str, token: str) -> tuple[dict[str, Any], Any]:
    """Publish a synthetic camera to the stream and start one viewer that decodes FRAMES frames; return the session and the viewer."""
    from tests.services.media import FrameCountingSubscriber, SyntheticPublisher

    publisher = peers(SyntheticPublisher)
    session = publisher.publish(backend.url, stream_id, token)
    wait_for(lambda: backend.get_json(f"/api/v1/sessions/{session['id']}")["state"], lambda state: state == "CONNECTED", "the publisher to connect")
    viewer = peers(FrameCountingSubscriber)
    viewer.subscribe(backend.url, stream_id)
    viewer.wait_for_frames(FRAMES, timeout=EVENT_WAIT)
    return session, viewer


def viewer_handles(app: Flask, stream_id: str) -> list[int]:
    """Return the Janus handle ids of the stream's viewer rows (the API never shows them)."""
    from common.db import db
    from module3_watch.models import Viewer

    with app.app_context():
        rows = db.session.query(Viewer.handle_id).filter(Viewer.stream_id == stream_id, Viewer.handle_id.is_not(None))
        return [handle for (handle,) in rows]


def publisher_connected(backend: Backend, stream_id: str) -> bool:
    """Return whether the stream's current publisher session is CONNECTED, as the WebSocket snapshot shows it."""
    socket_ = EventSocket(backend.ws_url(stream_id))
    try:
        snapshot = socket_.receive(EVENT_WAIT)
    finally:
        socket_.close()
    session = (snapshot or {}).get("data", {}).get("session")
    return session is not None and session["state"] == "CONNECTED"


def assert_consistent(backend: Backend, expected_ids: set[str] = frozenset()) -> dict[str, dict[str, Any]]:
    """Check the end state after a fault and return every stream by id.

    Every id in ``expected_ids`` must still exist and no viewer count may be
    negative. A LIVE stream must have a connected publisher, and a stream that
    is not LIVE must have a viewer count of 0.
    """
    streams = backend.all_streams()
    missing = expected_ids - streams.keys()
    assert not missing, f"acknowledged streams lost: {sorted(missing)}"
    for stream_id, stream in streams.items():
        assert stream["viewerCount"] >= 0, stream
        if stream["status"] != "LIVE":
            assert stream["viewerCount"] == 0, stream
        else:
            assert publisher_connected(backend, stream_id), f"stream {stream_id} is LIVE without a connected publisher"
    if backend.server_errors is not None:
        assert backend.server_errors.undocumented() == []
    return streams


@pytest.fixture
def serve(make_app: Callable[..., Flask]) -> Iterator[Callable[..., Backend]]:
    """Serve module 3 apps in threads (settings as keyword arguments); 5xx responses are recorded."""
    servers: list[LiveServer] = []

    def start(**settings: Any) -> Backend:
        app = make_app(**settings)
        app.extensions["fault_server_errors"] = record_server_errors(app)
        server = LiveServer(app).start()
        servers.append(server)
        return Backend(server.url, app)

    yield start
    for server in servers:
        server.stop()


def handle_gone(app: Flask, handle_id: int) -> bool:
    """Return True once Janus no longer has ``handle_id``, asking through the app's own Janus session."""
    client = app.extensions.get("janus_client")
    if client is None:
        return False
    try:
        client.trickle(handle_id, {"completed": True})
    except JanusHandleNotFound:
        return True
    return False


def send_and_drop(port: int, method: str, path: str, body: bytes, headers: dict[str, str] | None = None) -> None:
    """Send one HTTP request over a raw socket and close it at once, without reading the response.

    SO_LINGER 0 makes the close a TCP reset, as a client that crashed or lost
    its network would leave the connection.
    """
    lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Content-Type: application/json", f"Content-Length: {len(body)}", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    request = ("\r\n".join(lines) + "\r\n\r\n").encode() + body
    with socket.create_connection(("127.0.0.1", port), timeout=HTTP_TIMEOUT) as connection:
        connection.sendall(request)
        drop(connection)


def drop(connection: socket.socket) -> None:
    """Close a TCP connection with a reset instead of a FIN handshake."""
    import struct

    connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    connection.close()


@pytest.fixture
def restartable_mariadb() -> Iterator[Any]:
    """A MariaDB server of the test's own, which the test may stop and start again (the shared one must stay up)."""
    from tests.services.mariadb import find_binaries, start_mariadb

    # innodb_flush_log_at_trx_commit stays at its default of 1, so a commit
    # survives a SIGKILL of mariadbd.
    server = start_mariadb(find_binaries(), server_args=("--innodb-buffer-pool-size=32M", "--max-connections=200"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def gunicorn_factory(tmp_path) -> Iterator[Callable[..., Any]]:
    """Start the complete backend under gunicorn (gunicorn.conf.py) with environment ``settings``; all are killed at the end."""
    servers: list[Gunicorn] = []

    def start(**settings: str) -> Gunicorn:
        run_dir = tmp_path / f"gunicorn-{len(servers)}"
        run_dir.mkdir()
        server = Gunicorn(run_dir, settings)
        servers.append(server)
        return server

    yield start
    for server in servers:
        kill_gunicorn(server)


def kill_gunicorn(server: Any) -> None:
    """Kill gunicorn's arbiter and then its workers with SIGKILL, by PID, as a crash of the host process would."""
    import os
    import signal

    arbiter = server.process
    if arbiter.poll() is not None:
        return
    try:
        with open(f"/proc/{arbiter.pid}/task/{arbiter.pid}/children") as children_file:
            workers = [int(pid) for pid in children_file.read().split()]
    except OSError:
        workers = []
    # The arbiter goes first: it would otherwise start a new worker for the killed one.
    arbiter.kill()
    arbiter.wait(timeout=EVENT_WAIT)
    for pid in workers:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass  # the worker saw its arbiter die and exited first
    for pid in workers:
        wait_for(lambda: _process_gone(pid), bool, f"gunicorn worker {pid} to exit")


def _process_gone(pid: int) -> bool:
    """Return True once ``pid`` no longer runs (a zombie counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as stat_file:
            return stat_file.read().split(") ", 1)[1].startswith("Z")
    except (OSError, IndexError):
        return True
