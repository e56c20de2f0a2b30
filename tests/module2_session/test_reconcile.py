"""Reconciliation on the first request: sessions an earlier backend process left open are closed, and its
LIVE streams end unless their publisher comes back within the reconnect window.

The earlier process is simulated by rows written straight into the database,
so these tests need no Janus (it is a closed port here).
"""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from common.db import db
from module2_session.models import StreamRoom, StreamSession
from module2_session.runtime import get_runtime
from tests.module1_streammeta.helpers import bearer
from tests.module2_session.conftest import create_stream, read_session, read_stream, wait_for
from tests.services.api_client import ApiClient


def _add_session(app, stream_id: str, state: str, **values) -> str:
    now = datetime.now(timezone.utc)
    record = StreamSession(
        stream_id=stream_id,
        active_stream_id=stream_id,
        state=state,
        janus_session_id=111,
        handle_id=222,
        room_id=333,
        room_secret="earlier-secret",
        feed_id=444,
        created_at=now,
        updated_at=now,
        **values,
    )
    with app.app_context():
        db.session.add(record)
        db.session.add(StreamRoom(stream_id=stream_id, room_id=333, room_secret="earlier-secret", janus_session_id=111, created_at=now))
        db.session.commit()
        return record.id


@pytest.fixture
def earlier_app(make_app):
    """The app of the "earlier process": its windows are long so only the new app ends streams."""
    return make_app(RECONNECT_WINDOW=600.0)


def _restart(make_app, earlier_app, **overrides):
    """Stop the earlier app, build a new one on the same database and send it its first request."""
    get_runtime(earlier_app).close()
    app = make_app(**overrides)
    assert ApiClient(app=app).get("/health").status_code == 200
    return app


def _state_in_database(app, session_id: str) -> str:
    with app.app_context():
        return db.session.get(StreamSession, session_id).state


def test_reconcile_waits_for_first_request(make_app, earlier_app) -> None:
    stream, _token = create_stream(ApiClient(app=earlier_app))
    session_id = _add_session(earlier_app, stream["id"], "CONNECTED")
    get_runtime(earlier_app).close()

    app = make_app()
    before = _state_in_database(app, session_id)
    ApiClient(app=app).get("/health")
    after = _state_in_database(app, session_id)

    assert before == "CONNECTED"
    assert after == "CLOSED"


def test_open_sessions_closed(make_app, earlier_app) -> None:
    earlier = ApiClient(app=earlier_app)
    stream, token = create_stream(earlier)
    assert earlier.post(f"/api/v1/streams/{stream['id']}/start", headers=bearer(token)).status_code == 200
    session_id = _add_session(earlier_app, stream["id"], "CONNECTED")

    app = _restart(make_app, earlier_app, RECONNECT_WINDOW=600.0)
    api = ApiClient(app=app)

    session = read_session(api, session_id)
    assert session["state"] == "CLOSED"
    assert session["reason"] == "backend restarted"
    assert session["closedAt"] is not None
    assert read_stream(api, stream["id"])["status"] == "LIVE"
    assert get_runtime(app).reconnect_window_pending(stream["id"])
    with app.app_context():
        assert db.session.get(StreamRoom, stream["id"]) is None


def test_live_stream_ends_after_window(make_app, earlier_app) -> None:
    earlier = ApiClient(app=earlier_app)
    stream, token = create_stream(earlier)
    assert earlier.post(f"/api/v1/streams/{stream['id']}/start", headers=bearer(token)).status_code == 200
    _add_session(earlier_app, stream["id"], "CONNECTED")

    app = _restart(make_app, earlier_app, RECONNECT_WINDOW=0.5)
    api = ApiClient(app=app)

    ended = wait_for(lambda: read_stream(api, stream["id"]), lambda body: body["status"] != "LIVE", "the reconnect window to end the stream")
    assert ended["status"] == "ENDED"
    assert ended["endedAt"] is not None


def test_live_stream_without_sessions_watched(make_app, earlier_app) -> None:
    earlier = ApiClient(app=earlier_app)
    stream, token = create_stream(earlier)
    assert earlier.post(f"/api/v1/streams/{stream['id']}/start", headers=bearer(token)).status_code == 200

    app = _restart(make_app, earlier_app, RECONNECT_WINDOW=600.0)

    assert get_runtime(app).reconnect_window_pending(stream["id"])


def test_created_stream_not_watched(make_app, earlier_app) -> None:
    stream, _token = create_stream(ApiClient(app=earlier_app))
    session_id = _add_session(earlier_app, stream["id"], "NEGOTIATING")

    app = _restart(make_app, earlier_app)
    api = ApiClient(app=app)

    assert read_session(api, session_id)["state"] == "CLOSED"
    assert read_stream(api, stream["id"])["status"] == "CREATED"
    assert not get_runtime(app).reconnect_window_pending(stream["id"])


def test_reconcile_is_idempotent(make_app, earlier_app) -> None:
    stream, _token = create_stream(ApiClient(app=earlier_app))
    session_id = _add_session(earlier_app, stream["id"], "NEGOTIATING")
    first = _restart(make_app, earlier_app)
    updated_at = read_session(ApiClient(app=first), session_id)["updatedAt"]

    second = _restart(make_app, first)

    session = read_session(ApiClient(app=second), session_id)
    assert session["state"] == "CLOSED"
    assert session["reason"] == "backend restarted"
    assert session["updatedAt"] == updated_at


def test_final_sessions_untouched(make_app, earlier_app) -> None:
    stream, _token = create_stream(ApiClient(app=earlier_app))
    session_id = _add_session(earlier_app, stream["id"], "FAILED", failure_reason="Janus hung up: ICE failed")
    with earlier_app.app_context():
        db.session.execute(db.update(StreamSession).where(StreamSession.id == session_id).values(active_stream_id=None))
        db.session.commit()

    app = _restart(make_app, earlier_app)

    session = read_session(ApiClient(app=app), session_id)
    assert session["state"] == "FAILED"
    assert session["reason"] == "Janus hung up: ICE failed"


def test_live_start_without_publisher_watched(make_app) -> None:
    app = make_app(RECONNECT_WINDOW=0.5)
    api = ApiClient(app=app)
    stream, token = create_stream(api)

    assert api.post(f"/api/v1/streams/{stream['id']}/start", headers=bearer(token)).status_code == 200

    ended = wait_for(lambda: read_stream(api, stream["id"]), lambda body: body["status"] != "LIVE", "the reconnect window to end the stream")
    assert ended["status"] == "ENDED"
