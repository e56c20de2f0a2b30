"""End to end: an aiortc publisher -> backend -> Janus -> aiortc viewers, through the backend's HTTP API alone.

Everything runs inside the hermetic network namespace
(``scripts/hermetic-run .venv/bin/pytest tests/module3_watch``): a real Janus,
the complete backend served in a thread, and aiortc peers whose only address
is 127.0.0.2. With --base-url the tests that take ``backend`` run against the
live server once the ``media_reachable`` probe connected a peer; in-process runs
also check what only the app can see (the viewers' Janus handles).
"""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
import requests

from common.db import db
from common.janus.errors import JanusHandleNotFound
from module3_watch.models import Viewer
from tests.module2_session.conftest import wait_for
from tests.module3_watch.conftest import ws_url
from tests.services.api_client import ApiClient, create_stream
from tests.services.janus import JanusServer, _require_janus
from tests.services.media import VIDEO_HEIGHT, VIDEO_WIDTH, FrameCountingSubscriber, SyntheticPublisher

pytestmark = [pytest.mark.janus, pytest.mark.media]

# Bounded waits for what happens asynchronously. Generous because other suites
# share the 2-core machine; only the frame check below has a deadline of its own.
EVENT_WAIT = 30.0
# Each viewer must decode this many frames at the published size within FRAMES_DEADLINE seconds.
FRAMES = 60
FRAMES_DEADLINE = 10.0
HTTP_TIMEOUT = 30.0


class Backend:
    """The server under test reached over HTTP like a real client: the complete app in a thread, or --base-url.

    ``app`` is None for a live server, whose database and Janus the test cannot read.
    """

    def __init__(self, url: str, app: Any = None) -> None:
        self.app = app
        self.url = url

    def ws_url(self, path: str) -> str:
        return ws_url(self.url, path)

    def post(self, path: str, body: Any = None, token: str | None = None) -> requests.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return requests.post(self.url + path, json=body, headers=headers, timeout=HTTP_TIMEOUT)

    def get_json(self, path: str) -> dict[str, Any]:
        response = requests.get(self.url + path, timeout=HTTP_TIMEOUT)
        assert response.status_code == 200, response.text
        return response.json()

    def create_stream(self, **fields: Any) -> tuple[dict[str, Any], str]:
        return create_stream(ApiClient(base_url=self.url), "Clase en directo", **fields)

    def viewer_handles(self, stream_id: str) -> list[int]:
        """Janus handle ids of every viewer row of the stream (read in-process: the API never shows them)."""
        assert self.app is not None, "viewer handles need the app in-process"
        with self.app.app_context():
            return [handle for (handle,) in db.session.query(Viewer.handle_id).filter(Viewer.stream_id == stream_id, Viewer.handle_id.is_not(None))]


@pytest.fixture
def make_backend(make_app, live_server_factory, janus_server) -> Callable[..., Backend]:
    """Serve complete apps on the test Janus with extra settings (in-process only)."""

    def make(**settings: Any) -> Backend:
        app = make_app(JANUS_URL=janus_server.url, **settings)
        return Backend(live_server_factory(app).url, app)

    return make


@pytest.fixture
def backend(base_url, media_reachable, request) -> Backend:
    """The complete app on the test Janus, or the live server given with --base-url."""
    if base_url:
        return Backend(base_url)
    return request.getfixturevalue("make_backend")()


def publish_live(backend: Backend, peers: Callable[[type], Any], **fields: Any) -> tuple[dict[str, Any], str, Any]:
    """Create a stream, publish a synthetic camera to it and wait until it is LIVE."""
    stream, token = backend.create_stream(**fields)
    publisher = peers(SyntheticPublisher)
    publisher.publish(backend.url, stream["id"], token)
    wait_for(lambda: backend.get_json(f"/api/v1/streams/{stream['id']}")["status"], lambda status: status == "LIVE", "the stream to go LIVE")
    return stream, token, publisher


def handle_gone(backend: Backend, handle_id: int) -> bool:
    """Ask Janus about the handle through the backend's own Janus session: True once Janus no longer has it."""
    try:
        backend.app.extensions["janus_client"].trickle(handle_id, {"completed": True})
    except JanusHandleNotFound:
        return True
    return False


def summary(message: dict[str, Any]) -> tuple[str, Any]:
    data = message["data"]
    value = {"snapshot": data.get("status"), "stream.status": data.get("status"), "viewers.count": data.get("viewerCount"), "session.state": data.get("state")}
    return message["type"], value[message["type"]]


@pytest.mark.grade(module=3, es="Dos espectadores aiortc decodifican vídeo 640x360; viewerCount y el WS los cuentan, y al terminar les llega ENDED")
def test_two_viewers_watch_until_stream_ends(backend, peers, open_socket):
    """Two aiortc viewers decode 640x360 video; viewerCount and the socket count them, and ENDED reaches them."""
    stream, token = backend.create_stream()
    events = open_socket(backend.ws_url(f"/ws/streams/{stream['id']}"))
    assert summary(events.receive()) == ("snapshot", "CREATED")
    publisher = peers(SyntheticPublisher)
    publisher.publish(backend.url, stream["id"], token)
    wait_for(lambda: backend.get_json(f"/api/v1/streams/{stream['id']}")["status"], lambda status: status == "LIVE", "the stream to go LIVE")

    viewers = [peers(FrameCountingSubscriber), peers(FrameCountingSubscriber)]
    for viewer in viewers:
        viewer.subscribe(backend.url, stream["id"])
    stats = [viewer.wait_for_frames(FRAMES, timeout=FRAMES_DEADLINE) for viewer in viewers]

    for result in stats:
        assert result.video_frames >= FRAMES
        assert (result.width, result.height) == (VIDEO_WIDTH, VIDEO_HEIGHT)
    assert backend.get_json(f"/api/v1/streams/{stream['id']}")["viewerCount"] == 2
    for viewer in viewers:
        wait_for(lambda: backend.get_json(f"/api/v1/viewers/{viewer.viewer['id']}")["state"], lambda state: state == "WATCHING", "webrtcup")
    handles = backend.viewer_handles(stream["id"]) if backend.app is not None else None
    if handles is not None:
        assert len(handles) == 2

    assert backend.post(f"/api/v1/streams/{stream['id']}/end", token=token).status_code == 200
    messages = [summary(message) for message in events.receive_until_closed()]

    assert events.close_code == 1000
    statuses = [value for kind, value in messages if kind == "stream.status"]
    counts = [value for kind, value in messages if kind == "viewers.count"]
    assert statuses == ["LIVE", "ENDED"]
    assert counts == [1, 2, 1, 0]
    # Order: LIVE, then both viewers join; they are gone before ENDED, which comes last.
    assert messages.index(("stream.status", "LIVE")) < messages.index(("viewers.count", 1))
    assert messages.index(("viewers.count", 2)) < messages.index(("viewers.count", 0)) < messages.index(("stream.status", "ENDED"))
    assert messages[-1] == ("stream.status", "ENDED")
    assert ("session.state", "CONNECTED") in messages
    assert backend.get_json(f"/api/v1/streams/{stream['id']}")["viewerCount"] == 0
    for viewer in viewers:
        row = backend.get_json(f"/api/v1/viewers/{viewer.viewer['id']}")
        assert (row["state"], row["reason"]) == ("LEFT", "stream_ended")
    for handle_id in handles or []:
        wait_for(lambda: handle_gone(backend, handle_id), bool, f"Janus to drop viewer handle {handle_id}")


@pytest.mark.grade(module=3, es="Con maxViewers=10, de 50 uniones a la vez entran 10 con oferta SDP y 40 reciben 409 viewer_limit_reached; DELETE libera las plazas")
def test_fifty_joins_through_api(db_backend, backend, peers):
    """With maxViewers=10, 10 of 50 simultaneous joins get an SDP offer and 40 get 409 viewer_limit_reached; DELETE frees the places."""
    stream, _token, _publisher = publish_live(backend, peers, maxViewers=10)

    def join(_index: int) -> requests.Response:
        return backend.post(f"/api/v1/streams/{stream['id']}/viewers", {})

    with ThreadPoolExecutor(max_workers=50) as pool:
        responses = list(pool.map(join, range(50)))

    joined = [response.json() for response in responses if response.status_code == 201]
    rejected = [response.json() for response in responses if response.status_code != 201]
    assert len(joined) == 10
    assert len(rejected) == 40
    assert {(problem["status"], problem["code"]) for problem in rejected} == {(409, "viewer_limit_reached")}
    assert all(viewer["offer"]["type"] == "offer" and viewer["offer"]["sdp"].startswith("v=0") for viewer in joined)
    assert backend.get_json(f"/api/v1/streams/{stream['id']}")["viewerCount"] == 10

    handles = backend.viewer_handles(stream["id"]) if backend.app is not None else []
    for viewer in joined:
        assert requests.delete(f"{backend.url}/api/v1/viewers/{viewer['id']}", timeout=HTTP_TIMEOUT).status_code == 204
    assert backend.get_json(f"/api/v1/streams/{stream['id']}")["viewerCount"] == 0
    for handle_id in handles:
        assert handle_gone(backend, handle_id)


@pytest.mark.grade(module=3, es="Un espectador que cierra su conexión WebRTC sale y libera su plaza")
def test_viewer_closing_its_connection_frees_slot(backend, peers):
    """A viewer that closes its WebRTC connection leaves and frees its place."""
    stream, _token, _publisher = publish_live(backend, peers)
    viewer = peers(FrameCountingSubscriber)
    viewer.subscribe(backend.url, stream["id"])
    viewer.wait_for_frames(10, timeout=EVENT_WAIT)
    viewer_id = viewer.viewer["id"]

    viewer.close()

    row = wait_for(lambda: backend.get_json(f"/api/v1/viewers/{viewer_id}"), lambda body: body["state"] in ("LEFT", "FAILED"), "Janus to report the hangup")
    assert row["reason"].startswith("hangup")
    assert backend.get_json(f"/api/v1/streams/{stream['id']}")["viewerCount"] == 0


def test_unanswered_viewer_times_out(make_backend, peers):
    backend = make_backend(VIEWER_ANSWER_TIMEOUT=1.0)
    stream, _token, _publisher = publish_live(backend, peers)

    response = backend.post(f"/api/v1/streams/{stream['id']}/viewers", {})
    assert response.status_code == 201, response.text
    viewer_id = response.json()["id"]
    (handle_id,) = backend.viewer_handles(stream["id"])

    row = wait_for(lambda: backend.get_json(f"/api/v1/viewers/{viewer_id}"), lambda body: body["state"] != "JOINING", "the answer timeout")
    assert (row["state"], row["reason"]) == ("FAILED", "answer_timeout")
    assert backend.get_json(f"/api/v1/streams/{stream['id']}")["viewerCount"] == 0
    wait_for(lambda: handle_gone(backend, handle_id), bool, "Janus to drop the handle")


def test_viewer_rejoins_after_publisher_returns(make_backend, peers):
    backend = make_backend(RECONNECT_WINDOW=60.0)
    stream, token, publisher = publish_live(backend, peers)
    first = peers(FrameCountingSubscriber)
    first.subscribe(backend.url, stream["id"])
    first.wait_for_frames(10, timeout=EVENT_WAIT)

    # The publisher hangs up; the stream stays LIVE during its reconnect window.
    assert requests.delete(f"{backend.url}/api/v1/sessions/{publisher.session['id']}", headers={"Authorization": f"Bearer {token}"}, timeout=HTTP_TIMEOUT).status_code in (200, 204)
    row = wait_for(lambda: backend.get_json(f"/api/v1/viewers/{first.viewer['id']}"), lambda body: body["state"] != "WATCHING", "the viewer to leave with its publisher")
    assert (row["state"], row["reason"]) == ("LEFT", "publisher_left")
    assert backend.get_json(f"/api/v1/streams/{stream['id']}")["status"] == "LIVE"
    joined_too_early = backend.post(f"/api/v1/streams/{stream['id']}/viewers", {})
    assert (joined_too_early.status_code, joined_too_early.json()["code"]) == (409, "stream_not_live")

    returning = peers(SyntheticPublisher)
    session = returning.publish(backend.url, stream["id"], token)
    wait_for(lambda: backend.get_json(f"/api/v1/sessions/{session['id']}")["state"], lambda state: state == "CONNECTED", "the publisher to reconnect")
    second = peers(FrameCountingSubscriber)
    second.subscribe(backend.url, stream["id"])

    assert second.wait_for_frames(FRAMES, timeout=EVENT_WAIT).video_frames >= FRAMES
    assert backend.get_json(f"/api/v1/streams/{stream['id']}")["viewerCount"] == 1


@pytest.fixture
def conncheck_janus(tmp_path: Path) -> Iterator[JanusServer]:
    """A Janus whose ICE keepalives are connectivity checks, so it notices a peer that stopped replying.

    Janus 1.1.2 sends no media event about a viewer (a viewer sends no media),
    so this setting (nat: ice_keepalive_conncheck) is how it finds a viewer that vanished.
    """
    server = JanusServer(_require_janus(), tmp_path / "janus-conncheck")
    config = server.config_dir / "janus.jcfg"
    text = config.read_text()
    if not re.search(r"^\s*ice_keepalive_conncheck\s*=\s*true", text, re.M):
        text, count = re.subn(r"^nat\s*:\s*\{", "nat: {\n\tice_keepalive_conncheck = true", text, count=1, flags=re.M)
        assert count == 1, "janus.jcfg has no nat section"
        config.write_text(text)
    server.start()
    yield server
    server.stop()


def test_vanished_viewer_removed_after_ice_failure(make_app, live_server_factory, conncheck_janus, peers):
    app = make_app(JANUS_URL=conncheck_janus.url)
    backend = Backend(live_server_factory(app).url, app)
    stream, _token, _publisher = publish_live(backend, peers)
    viewer = peers(FrameCountingSubscriber)
    viewer.subscribe(backend.url, stream["id"])
    viewer.wait_for_frames(10, timeout=EVENT_WAIT)

    # The viewer's process freezes: its event loop stops, so it neither closes
    # its connection nor replies to ICE checks any more (a crashed tab, a laptop lid).
    loop = freeze(viewer)
    try:
        # libnice gives up on the pair about a minute later (64.6 s measured here).
        row = wait_for(lambda: backend.get_json(f"/api/v1/viewers/{viewer.viewer['id']}"), lambda body: body["state"] != "WATCHING", "Janus to report ICE failed", timeout=180.0)
    finally:
        close_frozen(viewer, loop)

    assert (row["state"], row["reason"]) == ("FAILED", "hangup: ICE failed")
    assert backend.get_json(f"/api/v1/streams/{stream['id']}")["viewerCount"] == 0


def freeze(peer: Any) -> Any:
    """Stop the peer's event loop without closing anything; return the loop.

    NOTE: reaches into tests.services.media's loop thread, which offers no pause.
    """
    loop = peer._loop_thread.loop
    loop.call_soon_threadsafe(loop.stop)
    peer._loop_thread._thread.join(10)
    return loop


def close_frozen(peer: Any, loop: Any) -> None:
    """Close a frozen peer's connection and loop from this thread (its own thread has ended)."""
    import asyncio

    async def close_all() -> None:
        await peer.pc.close()
        current = asyncio.current_task()
        pending = [task for task in asyncio.all_tasks() if task is not current]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        await loop.shutdown_asyncgens()

    loop.run_until_complete(close_all())
    loop.close()
    peer._closed = True
