"""Viewers bound to their events socket: a client that vanishes loses its place after VIEWER_MEDIA_TIMEOUT."""

from __future__ import annotations

import time

import pytest

from module3_watch.models import FAILED, JOINING, LEFT, WATCHING
from tests.module3_watch.conftest import create_stream
from tests.module3_watch.test_viewer_api import add_viewer, viewer_row, wait_for
from tests.services.api_client import ApiClient

# Seconds without a bound socket before the viewer is FAILED, in these tests.
SOCKET_TIMEOUT = 0.5


@pytest.fixture
def setup(make_app, live_server_factory):
    """An app with a short VIEWER_MEDIA_TIMEOUT, served live, and one stream."""
    app = make_app(VIEWER_MEDIA_TIMEOUT=SOCKET_TIMEOUT)
    server = live_server_factory(app)
    api = ApiClient(app=app)
    stream, token = create_stream(api)
    return app, server, api, stream, token


def bind(open_socket, server, stream_id: str, viewer_id: str):
    socket_ = open_socket(f"ws://127.0.0.1:{server.port}/ws/streams/{stream_id}")
    assert socket_.receive()["type"] == "snapshot"
    socket_.send({"type": "watching", "viewerId": viewer_id})
    return socket_, socket_.receive()


def test_closed_socket_fails_viewer(setup, open_socket):
    app, server, api, stream, _token = setup
    viewer_id = add_viewer(app, stream["id"], WATCHING)
    socket_, reply = bind(open_socket, server, stream["id"], viewer_id)
    assert reply == {"type": "watching", "viewerId": viewer_id, "bound": True}

    socket_.close()
    wait_for(lambda: viewer_row(app, viewer_id).state == FAILED, "the socket timeout")

    assert viewer_row(app, viewer_id).reason == "events_socket_closed"
    assert api.get(f"/api/v1/streams/{stream['id']}").json()["viewerCount"] == 0


def test_second_socket_keeps_viewer(setup, open_socket):
    app, server, _api, stream, _token = setup
    viewer_id = add_viewer(app, stream["id"])
    first, _ = bind(open_socket, server, stream["id"], viewer_id)
    second, reply = bind(open_socket, server, stream["id"], viewer_id)
    assert reply["bound"] is True

    first.close()
    # Three timeouts later the viewer still has its second socket, so it keeps its place.
    time.sleep(SOCKET_TIMEOUT * 3)
    assert viewer_row(app, viewer_id).state == JOINING

    second.close()
    wait_for(lambda: viewer_row(app, viewer_id).state == FAILED, "the socket timeout")


def test_reconnect_within_timeout_keeps_viewer(make_app, live_server_factory, open_socket):
    app = make_app(VIEWER_MEDIA_TIMEOUT=2.0)
    server = live_server_factory(app)
    stream, _token = create_stream(ApiClient(app=app))
    viewer_id = add_viewer(app, stream["id"])
    first, _ = bind(open_socket, server, stream["id"], viewer_id)

    first.close()
    deadline = time.monotonic() + 10
    while app.extensions["ws_sockets"].open_count and time.monotonic() < deadline:
        time.sleep(0.05)
    _second, reply = bind(open_socket, server, stream["id"], viewer_id)
    time.sleep(3.0)

    assert reply["bound"] is True
    assert viewer_row(app, viewer_id).state == JOINING


def test_bind_rejects_other_viewers(setup, open_socket):
    app, server, api, stream, _token = setup
    other_stream, _ = create_stream(api, "Otra")
    foreign = add_viewer(app, other_stream["id"])
    finished = add_viewer(app, stream["id"], LEFT)

    socket_ = open_socket(f"ws://127.0.0.1:{server.port}/ws/streams/{stream['id']}")
    assert socket_.receive()["type"] == "snapshot"
    replies = []
    for viewer_id in (foreign, finished, "00000000-0000-4000-8000-000000000000", 42, "x" * 500):
        socket_.send({"type": "watching", "viewerId": viewer_id})
        replies.append(socket_.receive()["bound"])

    assert replies == [False] * 5
    assert viewer_row(app, foreign).state == JOINING


def test_stream_end_is_not_socket_loss(setup, open_socket, admin):
    app, server, api, stream, _token = setup
    assert api.post(f"/api/v1/streams/{stream['id']}/start", headers=admin).status_code == 200
    viewer_id = add_viewer(app, stream["id"], WATCHING)
    socket_, _ = bind(open_socket, server, stream["id"], viewer_id)

    assert api.post(f"/api/v1/streams/{stream['id']}/end", headers=admin).status_code == 200
    socket_.receive_until_closed()
    time.sleep(SOCKET_TIMEOUT * 3)

    assert (viewer_row(app, viewer_id).state, viewer_row(app, viewer_id).reason) == (LEFT, "stream_ended")


def test_shutdown_is_not_socket_loss(setup, open_socket):
    app, server, _api, stream, _token = setup
    viewer_id = add_viewer(app, stream["id"], WATCHING)
    socket_, _ = bind(open_socket, server, stream["id"], viewer_id)

    app.extensions["ws_sockets"].shutdown(wait=5.0)
    assert socket_.receive() is None
    time.sleep(SOCKET_TIMEOUT * 3)

    # The next process resets its viewers; this one must not fail them while it stops.
    assert viewer_row(app, viewer_id).state == WATCHING
