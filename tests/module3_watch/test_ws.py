"""WS /ws/streams/<id> and /ws/streams against a live server: snapshot, event order, close codes, pings.

``server_url`` is the app served in a thread, or the server given with --base-url
(where the tests that take ``app`` or ``make_app`` skip).
"""

from __future__ import annotations

import socket
import time
from typing import Any

import pytest
import requests
from wsproto import ConnectionType, WSConnection
from wsproto.events import CloseConnection, Ping, Request

from common.db import db
from module3_watch import service
from module3_watch.models import LEFT
from tests.module1_streammeta.helpers import bearer
from tests.module3_watch.conftest import ws_url

UNKNOWN_STREAM = "00000000-0000-4000-8000-000000000000"


def summary(message: dict[str, Any]) -> tuple[str, Any]:
    """Reduce an event to (type, its main value) for order checks."""
    data = message["data"]
    value = {"snapshot": data.get("status"), "stream.status": data.get("status"), "viewers.count": data.get("viewerCount"), "session.state": data.get("state")}
    return message["type"], value.get(message["type"])


@pytest.mark.grade(module=3, es="Al abrir WS /ws/streams/{id} llega primero una instantánea del estado")
def test_snapshot_on_connect(server_url, make_stream, open_socket):
    """Opening WS /ws/streams/{id} first sends a snapshot of the stream."""
    stream, _token = make_stream(maxViewers=7)

    socket_ = open_socket(ws_url(server_url, f"/ws/streams/{stream['id']}"))
    snapshot = socket_.receive()

    assert snapshot["type"] == "snapshot"
    assert snapshot["streamId"] == stream["id"]
    assert snapshot["data"]["status"] == "CREATED"
    assert snapshot["data"]["viewerCount"] == 0
    assert snapshot["data"]["maxViewers"] == 7
    assert snapshot["data"]["version"] == stream["version"]
    assert snapshot["data"]["session"] is None


def test_events_in_order(app, server_url, api, admin, make_stream, open_socket):
    stream, _token = make_stream()
    bus = app.extensions["events"]
    socket_ = open_socket(ws_url(server_url, f"/ws/streams/{stream['id']}"))
    assert socket_.receive()["type"] == "snapshot"

    assert api.post(f"/api/v1/streams/{stream['id']}/start", headers=admin).status_code == 200
    with app.app_context():
        first_id = service.reserve_viewer(db.session, stream["id"], 10).id
        service.publish_viewer_count(db.session, bus, stream["id"])
        second_id = service.reserve_viewer(db.session, stream["id"], 10).id
        service.publish_viewer_count(db.session, bus, stream["id"])
        service.finish_viewer(db.session, bus, first_id, LEFT, "left")
    bus.publish(stream["id"], "session.state", {"sessionId": "s-1", "state": "CLOSED", "reason": "test"})
    assert api.post(f"/api/v1/streams/{stream['id']}/end", headers=admin).status_code == 200
    messages = socket_.receive_until_closed()

    assert [summary(message) for message in messages] == [
        ("stream.status", "LIVE"),
        ("viewers.count", 1),
        ("viewers.count", 2),
        ("viewers.count", 1),
        ("session.state", "CLOSED"),
        # The end of the stream frees the last viewer before the ENDED event goes out.
        ("viewers.count", 0),
        ("stream.status", "ENDED"),
    ]
    assert socket_.close_code == 1000
    with app.app_context():
        assert service.get_viewer(db.session, second_id).state == LEFT


@pytest.mark.grade(module=3, es="El WS de una emisión que no existe se cierra con el código 4404")
@pytest.mark.grade(module=3, es="Los cambios de estado llegan por el WS en orden: LIVE y luego ENDED, y el socket se cierra")
def test_status_events_reach_socket(server_url, api, make_stream, open_socket):
    """Status changes reach the socket in order, LIVE then ENDED, and the socket closes."""
    stream, token = make_stream()
    socket_ = open_socket(ws_url(server_url, f"/ws/streams/{stream['id']}"))
    assert socket_.receive()["type"] == "snapshot"

    assert api.post(f"/api/v1/streams/{stream['id']}/start", headers=bearer(token)).status_code == 200
    assert api.post(f"/api/v1/streams/{stream['id']}/end", headers=bearer(token)).status_code == 200
    messages = socket_.receive_until_closed()

    assert [summary(message) for message in messages] == [("stream.status", "LIVE"), ("stream.status", "ENDED")]
    assert all(message["streamId"] == stream["id"] for message in messages)
    assert socket_.close_code == 1000


@pytest.mark.parametrize("stream_id", [UNKNOWN_STREAM, "not-a-uuid", "x" * 300])
def test_unknown_stream_closes_4404(server_url, open_socket, stream_id):
    """The socket of an unknown stream closes with code 4404."""
    socket_ = open_socket(ws_url(server_url, f"/ws/streams/{stream_id}"))

    assert socket_.receive() is None
    assert socket_.close_code == 4404


@pytest.mark.grade(module=3, es="El WS de una emisión terminada envía la instantánea y se cierra con 1000")
def test_ended_stream_sends_snapshot_then_closes(server_url, api, make_stream, open_socket):
    """The socket of an ended stream sends the snapshot, then closes with 1000."""
    stream, token = make_stream()
    assert api.post(f"/api/v1/streams/{stream['id']}/end", headers=bearer(token)).status_code == 200

    socket_ = open_socket(ws_url(server_url, f"/ws/streams/{stream['id']}"))
    messages = socket_.receive_until_closed()

    assert [summary(message) for message in messages] == [("snapshot", "ENDED")]
    assert socket_.close_code == 1000


def test_socket_cap_closes_with_1013(make_app, live_server_factory, make_stream, open_socket):
    app = make_app(WS_MAX_SOCKETS=2)
    server = live_server_factory(app)
    from tests.module3_watch.conftest import create_stream
    from tests.services.api_client import ApiClient

    stream, _token = create_stream(ApiClient(app=app))
    url = ws_url(server.url, f"/ws/streams/{stream['id']}")
    held = [open_socket(url), open_socket(ws_url(server.url, "/ws/streams"))]
    assert held[0].receive()["type"] == "snapshot"

    refused = open_socket(url)
    assert refused.receive() is None
    assert refused.close_code == 1013
    # The sockets at the cap leave HTTP requests unaffected.
    assert requests.get(server.url + "/health", timeout=10).status_code == 200

    held[0].close()
    deadline = time.monotonic() + 10
    while app.extensions["ws_sockets"].open_count > 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    again = open_socket(url)
    assert again.receive()["type"] == "snapshot"


def test_shutdown_closes_with_1001(app, server_url, make_stream, open_socket):
    stream, _token = make_stream()
    stream_socket = open_socket(ws_url(server_url, f"/ws/streams/{stream['id']}"))
    dashboard_socket = open_socket(ws_url(server_url, "/ws/streams"))
    assert stream_socket.receive()["type"] == "snapshot"

    still_open = app.extensions["ws_sockets"].shutdown(wait=5.0)

    assert still_open == 0
    assert stream_socket.receive() is None
    assert stream_socket.close_code == 1001
    assert dashboard_socket.receive() is None
    assert dashboard_socket.close_code == 1001


def test_dashboard_feed_gets_every_stream(app, server_url, api, admin, make_stream, open_socket):
    first, _ = make_stream("Primera")
    second, _ = make_stream("Segunda")
    feed = open_socket(ws_url(server_url, "/ws/streams"))
    # The feed sends no snapshot; wait until the server registered the socket.
    deadline = time.monotonic() + 10
    while app.extensions["ws_sockets"].open_count < 1 and time.monotonic() < deadline:
        time.sleep(0.05)

    assert api.post(f"/api/v1/streams/{first['id']}/start", headers=admin).status_code == 200
    assert api.post(f"/api/v1/streams/{second['id']}/end", headers=admin).status_code == 200

    events = [feed.receive(), feed.receive()]
    assert [(event["streamId"], event["type"], event["data"]["status"]) for event in events] == [
        (first["id"], "stream.status", "LIVE"),
        (second["id"], "stream.status", "ENDED"),
    ]


@pytest.mark.grade(module=3, es="Un ping del cliente por el WS recibe un pong")
def test_client_ping_gets_pong(server_url, make_stream, open_socket):
    """A client ping on the socket gets a pong."""
    stream, _token = make_stream()
    socket_ = open_socket(ws_url(server_url, f"/ws/streams/{stream['id']}"))
    assert socket_.receive()["type"] == "snapshot"

    socket_.send({"type": "ping"})

    assert socket_.receive() == {"type": "pong"}


def read_until_close(connection: socket.socket, ws: WSConnection, timeout: float) -> tuple[int | None, int]:
    """Read as a client that never replies to pings; return (close code, pings seen)."""
    pings = 0
    deadline = time.monotonic() + timeout
    connection.settimeout(0.5)
    while time.monotonic() < deadline:
        try:
            data = connection.recv(4096)
        except socket.timeout:
            continue
        if not data:
            return None, pings
        ws.receive_data(data)
        for event in ws.events():
            if isinstance(event, Ping):
                pings += 1
            if isinstance(event, CloseConnection):
                return event.code, pings
    return None, pings


def test_server_pings_drop_silent_client(make_app, live_server_factory):
    app = make_app(WS_PING_INTERVAL=0.3)
    server = live_server_factory(app)
    from tests.module3_watch.conftest import create_stream
    from tests.services.api_client import ApiClient

    stream, _token = create_stream(ApiClient(app=app))
    ws = WSConnection(ConnectionType.CLIENT)
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as connection:
        connection.sendall(ws.send(Request(host=f"127.0.0.1:{server.port}", target=f"/ws/streams/{stream['id']}")))
        code, pings = read_until_close(connection, ws, timeout=10)

    assert pings >= 1
    # 1008 (policy violation) is how simple-websocket closes a peer that missed a pong.
    assert code == 1008


def test_server_pings_keep_answering_client(make_app, live_server_factory, open_socket):
    app = make_app(WS_PING_INTERVAL=0.2)
    server = live_server_factory(app)
    from tests.module3_watch.conftest import create_stream
    from tests.services.api_client import ApiClient

    stream, _token = create_stream(ApiClient(app=app))
    socket_ = open_socket(ws_url(server.url, f"/ws/streams/{stream['id']}"))
    assert socket_.receive()["type"] == "snapshot"

    # simple-websocket's client replies to pings itself; five intervals later the socket still works.
    time.sleep(1.0)
    socket_.send({"type": "ping"})
    assert socket_.receive() == {"type": "pong"}
