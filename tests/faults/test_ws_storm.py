"""Fault: 100 WebSocket clients connect to one stream at once and all go away, many without a close frame.

The server must keep serving HTTP and the sockets that stay, give back every
socket slot and every thread, and leave the stream's counts alone.
"""

from __future__ import annotations

import base64
import os
import socket
import threading
from concurrent.futures import ThreadPoolExecutor

from simple_websocket import Client

from tests.faults.conftest import EVENT_WAIT, HTTP_TIMEOUT, Backend, assert_consistent, drop, wait_for

CLIENTS = 100
# How each of the CLIENTS leaves: a close frame, a TCP reset after the snapshot, or a reset mid-handshake.
CLEAN, RESET, HALF_HANDSHAKE = "clean", "reset", "half-handshake"
PLAN = [CLEAN] * 40 + [RESET] * 40 + [HALF_HANDSHAKE] * 20


def _handshake(port: int, path: str, complete: bool) -> socket.socket:
    """Open a WebSocket by hand; with ``complete`` False, stop after half of the upgrade request."""
    key = base64.b64encode(os.urandom(16)).decode()
    request = (
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    ).encode()
    connection = socket.create_connection(("127.0.0.1", port), timeout=HTTP_TIMEOUT)
    if not complete:
        connection.sendall(request[: len(request) // 2])
        return connection
    connection.sendall(request)
    received = b""
    # The 101 response, then the snapshot frame, whose JSON starts with {"type":"snapshot".
    while b"snapshot" not in received:
        chunk = connection.recv(4096)
        if not chunk:
            raise ConnectionError(f"server closed the socket during the handshake: {received[:200]!r}")
        received += chunk
    assert received.startswith(b"HTTP/1.1 101"), received[:200]
    return connection


def _connect_and_leave(backend: Backend, stream_id: str, how: str, barrier: threading.Barrier) -> str:
    """Connect one client once every client is ready, then leave in the way ``how`` names; return ``how``."""
    barrier.wait(timeout=EVENT_WAIT)
    if how == CLEAN:
        client = Client.connect(backend.ws_url(stream_id))
        message = client.receive(timeout=HTTP_TIMEOUT)
        assert message is not None and '"snapshot"' in message
        client.close()
    else:
        connection = _handshake(backend.port, f"/ws/streams/{stream_id}", complete=how == RESET)
        drop(connection)
    return how


def _poll_health(backend: Backend, stop: threading.Event, statuses: list[int]) -> None:
    while not stop.is_set():
        statuses.append(backend.request("GET", "/health").status_code)


def test_hundred_sockets_drop_at_once(serve, open_socket) -> None:
    # A short ping interval lets the reader thread of each closed socket end soon.
    backend = serve(WS_PING_INTERVAL=1.0, RECONNECT_WINDOW=600.0)
    registry = backend.app.extensions["ws_sockets"]
    stream, token = backend.create_stream(maxViewers=5)
    watcher = open_socket(backend.ws_url(stream["id"]))
    assert watcher.receive(EVENT_WAIT)["type"] == "snapshot"
    assert backend.request("GET", "/health").status_code == 200
    baseline_threads = threading.active_count()

    stop_health = threading.Event()
    health_statuses: list[int] = []
    health = threading.Thread(target=_poll_health, args=(backend, stop_health, health_statuses), daemon=True)
    health.start()
    barrier = threading.Barrier(CLIENTS)
    try:
        with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
            finished = list(pool.map(lambda how: _connect_and_leave(backend, stream["id"], how, barrier), PLAN))
    finally:
        stop_health.set()
        health.join(timeout=HTTP_TIMEOUT)

    assert finished == PLAN
    assert health_statuses and set(health_statuses) == {200}
    wait_for(lambda: registry.open_count, lambda count: count == 1, "the server to close the 100 dropped sockets")
    wait_for(threading.active_count, lambda count: count <= baseline_threads, f"the thread count to return to {baseline_threads}")

    # The socket that stayed still gets the stream's events, in order.
    assert backend.post(f"/api/v1/streams/{stream['id']}/start", token=token).status_code == 200
    assert (watcher.receive(EVENT_WAIT)["type"], backend.stream(stream["id"])["status"]) == ("stream.status", "LIVE")
    assert backend.post(f"/api/v1/streams/{stream['id']}/end", token=token).status_code == 200
    last = watcher.receive(EVENT_WAIT)
    assert (last["type"], last["data"]["status"]) == ("stream.status", "ENDED")
    assert watcher.receive(EVENT_WAIT) is None
    assert watcher.close_code == 1000

    wait_for(lambda: registry.open_count, lambda count: count == 0, "the watcher's socket to close")
    streams = assert_consistent(backend, {stream["id"]})
    assert (streams[stream["id"]]["status"], streams[stream["id"]]["viewerCount"]) == ("ENDED", 0)
