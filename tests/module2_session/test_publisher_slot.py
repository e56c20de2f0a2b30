"""One active publisher per stream, enforced by the database even when requests race (SQLite and MariaDB)."""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from sqlalchemy.orm import Session

from common.db import db
from common.errors import ApiError
from common.events import EventBus
from module1_streammeta import service as streams
from module2_session import service

THREADS = 8


@pytest.fixture(params=["sqlite", pytest.param("mariadb", marks=pytest.mark.mariadb)])
def slot_app(request, make_app):
    """A module 2 app on SQLite or on a fresh MariaDB database."""
    if request.param == "mariadb":
        return make_app(DATABASE_URL=request.getfixturevalue("mariadb_url"))
    return make_app()


def _new_stream(app) -> str:
    with app.app_context():
        stream, _token = streams.create_stream(db.session, title="Carrera", max_viewers=5)
        return stream.id


def test_racing_claims_one_winner(slot_app) -> None:
    stream_id = _new_stream(slot_app)
    with slot_app.app_context():
        engine = db.engine
    bus = EventBus()
    barrier = threading.Barrier(THREADS)
    outcomes: Counter[str] = Counter()
    lock = threading.Lock()

    def claim() -> None:
        with Session(bind=engine) as session:
            stream = streams.get_stream(session, stream_id)
            barrier.wait(timeout=30)
            try:
                service.claim_publisher_slot(session, bus, stream)
                result = "claimed"
            except ApiError as error:
                result = error.code
        with lock:
            outcomes[result] += 1

    threads = [threading.Thread(target=claim) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert outcomes == Counter({"claimed": 1, "publisher_active": THREADS - 1})


def test_closed_session_frees_slot(slot_app) -> None:
    stream_id = _new_stream(slot_app)
    with slot_app.app_context():
        engine = db.engine
    bus = EventBus()

    with Session(bind=engine) as session:
        stream = streams.get_stream(session, stream_id)
        first = service.claim_publisher_slot(session, bus, stream)
        assert service.change_state(session, bus, first.id, "CLOSED", reason="test") is True
        second = service.claim_publisher_slot(session, bus, stream)

        assert second.id != first.id
        assert service.has_active_session(session, stream_id)
        assert service.change_state(session, bus, first.id, "FAILED", reason="late") is False
