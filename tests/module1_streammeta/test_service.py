"""The service called directly, as module 2 does from its Janus event thread: no request, no app."""

from __future__ import annotations

from typing import Iterator

import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from common.db import Base
from common.errors import ApiError
from common.events import EventBus
from module1_streammeta import service
from module1_streammeta.models import Stream


@pytest.fixture
def session(tmp_path) -> Iterator[Session]:
    """A plain SQLAlchemy session on a fresh SQLite file, with no Flask app at all."""
    engine = create_engine(f"sqlite:///{tmp_path / 'service.db'}")
    Base.metadata.create_all(engine, tables=[Stream.__table__])
    with Session(engine) as session:
        yield session
    engine.dispose()


@pytest.fixture
def bus() -> EventBus:
    return EventBus()


def _events(bus: EventBus) -> list[dict]:
    received: list[dict] = []
    bus.add_listener(received.append)
    return received


def test_create_and_get(session) -> None:
    stream, token = service.create_stream(session, title="Directo", max_viewers=3, owner_name="")

    found = service.get_stream(session, stream.id)

    assert found.id == stream.id
    assert found.status == "CREATED"
    assert found.version == 1
    assert found.owner_name is None
    assert found.token_hash != token
    assert found.search_text == "directo\n"


def test_transition_publishes_after_commit(session, bus) -> None:
    events = _events(bus)
    stream, _token = service.create_stream(session, title="Directo", max_viewers=3)

    started = service.transition(session, bus, stream.id, "start")

    assert started.status == "LIVE"
    assert started.version == 2
    assert started.started_at is not None
    assert [event["data"] for event in events] == [{"status": "LIVE", "previous": "CREATED", "version": 2}]
    assert events[0]["streamId"] == stream.id


def test_transition_rejects_invalid(session, bus) -> None:
    events = _events(bus)
    stream, _token = service.create_stream(session, title="Directo", max_viewers=3)
    service.transition(session, bus, stream.id, "end")

    with pytest.raises(ApiError) as caught:
        service.transition(session, bus, stream.id, "start")

    assert caught.value.code == "invalid_transition"
    assert caught.value.status == 409
    assert caught.value.extra == {"currentStatus": "ENDED", "targetStatus": "LIVE", "action": "start"}
    assert "ENDED" in str(caught.value.detail)
    assert len(events) == 1


def test_transition_version_mismatch(session, bus) -> None:
    stream, _token = service.create_stream(session, title="Directo", max_viewers=3)

    with pytest.raises(ApiError) as caught:
        service.transition(session, bus, stream.id, "start", expected_version=5)

    assert caught.value.code == "precondition_failed"
    assert caught.value.extra == {"currentVersion": 1}
    assert service.get_stream(session, stream.id).status == "CREATED"


def test_transition_sees_other_sessions_change(session, bus) -> None:
    """A stream object loaded before another session changed the row is re-read, not trusted."""
    stream, _token = service.create_stream(session, title="Directo", max_viewers=3)
    stale = service.get_stream(session, stream.id)
    with Session(session.get_bind()) as other:
        service.transition(other, bus, stream.id, "start")

    with pytest.raises(ApiError) as caught:
        service.transition(session, bus, stale.id, "start")

    assert caught.value.code == "invalid_transition"
    assert caught.value.extra["currentStatus"] == "LIVE"


def test_get_unknown_stream(session) -> None:
    with pytest.raises(ApiError) as caught:
        service.get_stream(session, "00000000-0000-4000-8000-000000000000")

    assert caught.value.code == "not_found"


def test_update_and_delete(session, bus) -> None:
    stream, _token = service.create_stream(session, title="Uno", max_viewers=3)

    updated = service.update_stream(session, stream.id, {"title": "Dos"})
    assert updated.version == 2
    assert updated.search_text == "dos\n"

    stream_id = stream.id
    service.delete_stream(session, stream_id, expected_version=2)
    with pytest.raises(ApiError) as caught:
        service.get_stream(session, stream_id)
    assert caught.value.code == "not_found"


def test_list_rejects_unknown_sort(session) -> None:
    with pytest.raises(ValueError):
        service.list_streams(session, sort="id")


def test_authorize(session) -> None:
    stream, token = service.create_stream(session, title="Uno", max_viewers=3)

    service.authorize(stream, f"Bearer {token}", admin_token="")
    service.authorize(stream, "Bearer admin", admin_token="admin")
    with pytest.raises(ApiError) as missing:
        service.authorize(stream, None, admin_token="admin")
    with pytest.raises(ApiError) as wrong:
        service.authorize(stream, "Bearer nope", admin_token="")

    assert missing.value.status == 401
    assert wrong.value.status == 403
