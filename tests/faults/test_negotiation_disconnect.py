"""Fault: clients that go away in the middle of a negotiation.

A publisher sends its offer and resets the connection before it reads the
answer; a viewer joins and resets the connection before it reads Janus's
offer. Neither may stay NEGOTIATING or JOINING: the connect and answer
timeouts fail them, their Janus handles are detached, and the stream can
still be published and watched. A viewer that hears nothing because Janus's
offer was read and never answered is tested in tests/module3_watch.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask import Flask

from common.db import db
from module2_session.models import StreamSession
from module3_watch.models import Viewer
from tests.faults.conftest import EVENT_WAIT, FRAMES, Backend, assert_consistent, handle_gone, send_and_drop, wait_for
from tests.services.media import FrameCountingSubscriber, SyntheticPublisher

pytestmark = [pytest.mark.janus, pytest.mark.media]

# Short timeouts, so an abandoned negotiation ends within the test's waits.
TIMEOUTS = {"PUBLISH_CONNECT_TIMEOUT": 2.0, "VIEWER_ANSWER_TIMEOUT": 2.0, "RECONNECT_WINDOW": 60.0}


def _rows(app: Flask, model: Any, stream_id: str) -> list[dict[str, Any]]:
    """Return id, state, reason and Janus handle id of the stream's ``model`` rows, read in-process."""
    with app.app_context():
        rows = db.session.query(model).filter(model.stream_id == stream_id).all()
        reason = "failure_reason" if model is StreamSession else "reason"
        return [{"id": row.id, "state": row.state, "reason": getattr(row, reason), "handle_id": row.handle_id} for row in rows]


def _send_offer_and_drop(backend: Backend, stream_id: str, token: str) -> None:
    peer = SyntheticPublisher()
    try:
        body = json.dumps({"type": "offer", "sdp": peer.create_offer()}).encode()
    finally:
        peer.close()
    send_and_drop(backend.port, "POST", f"/api/v1/streams/{stream_id}/sessions", body, {"Authorization": f"Bearer {token}"})


def test_publisher_drops_before_answer(serve, janus_server, peers) -> None:
    backend = serve(JANUS_URL=janus_server.url, **TIMEOUTS)
    stream, token = backend.create_stream("Clase con publicador perdido")

    _send_offer_and_drop(backend, stream["id"], token)

    (abandoned,) = wait_for(lambda: _rows(backend.app, StreamSession, stream["id"]), lambda rows: len(rows) == 1 and rows[0]["handle_id"], "the dropped offer to reach Janus")
    failed = wait_for(lambda: backend.get_json(f"/api/v1/sessions/{abandoned['id']}"), lambda body: body["state"] not in ("NEW", "NEGOTIATING"), "the connect timeout")
    assert failed["state"] == "FAILED"
    assert failed["reason"].startswith("no WebRTC connection")
    wait_for(lambda: handle_gone(backend.app, abandoned["handle_id"]), bool, "Janus to drop the abandoned publisher handle")
    assert backend.stream(stream["id"])["status"] == "CREATED"

    publisher = peers(SyntheticPublisher)
    session = publisher.publish(backend.url, stream["id"], token)
    wait_for(lambda: backend.get_json(f"/api/v1/sessions/{session['id']}")["state"], lambda state: state == "CONNECTED", "the next publisher to connect")
    assert backend.stream(stream["id"])["status"] == "LIVE"
    viewer = peers(FrameCountingSubscriber)
    viewer.subscribe(backend.url, stream["id"])
    assert viewer.wait_for_frames(FRAMES, timeout=EVENT_WAIT).video_frames >= FRAMES

    assert_consistent(backend, {stream["id"]})


def test_viewers_drop_mid_negotiation(serve, janus_server, peers) -> None:
    backend = serve(JANUS_URL=janus_server.url, **TIMEOUTS)
    stream, token = backend.create_stream("Clase con espectadores perdidos", maxViewers=2)
    publisher = peers(SyntheticPublisher)
    session = publisher.publish(backend.url, stream["id"], token)
    wait_for(lambda: backend.get_json(f"/api/v1/sessions/{session['id']}")["state"], lambda state: state == "CONNECTED", "the publisher to connect")

    # A viewer that resets the connection before it reads Janus's offer.
    send_and_drop(backend.port, "POST", f"/api/v1/streams/{stream['id']}/viewers", b"{}")
    (dropped,) = wait_for(lambda: _rows(backend.app, Viewer, stream["id"]), lambda rows: len(rows) == 1 and rows[0]["handle_id"], "the dropped join to reach Janus")
    expired = wait_for(lambda: backend.get_json(f"/api/v1/viewers/{dropped['id']}"), lambda body: body["state"] == "FAILED", "the answer timeout")
    assert expired["reason"] == "answer_timeout"
    wait_for(lambda: handle_gone(backend.app, dropped["handle_id"]), bool, "Janus to drop the abandoned viewer handle")
    assert backend.stream(stream["id"])["viewerCount"] == 0

    # A viewer that sends its answer and resets the connection before the response still watches.
    late = peers(FrameCountingSubscriber)
    joined = backend.post(f"/api/v1/streams/{stream['id']}/viewers", {})
    assert joined.status_code == 201, joined.text
    answer = json.dumps({"type": "answer", "sdp": late.answer(joined.json()["offer"]["sdp"])}).encode()
    send_and_drop(backend.port, "POST", f"/api/v1/viewers/{joined.json()['id']}/answer", answer)
    watching = wait_for(lambda: backend.get_json(f"/api/v1/viewers/{joined.json()['id']}"), lambda body: body["state"] != "JOINING", "the dropped answer to reach Janus")
    assert watching["state"] in ("CONNECTING", "WATCHING")
    assert late.wait_for_frames(FRAMES, timeout=EVENT_WAIT).video_frames >= FRAMES

    # The stream still takes a viewer up to its limit of 2.
    viewer = peers(FrameCountingSubscriber)
    viewer.subscribe(backend.url, stream["id"])
    assert viewer.wait_for_frames(FRAMES, timeout=EVENT_WAIT).video_frames >= FRAMES
    assert backend.stream(stream["id"])["viewerCount"] == 2
    assert backend.get_json(f"/api/v1/sessions/{session['id']}")["state"] == "CONNECTED"

    assert_consistent(backend, {stream["id"]})
