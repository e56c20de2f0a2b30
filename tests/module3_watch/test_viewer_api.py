"""Viewer API in-process, without Janus: checks before Janus, validation, leaving, timeouts and clean-up.

Janus is unreachable here (JANUS_URL points at a closed port), which is how
these tests check that every failure after a slot was taken gives the slot back.
Joining through a real Janus is in test_e2e_media.py. With --base-url the
tests that take only ``api`` (and ``admin``) run against the live server.
"""

from __future__ import annotations

import time
from typing import Any, Callable

import pytest

from common.db import db
from common.janus import JanusEvent
from module1_streammeta.models import utcnow
from module2_session.models import StreamSession
from module3_watch import service
from module3_watch.models import CONNECTING, FAILED, JOINING, LEFT, WATCHING, Viewer
from tests.module1_streammeta.helpers import assert_problem, bearer, error_fields

UNKNOWN_ID = "00000000-0000-4000-8000-000000000000"
FAKE_HANDLE = 4242
# Maximum seconds a test waits for the viewer worker to apply a timeout or an event.
WORKER_WAIT = 10.0


@pytest.fixture
def live_stream(api, admin, make_stream) -> dict[str, Any]:
    """A stream moved to LIVE by the instructor, with no publisher."""
    stream, _token = make_stream(maxViewers=3)
    assert api.post(f"/api/v1/streams/{stream['id']}/start", headers=admin).status_code == 200
    return stream


def add_publisher(app: Any, stream_id: str, feed_id: int = 77) -> str:
    """Insert a CONNECTED publisher session row, as module 2 leaves it after webrtcup."""
    now = utcnow()
    record = StreamSession(
        stream_id=stream_id, active_stream_id=stream_id, state="CONNECTED", room_id=1234, feed_id=feed_id, created_at=now, updated_at=now
    )
    with app.app_context():
        db.session.add(record)
        db.session.commit()
        return record.id


def add_viewer(app: Any, stream_id: str, state: str = JOINING, feed_id: int = 77) -> str:
    """Take a slot and store a viewer in ``state`` with a made-up Janus handle."""
    with app.app_context():
        viewer_id = service.reserve_viewer(db.session, stream_id, 10, room_id=1234, feed_id=feed_id).id
        service.record_handle(db.session, viewer_id, 1, FAKE_HANDLE)
        if state in (CONNECTING, WATCHING):
            service.mark_answered(db.session, viewer_id)
        if state == WATCHING:
            service.mark_connected(db.session, viewer_id)
        if state == LEFT:
            service.finish_viewer(db.session, app.extensions["events"], viewer_id, LEFT, "left")
    return viewer_id


def viewer_row(app: Any, viewer_id: str) -> Viewer:
    with app.app_context():
        viewer = db.session.get(Viewer, viewer_id)
        db.session.expunge(viewer)
        return viewer


def viewer_count(api: Any, stream_id: str) -> int:
    response = api.get(f"/api/v1/streams/{stream_id}")
    assert response.status_code == 200, response.text
    return response.json()["viewerCount"]


def wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WORKER_WAIT
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {WORKER_WAIT:g} s waiting for {what}")
        time.sleep(0.05)


# --- joining -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stream_id", "status", "code"),
    [
        (UNKNOWN_ID, 404, "not_found"),
        ("not-a-uuid", 404, "not_found"),
    ],
    ids=["unknown uuid", "not a uuid"],
)
@pytest.mark.grade(module=3, es="Unirse como espectador a una emisión que no existe recibe 404 not_found")
def test_join_unknown_stream(api, stream_id, status, code):
    """Joining an unknown stream as a viewer gets 404 not_found."""
    assert_problem(api.post(f"/api/v1/streams/{stream_id}/viewers", json={}), status, code)


@pytest.mark.grade(module=3, es="Solo se puede ver una emisión LIVE con emisor; si no, 409 stream_not_live")
@pytest.mark.parametrize("action", [None, "end", "start"], ids=["created", "ended", "live without publisher"])
def test_join_needs_live_stream_with_publisher(api, make_stream, action):
    """Only a LIVE stream with a publisher can be watched; otherwise 409 stream_not_live."""
    stream, token = make_stream()
    if action:
        assert api.post(f"/api/v1/streams/{stream['id']}/{action}", headers=bearer(token)).status_code == 200

    # CREATED, ENDED, and LIVE without a publisher all return stream_not_live.
    assert_problem(api.post(f"/api/v1/streams/{stream['id']}/viewers", json={}), 409, "stream_not_live")
    assert viewer_count(api, stream["id"]) == 0


@pytest.mark.grade(module=3, es="Unirse como espectador no necesita cuerpo")
def test_join_accepts_no_body(api, make_stream):
    """Joining as a viewer needs no request body."""
    stream, _token = make_stream()

    assert_problem(api.post(f"/api/v1/streams/{stream['id']}/viewers"), 409, "stream_not_live")


@pytest.mark.parametrize(
    ("body", "headers", "status", "code"),
    [
        ({"display": "Ana"}, None, 400, "validation_error"),
        ([], None, 400, "validation_error"),
        ("{not json", {"Content-Type": "application/json"}, 400, "malformed_json"),
    ],
    ids=["unknown field", "list", "malformed json"],
)
@pytest.mark.grade(module=3, es="Unirse con un cuerpo no válido recibe 400")
def test_join_rejects_bad_body(api, live_stream, body, headers, status, code):
    """Joining with an invalid body gets 400."""
    if isinstance(body, str):
        response = api.post(f"/api/v1/streams/{live_stream['id']}/viewers", data=body, headers=headers)
    else:
        response = api.post(f"/api/v1/streams/{live_stream['id']}/viewers", json=body)

    assert_problem(response, status, code)


def test_janus_down_gives_slot_back(app, api, live_stream):
    add_publisher(app, live_stream["id"])

    for _attempt in range(4):
        # maxViewers is 3: a slot that was not given back would turn the 4th try into 409.
        assert_problem(api.post(f"/api/v1/streams/{live_stream['id']}/viewers", json={}), 503, "janus_unavailable")

    assert viewer_count(api, live_stream["id"]) == 0
    with app.app_context():
        rows = db.session.query(Viewer).filter_by(stream_id=live_stream["id"]).all()
        assert [row.state for row in rows] == [FAILED] * 4


def test_stream_not_live_in_english(api, make_stream):
    stream, _token = make_stream()

    response = api.post(f"/api/v1/streams/{stream['id']}/viewers", json={}, headers={"Accept-Language": "en"})

    assert_problem(response, 409, "stream_not_live")
    assert response.headers["Content-Language"] == "en"


# --- reading and counting --------------------------------------------------------


def test_get_viewer(app, api, live_stream):
    viewer_id = add_viewer(app, live_stream["id"])

    response = api.get(f"/api/v1/viewers/{viewer_id}")

    assert response.status_code == 200
    body = response.json()
    assert body["id"] == viewer_id
    assert body["streamId"] == live_stream["id"]
    assert body["state"] == JOINING
    assert body["createdAt"].endswith("Z")
    assert "handleId" not in body


@pytest.mark.grade(module=3, es="Leer, responder, enviar candidatos o borrar un espectador que no existe recibe 404")
@pytest.mark.parametrize("viewer_id", [UNKNOWN_ID, "nope", "x" * 100], ids=["unknown uuid", "not a uuid", "long id"])
def test_unknown_viewer_404(api, viewer_id):
    """Reading, answering, trickling to or deleting an unknown viewer gets 404."""
    assert_problem(api.get(f"/api/v1/viewers/{viewer_id}"), 404, "not_found")
    assert_problem(api.post(f"/api/v1/viewers/{viewer_id}/answer", json={"type": "answer", "sdp": "v=0\r\n"}), 404, "not_found")
    assert_problem(api.post(f"/api/v1/viewers/{viewer_id}/candidates", json={"completed": True}), 404, "not_found")
    assert_problem(api.delete(f"/api/v1/viewers/{viewer_id}"), 404, "not_found")


def test_viewer_count_in_stream_json(app, api, live_stream):
    for _ in range(2):
        add_viewer(app, live_stream["id"])

    assert viewer_count(api, live_stream["id"]) == 2
    listed = api.get("/api/v1/streams").json()["items"]
    assert [item["viewerCount"] for item in listed if item["id"] == live_stream["id"]] == [2]


# --- answer ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({}, {"type", "sdp"}),
        ({"type": "offer", "sdp": "v=0\r\n"}, {"type"}),
        ({"type": "answer", "sdp": ""}, {"sdp"}),
        ({"type": "answer", "sdp": 5}, {"sdp"}),
        ({"type": "answer", "sdp": "v=0\r\n", "extra": 1}, {"extra"}),
        ({"type": "answer", "sdp": "v" * 100_001}, {"sdp"}),
    ],
)
def test_answer_rejects_bad_body(app, api, live_stream, body, fields):
    viewer_id = add_viewer(app, live_stream["id"])

    problem = assert_problem(api.post(f"/api/v1/viewers/{viewer_id}/answer", json=body), 400, "validation_error")

    assert error_fields(problem) == fields
    assert viewer_row(app, viewer_id).state == JOINING


@pytest.mark.parametrize(("state", "code"), [(LEFT, "viewer_closed"), (CONNECTING, "conflict"), (WATCHING, "conflict")])
def test_answer_in_wrong_state(app, api, live_stream, state, code):
    viewer_id = add_viewer(app, live_stream["id"], state)

    assert_problem(api.post(f"/api/v1/viewers/{viewer_id}/answer", json={"type": "answer", "sdp": "v=0\r\n"}), 409, code)


def test_answer_with_janus_down_fails_viewer(app, api, live_stream):
    viewer_id = add_viewer(app, live_stream["id"])

    assert_problem(api.post(f"/api/v1/viewers/{viewer_id}/answer", json={"type": "answer", "sdp": "v=0\r\n"}), 503, "janus_unavailable")

    assert viewer_row(app, viewer_id).state == FAILED
    assert viewer_count(api, live_stream["id"]) == 0


# --- candidates ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({}, 400, "validation_error"),
        ({"candidate": "candidate:1 1 udp 1 127.0.0.2 5000 typ host"}, 400, "validation_error"),
        ({"candidate": "not a candidate", "sdpMid": "0"}, 400, "validation_error"),
        ([], 400, "validation_error"),
        ({"completed": False}, 400, "validation_error"),
    ],
)
def test_candidates_reject_bad_body(app, api, live_stream, body, status, code):
    viewer_id = add_viewer(app, live_stream["id"])

    assert_problem(api.post(f"/api/v1/viewers/{viewer_id}/candidates", json=body), status, code)


@pytest.mark.parametrize(
    ("data", "content_type", "status", "code"),
    [
        ("{", "application/json", 400, "malformed_json"),
        ("null", "application/json", 400, "validation_error"),
        ("candidate", "text/plain", 415, "unsupported_media_type"),
    ],
)
def test_candidates_reject_non_json(app, api, live_stream, data, content_type, status, code):
    viewer_id = add_viewer(app, live_stream["id"])

    response = api.post(f"/api/v1/viewers/{viewer_id}/candidates", data=data, headers={"Content-Type": content_type})

    assert_problem(response, status, code)


def test_candidates_for_left_viewer(app, api, live_stream):
    viewer_id = add_viewer(app, live_stream["id"], LEFT)

    assert_problem(api.post(f"/api/v1/viewers/{viewer_id}/candidates", json={"completed": True}), 409, "viewer_closed")


def test_candidates_with_janus_down(app, api, live_stream):
    viewer_id = add_viewer(app, live_stream["id"])
    candidate = {"candidate": "candidate:1 1 udp 2130706431 127.0.0.2 50000 typ host", "sdpMid": "0", "sdpMLineIndex": 0}

    assert_problem(api.post(f"/api/v1/viewers/{viewer_id}/candidates", json=candidate), 503, "janus_unavailable")


# --- leaving and clean-up --------------------------------------------------------


def test_leave_frees_slot_once(app, api, live_stream):
    viewer_id = add_viewer(app, live_stream["id"])
    add_viewer(app, live_stream["id"])

    first = api.delete(f"/api/v1/viewers/{viewer_id}")
    second = api.delete(f"/api/v1/viewers/{viewer_id}")

    assert (first.status_code, second.status_code) == (204, 204)
    assert viewer_count(api, live_stream["id"]) == 1
    row = viewer_row(app, viewer_id)
    assert (row.state, row.reason) == (LEFT, "left")
    assert row.left_at is not None


def test_end_of_stream_removes_viewers(app, api, admin, live_stream):
    viewer_ids = [add_viewer(app, live_stream["id"], state) for state in (JOINING, CONNECTING, WATCHING)]

    assert api.post(f"/api/v1/streams/{live_stream['id']}/end", headers=admin).status_code == 200

    # The count is 0 when the call that ended the stream returns.
    assert viewer_count(api, live_stream["id"]) == 0
    assert [(viewer_row(app, viewer_id).state, viewer_row(app, viewer_id).reason) for viewer_id in viewer_ids] == [(LEFT, "stream_ended")] * 3


def test_publisher_leaving_removes_its_viewers(app, api, live_stream):
    session_id = add_publisher(app, live_stream["id"], feed_id=77)
    on_feed = add_viewer(app, live_stream["id"], WATCHING, feed_id=77)
    on_other_feed = add_viewer(app, live_stream["id"], WATCHING, feed_id=78)

    app.extensions["events"].publish(live_stream["id"], "session.state", {"sessionId": session_id, "state": "CLOSED", "reason": "test"})

    assert (viewer_row(app, on_feed).state, viewer_row(app, on_feed).reason) == (LEFT, "publisher_left")
    assert viewer_row(app, on_other_feed).state == WATCHING
    assert viewer_count(api, live_stream["id"]) == 1


def test_unanswered_viewer_times_out(make_app):
    app = make_app(VIEWER_ANSWER_TIMEOUT=0.3)
    from tests.module3_watch.conftest import create_stream
    from tests.services.api_client import ApiClient

    api = ApiClient(app=app)
    stream, _token = create_stream(api)
    viewer_id = add_viewer(app, stream["id"])

    app.extensions["viewer_worker"].viewer_joined(viewer_id)
    wait_for(lambda: viewer_row(app, viewer_id).state == FAILED, "the answer timeout")

    assert viewer_row(app, viewer_id).reason == "answer_timeout"
    assert viewer_count(api, stream["id"]) == 0


def test_unconnected_viewer_times_out(make_app):
    app = make_app(VIEWER_MEDIA_TIMEOUT=0.3)
    from tests.module3_watch.conftest import create_stream
    from tests.services.api_client import ApiClient

    api = ApiClient(app=app)
    stream, _token = create_stream(api)
    viewer_id = add_viewer(app, stream["id"], CONNECTING)

    app.extensions["viewer_worker"].viewer_answered(viewer_id)
    wait_for(lambda: viewer_row(app, viewer_id).state == FAILED, "the connect timeout")

    assert viewer_row(app, viewer_id).reason == "connect_timeout"


# --- Janus handle events -----------------------------------------------------------
# These call the handle listener with the events Janus sends, to check how each
# one maps onto the viewer. test_e2e_media.py gets them from a real Janus.


@pytest.mark.parametrize(
    ("kind", "data", "state", "reason"),
    [
        ("hangup", {"reason": "DTLS alert"}, LEFT, "hangup: DTLS alert"),
        ("hangup", {"reason": "ICE failed"}, FAILED, "hangup: ICE failed"),
        ("detached", {}, LEFT, "janus_detached"),
        ("handle_lost", {"reason": "Janus restarted"}, FAILED, "handle_lost: Janus restarted"),
        ("event", {"videoroom": "destroyed", "room": 1234}, LEFT, "room_destroyed"),
    ],
)
def test_janus_event_ends_viewer(app, api, live_stream, kind, data, state, reason):
    viewer_id = add_viewer(app, live_stream["id"], WATCHING)
    listener = app.extensions["viewer_worker"].listener_for(viewer_id)

    listener(JanusEvent(kind, FAKE_HANDLE, data))
    wait_for(lambda: viewer_row(app, viewer_id).state != WATCHING, f"the {kind} event")

    assert (viewer_row(app, viewer_id).state, viewer_row(app, viewer_id).reason) == (state, reason)
    assert viewer_count(api, live_stream["id"]) == 0


def test_webrtcup_marks_watching(app, live_stream):
    viewer_id = add_viewer(app, live_stream["id"], CONNECTING)
    listener = app.extensions["viewer_worker"].listener_for(viewer_id)

    listener(JanusEvent("webrtcup", FAKE_HANDLE, {}))
    wait_for(lambda: viewer_row(app, viewer_id).state == WATCHING, "webrtcup")

    assert viewer_row(app, viewer_id).connected_at is not None


def test_media_stop_times_out(make_app):
    app = make_app(VIEWER_MEDIA_TIMEOUT=0.3)
    from tests.module3_watch.conftest import create_stream
    from tests.services.api_client import ApiClient

    stream, _token = create_stream(ApiClient(app=app))
    stopped = add_viewer(app, stream["id"], WATCHING)
    resumed = add_viewer(app, stream["id"], WATCHING)
    worker = app.extensions["viewer_worker"]

    worker.listener_for(stopped)(JanusEvent("media", FAKE_HANDLE, {"type": "video", "receiving": False}))
    worker.listener_for(resumed)(JanusEvent("media", FAKE_HANDLE, {"type": "video", "receiving": False}))
    worker.listener_for(resumed)(JanusEvent("media", FAKE_HANDLE, {"type": "video", "receiving": True}))
    wait_for(lambda: viewer_row(app, stopped).state == FAILED, "the media timeout")
    # Three timeouts later the viewer whose media came back still watches.
    time.sleep(0.9)

    assert viewer_row(app, stopped).reason == "media_timeout"
    assert viewer_row(app, resumed).state == WATCHING


def test_viewers_of_earlier_process_reset_on_first_request(make_app):
    from tests.module3_watch.conftest import create_stream
    from tests.services.api_client import ApiClient

    earlier = make_app()
    stream, _token = create_stream(ApiClient(app=earlier))
    viewer_id = add_viewer(earlier, stream["id"], WATCHING)

    # Building an app (as CLI commands do) leaves the viewers alone; its first request resets them.
    later = make_app()
    assert viewer_row(later, viewer_id).state == WATCHING
    api = ApiClient(app=later)

    assert viewer_count(api, stream["id"]) == 0
    assert (viewer_row(later, viewer_id).state, viewer_row(later, viewer_id).reason) == (FAILED, "server_restarted")
