"""End to end: an aiortc publisher negotiates through the backend's HTTP API alone, and Janus carries its media.

Everything runs inside the hermetic network namespace
(``scripts/hermetic-run .venv/bin/pytest tests/module2_session``): a real Janus,
the backend in a thread (or a subprocess for the restart test) and aiortc peers
whose only address is 127.0.0.2. With --base-url the graded tests publish to
the live server instead, once the ``media_reachable`` probe connected a peer.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import pytest
import requests

from common.janus import VIDEOROOM_PLUGIN
from module2_session.runtime import get_runtime
from tests.module2_session.conftest import EVENT_WAIT, create_stream, read_session, read_stream, wait_for
from tests.services.api_client import ApiClient
from tests.services.availability import free_port
from tests.services.media import VIDEO_HEIGHT, VIDEO_WIDTH, FrameCountingSubscriber, SyntheticPublisher

pytestmark = [pytest.mark.janus, pytest.mark.media]

REPO = Path(__file__).resolve().parents[2]
FINAL_STATES = ("CLOSED", "FAILED")
# A live server's RECONNECT_WINDOW is unknown (30 s by default); the in-process app uses 2 s.
HANGUP_END_WAIT = 120.0


def _serve(make_app, live_server_factory, janus_url: str, **settings) -> tuple[object, ApiClient, str]:
    app = make_app(JANUS_URL=janus_url, **settings)
    server = live_server_factory(app)
    return app, ApiClient(base_url=server.url), server.url


def _publish_connected(api: ApiClient, url: str, publisher: SyntheticPublisher) -> tuple[dict, str, dict]:
    """Create a stream, publish to it and wait until the backend reports the session CONNECTED."""
    stream, token = create_stream(api)
    created = publisher.publish(url, stream["id"], token)
    assert publisher.wait_for_connection_state({"connected", "failed"}, EVENT_WAIT) == "connected"
    session = wait_for(lambda: read_session(api, created["id"]), lambda body: body["state"] != "NEGOTIATING", "webrtcup")
    assert session["state"] == "CONNECTED", session
    # The event thread starts the stream right after it commits the session's new state.
    wait_for(lambda: read_stream(api, stream["id"]), lambda body: body["status"] != "CREATED", "the stream to go LIVE")
    return stream, token, session


@pytest.mark.grade(module=2, es="Un emisor aiortc con audio y vídeo conecta (webrtcup) y la emisión pasa a LIVE")
def test_publish_goes_live_with_media(janus_api, server_url, publisher, media_reachable) -> None:
    """An aiortc publisher with audio and video connects (webrtcup) and the stream goes LIVE."""
    stream, _token, session = _publish_connected(janus_api, server_url, publisher)

    media = wait_for(lambda: read_session(janus_api, session["id"]), lambda body: body["media"] == {"audio": True, "video": True}, "Janus to report audio and video")
    assert media["connectedAt"] is not None
    assert media["lastEvent"]["kind"] in {"media", "slowlink", "event", "webrtcup"}
    live = read_stream(janus_api, stream["id"])
    assert live["status"] == "LIVE"
    assert live["startedAt"] is not None


def test_janus_forwards_published_media(own_videoroom, janus_api, server_url, publisher) -> None:
    _stream, _token, session = _publish_connected(janus_api, server_url, publisher)

    # Janus forwards the publisher's frames to a subscriber of the feed.
    handle_id = own_videoroom.client.attach(VIDEOROOM_PLUGIN)
    with FrameCountingSubscriber() as subscriber:
        offer = own_videoroom.join_subscriber(handle_id, session["roomId"], session["feedId"])
        own_videoroom.start(handle_id, subscriber.answer(offer))
        stats = subscriber.wait_for_frames(30, timeout=EVENT_WAIT, audio_frames=10)
    own_videoroom.client.detach(handle_id)
    assert stats.video_frames >= 30
    assert stats.audio_frames >= 10
    assert (stats.width, stats.height) == (VIDEO_WIDTH, VIDEO_HEIGHT)


def test_disconnect_ends_stream_after_window(make_app, live_server_factory, janus_server, publisher, own_videoroom) -> None:
    _app, api, url = _serve(make_app, live_server_factory, janus_server.url, RECONNECT_WINDOW=2.0)
    stream, _token, session = _publish_connected(api, url, publisher)

    publisher.close()

    closed = wait_for(lambda: read_session(api, session["id"]), lambda body: body["state"] in FINAL_STATES, "Janus to report the hangup")
    assert closed["reason"].startswith("Janus hung up")
    ended = wait_for(lambda: read_stream(api, stream["id"]), lambda body: body["status"] == "ENDED", "the reconnect window to end the stream")
    assert ended["endedAt"] is not None
    wait_for(lambda: {"exists": own_videoroom.exists(session["roomId"])}, lambda body: body["exists"] is False, "the room to be destroyed")


@pytest.mark.grade(module=2, es="Cuando el emisor cuelga, su sesión se cierra y la emisión termina (ENDED) sin quedarse atascada")
def test_hangup_ends_stream(janus_api, server_url, publisher, media_reachable) -> None:
    """When the publisher hangs up, its session closes and the stream ends instead of staying stuck."""
    stream, _token, session = _publish_connected(janus_api, server_url, publisher)

    publisher.close()

    closed = wait_for(lambda: read_session(janus_api, session["id"]), lambda body: body["state"] in FINAL_STATES, "Janus to report the hangup")
    # Any readable reason will do: a student's server need not word it like the reference.
    assert isinstance(closed["reason"], str)
    assert closed["reason"].strip()
    assert closed["closedAt"] is not None
    ended = wait_for(lambda: read_stream(janus_api, stream["id"]), lambda body: body["status"] == "ENDED", "the reconnect window to end the stream", timeout=HANGUP_END_WAIT)
    assert ended["endedAt"] is not None


def test_reconnect_within_window_keeps_stream(make_app, live_server_factory, janus_server, publisher) -> None:
    app, api, url = _serve(make_app, live_server_factory, janus_server.url, RECONNECT_WINDOW=60.0)
    stream, token, first = _publish_connected(api, url, publisher)
    publisher.close()
    wait_for(lambda: read_session(api, first["id"]), lambda body: body["state"] in FINAL_STATES, "Janus to report the hangup")
    # The event thread starts the window right after it commits the session's new state.
    _wait_window(app, stream["id"], pending=True)

    with SyntheticPublisher() as again:
        second = again.publish(url, stream["id"], token)
        assert again.wait_for_connection_state({"connected", "failed"}, EVENT_WAIT) == "connected"
        connected = wait_for(lambda: read_session(api, second["id"]), lambda body: body["state"] != "NEGOTIATING", "webrtcup")
        # Checked while the second publisher is still connected: its hang-up at the end of
        # this block starts a new window.
        _wait_window(app, stream["id"], pending=False)
        assert read_stream(api, stream["id"])["status"] == "LIVE"

    assert connected["state"] == "CONNECTED"
    assert connected["roomId"] == first["roomId"]


def _wait_window(app, stream_id: str, pending: bool) -> None:
    runtime = get_runtime(app)
    wait_for(lambda: {"pending": runtime.reconnect_window_pending(stream_id)}, lambda body: body["pending"] is pending, f"reconnect window pending={pending}")


def test_janus_killed_fails_session(make_app, live_server_factory, janus_factory, publisher) -> None:
    janus = janus_factory()
    _app, api, url = _serve(make_app, live_server_factory, janus.url, RECONNECT_WINDOW=2.0)
    stream, _token, session = _publish_connected(api, url, publisher)

    janus.kill()

    failed = wait_for(lambda: read_session(api, session["id"]), lambda body: body["state"] in FINAL_STATES, "the backend to notice Janus is gone")
    assert failed["state"] == "FAILED"
    assert failed["reason"].startswith("Janus unreachable")
    ended = wait_for(lambda: read_stream(api, stream["id"]), lambda body: body["status"] == "ENDED", "the reconnect window to end the stream")
    assert ended["status"] == "ENDED"


def test_janus_restart_then_publish_again(make_app, live_server_factory, janus_factory, publisher) -> None:
    janus = janus_factory()
    _app, api, url = _serve(make_app, live_server_factory, janus.url, RECONNECT_WINDOW=60.0)
    stream, token, session = _publish_connected(api, url, publisher)

    janus.restart()

    failed = wait_for(lambda: read_session(api, session["id"]), lambda body: body["state"] in FINAL_STATES, "the backend to notice the restart")
    assert failed["state"] == "FAILED"
    assert failed["reason"].startswith("Janus")
    with SyntheticPublisher() as again:
        second = _wait_publish(again, url, stream["id"], token)
        assert again.wait_for_connection_state({"connected", "failed"}, EVENT_WAIT) == "connected"
        connected = wait_for(lambda: read_session(api, second["id"]), lambda body: body["state"] != "NEGOTIATING", "webrtcup")
    assert connected["state"] == "CONNECTED"
    assert connected["roomId"] != session["roomId"] or connected["feedId"] != session["feedId"]
    assert read_stream(api, stream["id"])["status"] == "LIVE"


def _wait_publish(peer: SyntheticPublisher, url: str, stream_id: str, token: str) -> dict:
    """Publish once the backend accepts it: right after a Janus restart it may still report 503."""
    offer = peer.create_offer()
    deadline = time.monotonic() + EVENT_WAIT
    while True:
        response = peer.post_offer(url, stream_id, token, offer)
        if response.status_code == 201 or time.monotonic() > deadline:
            break
        assert response.status_code in (503, 504), response.text
        time.sleep(0.5)
    assert response.status_code == 201, response.text
    body = response.json()
    peer.accept_answer(body["answer"]["sdp"])
    return body


@pytest.fixture
def backend_process(tmp_path: Path, app_config: dict, janus_server) -> Iterator[tuple[subprocess.Popen, str]]:
    """The module 2 backend in its own process on the test's database, so the test can kill it like a crash."""
    port = free_port()
    environ = {
        **os.environ,
        "DATABASE_URL": app_config["DATABASE_URL"],
        "JANUS_URL": janus_server.url,
        "ADMIN_TOKEN": app_config["ADMIN_TOKEN"],
        "RECONNECT_WINDOW": "600",
        "LOG_LEVEL": "INFO",
    }
    code = f"from module2_session import create_app; create_app().run(host='127.0.0.1', port={port}, threaded=True, use_reloader=False)"
    with open(tmp_path / "backend.log", "wb") as log:
        process = subprocess.Popen([sys.executable, "-c", code], cwd=REPO, env=environ, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + EVENT_WAIT
        while True:
            try:
                if requests.get(url + "/health", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"backend did not start:\n{(tmp_path / 'backend.log').read_text(errors='replace')[-3000:]}")
            time.sleep(0.2)
        yield process, url
    finally:
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def test_backend_restart_reconciles(make_app, backend_process, janus_server, publisher, own_videoroom, app_config) -> None:
    process, url = backend_process
    old_api = ApiClient(base_url=url)
    stream, _token, session = _publish_connected(old_api, url, publisher)
    assert read_stream(old_api, stream["id"])["status"] == "LIVE"

    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=10)
    app = make_app(JANUS_URL=janus_server.url, RECONNECT_WINDOW=2.0)
    api = ApiClient(app=app)

    reconciled = read_session(api, session["id"])
    assert reconciled["state"] == "CLOSED"
    assert reconciled["reason"] == "backend restarted"
    assert read_stream(api, stream["id"])["status"] == "LIVE"
    _wait_window(app, stream["id"], pending=True)
    wait_for(lambda: {"exists": own_videoroom.exists(session["roomId"])}, lambda body: body["exists"] is False, "the earlier room to be destroyed")
    ended = wait_for(lambda: read_stream(api, stream["id"]), lambda body: body["status"] == "ENDED", "the reconnect window to end the stream")
    assert ended["endedAt"] is not None


def test_delete_connected_keeps_stream_live(make_app, live_server_factory, janus_server, publisher, own_videoroom) -> None:
    app, api, url = _serve(make_app, live_server_factory, janus_server.url, RECONNECT_WINDOW=60.0)
    stream, token, session = _publish_connected(api, url, publisher)

    response = api.delete(f"/api/v1/sessions/{session['id']}", headers={"Authorization": f"Bearer {token}"})

    assert response.status_code == 204, response.text
    closed = read_session(api, session["id"])
    assert closed["state"] == "CLOSED"
    assert closed["reason"] == "closed by the publisher"
    assert own_videoroom.exists(session["roomId"]) is False
    assert read_stream(api, stream["id"])["status"] == "LIVE"
    _wait_window(app, stream["id"], pending=True)
