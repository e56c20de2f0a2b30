"""The viewer limit under concurrency: one conditional UPDATE decides, on SQLite and on MariaDB.

These tests drive the service functions from many threads at once, each with
its own database session, as concurrent requests would. Joining through the
HTTP API with a real Janus is covered by test_e2e_media.py.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

from sqlalchemy import func, select

from common.db import db
from common.errors import ApiError
from module3_watch import service
from module3_watch.models import ACTIVE_STATES, FAILED, LEFT, Viewer

JOINS = 50
MAX_VIEWERS = 10


def run_concurrently(app: Any, count: int, action: Callable[[Any, int], Any]) -> list[Any]:
    """Run ``action(session, index)`` in ``count`` threads released together; return results or exceptions."""
    barrier = threading.Barrier(count)

    def run(index: int) -> Any:
        with app.app_context():
            barrier.wait(timeout=30)
            try:
                return action(db.session, index)
            except ApiError as error:
                return error
            finally:
                db.session.remove()

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(run, range(count)))


def count_of(app: Any, stream_id: str) -> int:
    with app.app_context():
        return service.viewer_counts(db.session, [stream_id])[stream_id]


def active_rows(app: Any, stream_id: str) -> int:
    with app.app_context():
        query = select(func.count()).select_from(Viewer).where(Viewer.stream_id == stream_id, Viewer.state.in_(ACTIVE_STATES))
        return db.session.scalar(query)


def test_fifty_joins_against_limit_ten(db_backend, app, make_stream):
    stream, _token = make_stream(maxViewers=MAX_VIEWERS)

    results = run_concurrently(app, JOINS, lambda session, _index: service.reserve_viewer(session, stream["id"], MAX_VIEWERS))

    joined = [result for result in results if isinstance(result, Viewer)]
    rejected = [result for result in results if isinstance(result, ApiError)]
    assert len(joined) == MAX_VIEWERS
    assert len(rejected) == JOINS - MAX_VIEWERS
    assert {error.code for error in rejected} == {"viewer_limit_reached"}
    assert {error.status for error in rejected} == {409}
    assert count_of(app, stream["id"]) == MAX_VIEWERS
    assert active_rows(app, stream["id"]) == MAX_VIEWERS


def test_freed_slot_goes_to_one_of_many(db_backend, app, make_stream):
    stream, _token = make_stream(maxViewers=MAX_VIEWERS)
    with app.app_context():
        viewers = [service.reserve_viewer(db.session, stream["id"], MAX_VIEWERS).id for _ in range(MAX_VIEWERS)]
        service.finish_viewer(db.session, app.extensions["events"], viewers[0], LEFT, "left")

    results = run_concurrently(app, 20, lambda session, _index: service.reserve_viewer(session, stream["id"], MAX_VIEWERS))

    assert sum(isinstance(result, Viewer) for result in results) == 1
    assert count_of(app, stream["id"]) == MAX_VIEWERS


def test_racing_finishes_release_once(db_backend, app, make_stream):
    stream, _token = make_stream(maxViewers=MAX_VIEWERS)
    bus = app.extensions["events"]
    with app.app_context():
        viewer_ids = [service.reserve_viewer(db.session, stream["id"], MAX_VIEWERS).id for _ in range(MAX_VIEWERS)]

    # Each viewer is finished by three paths at once: leave, a hangup, the end of the stream.
    paths = [(LEFT, "left"), (FAILED, "hangup: ICE failed"), (LEFT, "stream_ended")]
    results = run_concurrently(
        app,
        len(viewer_ids) * len(paths),
        lambda session, index: service.finish_viewer(session, bus, viewer_ids[index % len(viewer_ids)], *paths[index // len(viewer_ids)]),
    )

    released = [result for result in results if isinstance(result, service.Released)]
    assert sorted(item.viewer_id for item in released) == sorted(viewer_ids)
    assert count_of(app, stream["id"]) == 0
    assert active_rows(app, stream["id"]) == 0


def test_count_never_negative(app, make_stream):
    stream, _token = make_stream()
    bus = app.extensions["events"]
    with app.app_context():
        viewer_id = service.reserve_viewer(db.session, stream["id"], 5).id
        first = service.finish_viewer(db.session, bus, viewer_id, LEFT, "left")
        second = service.finish_viewer(db.session, bus, viewer_id, LEFT, "left")

    assert first is not None
    assert second is None
    assert count_of(app, stream["id"]) == 0


def test_rejected_join_changes_nothing(app, make_stream):
    stream, _token = make_stream(maxViewers=1)
    with app.app_context():
        service.reserve_viewer(db.session, stream["id"], 1)
        try:
            service.reserve_viewer(db.session, stream["id"], 1)
        except ApiError as error:
            code = error.code
        rows = db.session.scalar(select(func.count()).select_from(Viewer).where(Viewer.stream_id == stream["id"]))

    assert code == "viewer_limit_reached"
    assert rows == 1
    assert count_of(app, stream["id"]) == 1
