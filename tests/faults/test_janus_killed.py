"""Fault: Janus is killed (SIGKILL) while a publisher is LIVE and a viewer watches, then started again.

While Janus is down, publish calls get 503 janus_unavailable and /ready
returns 503. The publisher session FAILS with a reason the client can
read, its viewer leaves, the stream ENDS after the reconnect window, and the
WebSocket clients get each of those events. Once Janus is back a new publish
goes LIVE and can be watched. The backend's own recovery (a new Janus
session) is tested in tests/janus_client/test_recovery.py; this test checks
what the API and the sockets show.
"""

from __future__ import annotations

import pytest

from tests.faults.conftest import EVENT_WAIT, FRAMES, assert_consistent, publish_and_watch, publish_when_ready, viewer_handles, wait_for
from tests.services.media import FrameCountingSubscriber, SyntheticPublisher

pytestmark = [pytest.mark.janus, pytest.mark.media]


def _events_until_closed(socket_) -> list[tuple[str, object]]:
    """Return (type, value) of every message until the server closes the socket."""
    values = {"stream.status": "status", "viewers.count": "viewerCount", "session.state": "state"}
    return [(message["type"], message["data"].get(values.get(message["type"], "status"))) for message in socket_.receive_until_closed(timeout=EVENT_WAIT)]


def test_janus_killed_mid_stream(janus_factory, serve, peers, open_socket) -> None:
    janus = janus_factory()
    backend = serve(JANUS_URL=janus.url, RECONNECT_WINDOW=3.0)
    stream, token = backend.create_stream("Clase que pierde Janus")
    waiting, waiting_token = backend.create_stream("Clase que espera a Janus")
    events = open_socket(backend.ws_url(stream["id"]))
    assert events.receive(EVENT_WAIT)["type"] == "snapshot"

    session, viewer = publish_and_watch(backend, peers, stream["id"], token)
    assert backend.stream(stream["id"])["viewerCount"] == 1
    assert len(viewer_handles(backend.app, stream["id"])) == 1

    janus.kill()

    failed = wait_for(lambda: backend.get_json(f"/api/v1/sessions/{session['id']}"), lambda body: body["state"] != "CONNECTED", "the backend to notice Janus is gone")
    assert failed["state"] == "FAILED"
    assert failed["reason"].startswith("Janus unreachable")
    refused = SyntheticPublisher()
    try:
        response = refused.post_offer(backend.url, waiting["id"], waiting_token)
    finally:
        refused.close()
    assert response.status_code == 503, response.text
    assert response.headers["Content-Type"].startswith("application/problem+json")
    assert response.json()["code"] == "janus_unavailable"
    ready = backend.request("GET", "/ready")
    assert ready.status_code == 503
    assert {check["name"]: check["ok"] for check in ready.json()["checks"]}["janus"] is False

    messages = _events_until_closed(events)
    assert events.close_code == 1000
    assert ("session.state", "FAILED") in messages
    assert ("viewers.count", 0) in messages
    assert messages[-1] == ("stream.status", "ENDED")
    ended = backend.stream(stream["id"])
    assert (ended["status"], ended["viewerCount"]) == ("ENDED", 0)
    left = backend.get_json(f"/api/v1/viewers/{viewer.viewer['id']}")
    assert left["state"] in ("LEFT", "FAILED")
    assert left["reason"]

    janus.start()

    returning = peers(SyntheticPublisher)
    second = publish_when_ready(backend, returning, waiting["id"], waiting_token)
    wait_for(lambda: backend.get_json(f"/api/v1/sessions/{second['id']}")["state"], lambda state: state == "CONNECTED", "the new publisher to connect")
    assert backend.stream(waiting["id"])["status"] == "LIVE"
    watcher = peers(FrameCountingSubscriber)
    watcher.subscribe(backend.url, waiting["id"])
    assert watcher.wait_for_frames(FRAMES, timeout=EVENT_WAIT).video_frames >= FRAMES
    assert backend.stream(waiting["id"])["viewerCount"] == 1

    assert_consistent(backend, {stream["id"], waiting["id"]})
