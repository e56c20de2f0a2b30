"""Fault: the backend process is killed (SIGKILL) while streams are LIVE with viewers, and a new one starts.

The backend runs as it does in production: gunicorn with gunicorn.conf.py, on
MariaDB or a SQLite file, with a real Janus. The new process reconciles on its
first request, so viewer counts drop to 0 and every stream is still listed. A
publisher that comes back keeps its stream LIVE, and a stream whose publisher
does not come back ENDS after the reconnect window. The unit-level rules of
that reconciliation are tested in tests/module2_session/test_reconcile.py.
"""

from __future__ import annotations

import pytest

from tests.faults.conftest import EVENT_WAIT, FRAMES, Backend, assert_consistent, kill_gunicorn, publish_and_watch, publish_when_ready, wait_for
from tests.services.media import FrameCountingSubscriber, SyntheticPublisher

pytestmark = [pytest.mark.janus, pytest.mark.media]

# Seconds the new process waits for a publisher to come back.
RECONNECT_WINDOW = "20"


def _publish_and_watch(backend: Backend, peers, title: str) -> tuple[dict, str]:
    stream, token = backend.create_stream(title)
    publish_and_watch(backend, peers, stream["id"], token)
    return stream, token


@pytest.mark.parametrize("database", ["sqlite", pytest.param("mariadb", marks=pytest.mark.mariadb)])
def test_backend_killed_and_restarted(request, tmp_path, database, gunicorn_factory, janus_server, peers, open_socket) -> None:
    database_url = request.getfixturevalue("mariadb_url") if database == "mariadb" else f"sqlite:///{tmp_path / 'backend.db'}"
    settings = {"DATABASE_URL": database_url, "JANUS_URL": janus_server.url, "ADMIN_TOKEN": "test-admin-token", "WS_MAX_SOCKETS": "10", "HTTP_THREADS": "8"}
    first = gunicorn_factory(**settings, RECONNECT_WINDOW="600")
    old = Backend(first.url)

    returning, returning_token = _publish_and_watch(old, peers, "Clase cuyo publicador vuelve")
    abandoned, _ = _publish_and_watch(old, peers, "Clase abandonada")
    created, _ = old.create_stream("Clase sin empezar")
    finished, finished_token = old.create_stream("Clase terminada")
    assert old.post(f"/api/v1/streams/{finished['id']}/start", token=finished_token).status_code == 200
    assert old.post(f"/api/v1/streams/{finished['id']}/end", token=finished_token).status_code == 200
    events = open_socket(old.ws_url(returning["id"]))
    assert events.receive(EVENT_WAIT)["type"] == "snapshot"
    before = old.all_streams()
    assert {before[returning["id"]]["viewerCount"], before[abandoned["id"]]["viewerCount"]} == {1}

    kill_gunicorn(first)
    assert events.receive(EVENT_WAIT) is None
    second = gunicorn_factory(**settings, RECONNECT_WINDOW=RECONNECT_WINDOW)
    backend = Backend(second.url)

    after_restart = backend.all_streams()
    assert after_restart.keys() == before.keys()
    for stream_id, stream in before.items():
        assert (after_restart[stream_id]["title"], after_restart[stream_id]["viewerCount"]) == (stream["title"], 0)
    assert after_restart[returning["id"]]["status"] == "LIVE"
    assert after_restart[abandoned["id"]]["status"] == "LIVE"

    # The publisher comes back within the window; a viewer joins again.
    publisher = peers(SyntheticPublisher)
    session = publish_when_ready(backend, publisher, returning["id"], returning_token)
    wait_for(lambda: backend.get_json(f"/api/v1/sessions/{session['id']}")["state"], lambda state: state == "CONNECTED", "the returning publisher to connect")
    viewer = peers(FrameCountingSubscriber)
    viewer.subscribe(backend.url, returning["id"])
    assert viewer.wait_for_frames(FRAMES, timeout=EVENT_WAIT).video_frames >= FRAMES

    # The other publisher never comes back: its stream ends with the window.
    ended = wait_for(lambda: backend.stream(abandoned["id"]), lambda body: body["status"] != "LIVE", "the reconnect window to end the abandoned stream", timeout=EVENT_WAIT)

    assert (ended["status"], ended["viewerCount"]) == ("ENDED", 0)
    streams = assert_consistent(backend, set(before))
    assert streams.keys() == before.keys()
    assert {stream_id: stream["status"] for stream_id, stream in streams.items()} == {
        returning["id"]: "LIVE",
        abandoned["id"]: "ENDED",
        created["id"]: "CREATED",
        finished["id"]: "ENDED",
    }
    assert streams[returning["id"]]["viewerCount"] == 1
    assert "unhandled error" not in second.log_path.read_text(errors="replace")
