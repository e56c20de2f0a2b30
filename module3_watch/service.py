"""Viewer logic of module 3: join, answer, trickle, leave, Janus events and timeouts.

No Flask imports: every function takes a SQLAlchemy session, the event bus and,
where Janus is involved, the Janus client, so the logic runs the same in a request,
in a background thread or in a test.

Viewer slots are counted in ``stream_viewer_counts``. A slot is taken with one
conditional UPDATE (``count < max``) in the same transaction that inserts the
viewer row, and given back in the same transaction that moves the row to a
final state, guarded by the row's current state. So the limit holds under
concurrent joins on SQLite and MariaDB, and a viewer frees its slot exactly once
whichever path (leave, hangup, timeout, end of stream) gets there first.
"""

from __future__ import annotations

import logging
import threading
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Callable, Iterable

from flask_babel import lazy_gettext as _l
from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from common.errors import ApiError
from common.events import EventBus
from module3_watch.models import (
    ACTIVE_STATES,
    CONNECTING,
    FAILED,
    JOINING,
    LEFT,
    WATCHING,
    StreamViewerCount,
    Viewer,
    new_id,
    utcnow,
)

logger = logging.getLogger(__name__)

VIDEOROOM_PLUGIN = "janus.plugin.videoroom"

# Serializes "read the count, publish it" so the last viewers.count event of a
# stream always carries the count after the last committed change.
_count_publish_lock = threading.RLock()


@dataclass(frozen=True)
class Released:
    """A viewer that just reached a final state, and the Janus handle still to detach (if any)."""

    viewer_id: str
    stream_id: str
    handle_id: int | None


# ---------------------------------------------------------------------------
# Viewer slots and counts
# ---------------------------------------------------------------------------


def viewer_counts(session: Session, stream_ids: Iterable[str]) -> dict[str, int]:
    """Return the active viewer count of each stream id (0 for streams without a counter row).

    This is the ``viewer_count_provider`` module 1 calls to fill ``viewerCount``.
    """
    ids = list(dict.fromkeys(stream_ids))
    counts = dict.fromkeys(ids, 0)
    if not ids:
        return counts
    rows = session.execute(select(StreamViewerCount.stream_id, StreamViewerCount.count).where(StreamViewerCount.stream_id.in_(ids)))
    for stream_id, count in rows:
        counts[stream_id] = max(count, 0)
    return counts


def _ensure_counter_row(session: Session, stream_id: str) -> None:
    """Create the stream's counter row with 0 unless it exists; concurrent creators are fine."""
    session.commit()
    if session.scalar(select(StreamViewerCount.stream_id).where(StreamViewerCount.stream_id == stream_id)) is not None:
        session.commit()
        return
    try:
        session.execute(insert(StreamViewerCount).values(stream_id=stream_id, count=0))
        session.commit()
    except IntegrityError:
        # Another request created the row between the SELECT and the INSERT.
        session.rollback()


def take_slot(session: Session, stream_id: str, max_viewers: int) -> bool:
    """Add 1 to the stream's viewer count unless it reached ``max_viewers``; True when it did.

    One conditional UPDATE decides, so concurrent callers cannot both take the
    last slot. The change is left uncommitted for the caller to commit together
    with the viewer row (or to roll back).
    """
    _ensure_counter_row(session, stream_id)
    result = session.execute(
        update(StreamViewerCount)
        .where(StreamViewerCount.stream_id == stream_id, StreamViewerCount.count < max_viewers)
        .values(count=StreamViewerCount.count + 1)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def _give_back_slot(session: Session, stream_id: str) -> None:
    """Subtract 1 from the stream's viewer count, never below 0 (uncommitted)."""
    session.execute(
        update(StreamViewerCount)
        .where(StreamViewerCount.stream_id == stream_id, StreamViewerCount.count > 0)
        .values(count=StreamViewerCount.count - 1)
        .execution_options(synchronize_session=False)
    )


def reserve_viewer(session: Session, stream_id: str, max_viewers: int, room_id: int | None = None, feed_id: int | None = None) -> Viewer:
    """Take a slot and insert a JOINING viewer in one transaction, then commit.

    Raises ApiError ``viewer_limit_reached`` (409) when the stream is full; nothing changes then.
    """
    if not take_slot(session, stream_id, max_viewers):
        session.rollback()
        logger.info("viewer limit %d reached on stream %s", max_viewers, stream_id)
        raise ApiError("viewer_limit_reached", maxViewers=max_viewers)

    now = utcnow()
    viewer = Viewer(id=new_id(), stream_id=stream_id, state=JOINING, room_id=room_id, feed_id=feed_id, created_at=now, updated_at=now)
    session.add(viewer)
    session.commit()
    return viewer


def publish_viewer_count(session: Session, bus: EventBus, stream_id: str) -> int:
    """Read the stream's committed viewer count and publish it as a ``viewers.count`` event."""
    with _count_publish_lock:
        # End any open transaction so the read returns every committed change
        # (MariaDB's REPEATABLE READ would otherwise repeat an older snapshot).
        session.commit()
        count = viewer_counts(session, [stream_id])[stream_id]
        session.commit()
        bus.publish(stream_id, "viewers.count", {"viewerCount": count})
    return count


def finish_viewer(
    session: Session,
    bus: EventBus,
    viewer_id: str,
    state: str,
    reason: str,
    from_states: Iterable[str] = ACTIVE_STATES,
    *conditions: Any,
) -> Released | None:
    """Move a viewer in one of ``from_states`` to LEFT or FAILED and give its slot back, once.

    ``conditions`` are extra SQL conditions the row must meet. Returns None when
    the row did not match (another path finished it first, or it moved on), else
    what the caller still has to detach in Janus.
    """
    now = utcnow()
    session.commit()
    result = session.execute(
        update(Viewer)
        .where(Viewer.id == viewer_id, Viewer.state.in_(list(from_states)), *conditions)
        .values(state=state, reason=reason[:255], left_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        session.rollback()
        return None
    stream_id, handle_id = session.execute(select(Viewer.stream_id, Viewer.handle_id).where(Viewer.id == viewer_id)).one()
    _give_back_slot(session, stream_id)
    session.commit()

    logger.info("viewer %s of stream %s is %s (%s)", viewer_id, stream_id, state, reason)
    publish_viewer_count(session, bus, stream_id)
    return Released(viewer_id, stream_id, handle_id)


def finish_stream_viewers(session: Session, bus: EventBus, stream_id: str, state: str, reason: str, feed_id: int | None = None) -> list[Released]:
    """Finish every active viewer of a stream (only those of ``feed_id`` when given)."""
    query = select(Viewer.id).where(Viewer.stream_id == stream_id, Viewer.state.in_(ACTIVE_STATES))
    if feed_id is not None:
        query = query.where(Viewer.feed_id == feed_id)
    viewer_ids = list(session.scalars(query))
    session.commit()

    released = []
    for viewer_id in viewer_ids:
        done = finish_viewer(session, bus, viewer_id, state, reason)
        if done is not None:
            released.append(done)
    return released


def reset_after_restart(session: Session, reason: str = "server_restarted") -> int:
    """Fail every active viewer and recount every stream; return how many viewers failed.

    Called before the first request of a process: Janus handles of a previous
    process died with that process's Janus session, so its viewers cannot be watching any more.
    """
    now = utcnow()
    result = session.execute(
        update(Viewer)
        .where(Viewer.state.in_(ACTIVE_STATES))
        .values(state=FAILED, reason=reason, left_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    failed = result.rowcount or 0
    # Every viewer is final now, so the right count of every stream is 0.
    session.execute(update(StreamViewerCount).where(StreamViewerCount.count != 0).values(count=0).execution_options(synchronize_session=False))
    session.commit()
    if failed:
        logger.warning("marked %d viewers of a previous server process as FAILED (%s)", failed, reason)
    return failed


# ---------------------------------------------------------------------------
# Reading viewers
# ---------------------------------------------------------------------------


def get_viewer(session: Session, viewer_id: str) -> Viewer:
    """Return the viewer or raise ApiError ``not_found``."""
    try:
        canonical = str(uuid.UUID(viewer_id)) if len(viewer_id) == 36 else None
    except ValueError:
        canonical = None
    viewer = session.get(Viewer, canonical) if canonical else None
    if viewer is None:
        raise ApiError("not_found", _l("No viewer with id %(id)s.", id=viewer_id))
    return viewer


def is_live(session: Session, stream_id: str) -> bool:
    """Return whether the stream's committed status is LIVE right now."""
    from module1_streammeta.models import Stream

    session.commit()
    status = session.scalar(select(Stream.status).where(Stream.id == stream_id))
    session.commit()
    return status == "LIVE"


def publisher_session(session: Session, stream_id: str) -> Any:
    """Return the stream's active publisher session, else its latest one, else None."""
    from module2_session.models import StreamSession
    from module2_session.service import active_publisher

    active = active_publisher(session, stream_id)
    if active is not None:
        return active
    query = select(StreamSession).where(StreamSession.stream_id == stream_id).order_by(StreamSession.created_at.desc()).limit(1)
    return session.scalars(query).first()


# ---------------------------------------------------------------------------
# State changes driven by Janus events and by timeouts
# ---------------------------------------------------------------------------


def mark_answered(session: Session, viewer_id: str) -> bool:
    """Move a JOINING viewer to CONNECTING; False when it was not JOINING any more."""
    now = utcnow()
    session.commit()
    result = session.execute(
        update(Viewer)
        .where(Viewer.id == viewer_id, Viewer.state == JOINING)
        .values(state=CONNECTING, answered_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    session.commit()
    return result.rowcount == 1


def record_handle(session: Session, viewer_id: str, janus_session_id: int | None, handle_id: int) -> bool:
    """Store the viewer's Janus handle; False when the viewer was finished meanwhile."""
    session.commit()
    result = session.execute(
        update(Viewer)
        .where(Viewer.id == viewer_id, Viewer.state == JOINING)
        .values(janus_session_id=janus_session_id, handle_id=handle_id, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    session.commit()
    return result.rowcount == 1


def mark_connected(session: Session, viewer_id: str) -> bool:
    """Move a JOINING or CONNECTING viewer to WATCHING (Janus reported webrtcup)."""
    now = utcnow()
    session.commit()
    result = session.execute(
        update(Viewer)
        .where(Viewer.id == viewer_id, Viewer.state.in_((JOINING, CONNECTING)))
        .values(state=WATCHING, connected_at=now, updated_at=now, media_stopped_at=None)
        .execution_options(synchronize_session=False)
    )
    session.commit()
    if result.rowcount == 1:
        logger.info("viewer %s is WATCHING", viewer_id)
    return result.rowcount == 1


def mark_media(session: Session, viewer_id: str, receiving: bool) -> bool:
    """Record that Janus stopped (or resumed) receiving media on the viewer's connection.

    Returns True when this call recorded a stop, so the caller starts the media timeout.
    """
    values: dict[str, Any] = {"updated_at": utcnow()}
    condition = [Viewer.id == viewer_id, Viewer.state == WATCHING]
    if receiving:
        values["media_stopped_at"] = None
    else:
        # Keep the first stop time when Janus reports audio and video separately.
        values["media_stopped_at"] = utcnow()
        condition.append(Viewer.media_stopped_at.is_(None))
    session.commit()
    result = session.execute(update(Viewer).where(*condition).values(**values).execution_options(synchronize_session=False))
    session.commit()
    return not receiving and result.rowcount == 1


def finish_after_janus_event(session: Session, bus: EventBus, viewer_id: str, kind: str, data: dict[str, Any]) -> Released | None:
    """Finish a viewer after a Janus event that ends its connection; None for other events.

    ``kind`` and ``data`` are those of common.janus.JanusEvent. The returned
    Released has no handle when Janus already dropped it.
    """
    if kind == "hangup":
        reason = str(data.get("reason") or "hangup")
        # Janus reports "DTLS alert" when the peer closed its connection on
        # purpose; "ICE failed" and anything else count as failures.
        state = LEFT if "DTLS alert" in reason else FAILED
        return finish_viewer(session, bus, viewer_id, state, f"hangup: {reason}")

    if kind in ("detached", "handle_lost"):
        state, reason = (LEFT, "janus_detached") if kind == "detached" else (FAILED, f"handle_lost: {data.get('reason') or 'janus_restarted'}")
        released = finish_viewer(session, bus, viewer_id, state, reason)
        return None if released is None else Released(released.viewer_id, released.stream_id, None)

    if kind == "event":
        # The publisher's room went away, or Janus ended this subscription.
        if data.get("videoroom") == "destroyed":
            return finish_viewer(session, bus, viewer_id, LEFT, "room_destroyed")
        if data.get("left") == "ok":
            return finish_viewer(session, bus, viewer_id, LEFT, "janus_left")
    return None


def expire_unanswered(session: Session, bus: EventBus, viewer_id: str) -> Released | None:
    """Fail a viewer still JOINING (it never sent its answer)."""
    return finish_viewer(session, bus, viewer_id, FAILED, "answer_timeout", (JOINING,))


def expire_unconnected(session: Session, bus: EventBus, viewer_id: str) -> Released | None:
    """Fail a viewer still CONNECTING (it answered, but ICE/DTLS never completed)."""
    return finish_viewer(session, bus, viewer_id, FAILED, "connect_timeout", (CONNECTING,))


def expire_without_socket(session: Session, bus: EventBus, viewer_id: str) -> Released | None:
    """Fail an active viewer whose client closed every event socket bound to it and opened none since."""
    return finish_viewer(session, bus, viewer_id, FAILED, "events_socket_closed")


def expire_without_media(session: Session, bus: EventBus, viewer_id: str, media_timeout: float) -> Released | None:
    """Fail a WATCHING viewer whose media stopped at least ``media_timeout`` seconds ago."""
    cutoff = utcnow() - timedelta(seconds=media_timeout)
    return finish_viewer(
        session, bus, viewer_id, FAILED, "media_timeout", (WATCHING,), Viewer.media_stopped_at.is_not(None), Viewer.media_stopped_at <= cutoff
    )


# ---------------------------------------------------------------------------
# The viewer flow through Janus
# ---------------------------------------------------------------------------


def join_stream(
    session: Session,
    bus: EventBus,
    connect: Callable[[], Any],
    stream_id: str,
    listener_for: Callable[[str], Callable[[Any], None]],
) -> tuple[Viewer, str]:
    """Add a viewer to a live stream and return it with Janus's subscriber offer SDP.

    ``connect()`` returns the started common.janus.JanusClient. It is called only
    once the stream is known to be live. ``listener_for(viewer_id)`` returns the
    callback for the viewer's handle events.

    Raises ApiError ``not_found`` (unknown stream), ``stream_not_live`` (not LIVE
    or no active publisher), ``viewer_limit_reached``, or the Janus error mapped
    by ``janus_error``. On any failure after the slot was taken the viewer is
    FAILED, its slot given back and its Janus handle detached.
    """
    from common.janus import VideoRoom
    from module1_streammeta.service import get_stream
    from module2_session.service import active_publisher

    stream = get_stream(session, stream_id)
    publisher = active_publisher(session, stream_id) if stream.status == "LIVE" else None
    if publisher is None or publisher.room_id is None or publisher.feed_id is None:
        raise ApiError("stream_not_live", streamStatus=stream.status)
    room_id, feed_id, max_viewers = publisher.room_id, publisher.feed_id, stream.max_viewers
    session.commit()

    viewer = reserve_viewer(session, stream_id, max_viewers, room_id=room_id, feed_id=feed_id)
    viewer_id = viewer.id
    publish_viewer_count(session, bus, stream_id)

    handle_id: int | None = None
    janus: Any = None
    try:
        janus = connect()
        handle_id = janus.attach(VIDEOROOM_PLUGIN, listener=listener_for(viewer_id), opaque_id=f"viewer-{viewer_id}")
        # The stream may have ended since it was read; its end finished the
        # viewers it found, and this check catches a viewer added after that.
        if not record_handle(session, viewer_id, janus.session_id, handle_id) or not is_live(session, stream_id):
            raise ApiError("stream_not_live")
        offer_sdp = VideoRoom(janus).join_subscriber(handle_id, room_id, feed_id)
    except Exception as exc:
        _fail_join(session, bus, janus, viewer_id, handle_id, exc)
        _raise_mapped(exc, "join")

    logger.info("viewer %s joined stream %s (room %s, feed %s, handle %s)", viewer_id, stream_id, room_id, feed_id, handle_id)
    return get_viewer(session, viewer_id), offer_sdp


def _fail_join(session: Session, bus: EventBus, janus: Any, viewer_id: str, handle_id: int | None, exc: Exception) -> None:
    reason = f"join_failed: {getattr(exc, 'code', None) or exc.__class__.__name__}"
    logger.warning("viewer %s could not join (handle %s): %s", viewer_id, handle_id, exc)
    session.rollback()
    finish_viewer(session, bus, viewer_id, FAILED, reason)
    if janus is not None and handle_id is not None:
        detach_handle(janus, handle_id)


def _check_active(viewer: Viewer) -> None:
    if viewer.state not in ACTIVE_STATES or viewer.handle_id is None:
        raise ApiError("viewer_closed", viewerState=viewer.state)


def answer_viewer(session: Session, bus: EventBus, connect: Callable[[], Any], viewer_id: str, answer_sdp: str) -> Viewer:
    """Hand the viewer's SDP answer to Janus so media starts.

    Raises ApiError ``not_found``, ``viewer_closed`` (409) when the viewer left or
    failed, ``conflict`` (409) when it already answered, or the Janus error mapped
    by ``janus_error`` (the viewer is then FAILED and its handle detached).
    """
    from common.janus import VideoRoom

    viewer = get_viewer(session, viewer_id)
    _check_active(viewer)
    if viewer.state != JOINING:
        raise ApiError("conflict", _l("This viewer already sent its answer."), viewerState=viewer.state)
    handle_id = viewer.handle_id

    # CONNECTING first, so a webrtcup that Janus sends right after "start" finds it.
    if not mark_answered(session, viewer_id):
        session.expire_all()
        viewer = get_viewer(session, viewer_id)
        _check_active(viewer)
        raise ApiError("conflict", _l("This viewer already sent its answer."), viewerState=viewer.state)
    janus: Any = None
    try:
        janus = connect()
        VideoRoom(janus).start(handle_id, answer_sdp)
    except Exception as exc:
        logger.warning("Janus rejected the answer of viewer %s (handle %s): %s", viewer_id, handle_id, exc)
        session.rollback()
        released = finish_viewer(session, bus, viewer_id, FAILED, f"answer_failed: {getattr(exc, 'code', None) or exc.__class__.__name__}")
        if released is not None and janus is not None:
            detach_handle(janus, handle_id)
        _raise_mapped(exc, "answer")

    logger.info("viewer %s answered (handle %s)", viewer_id, handle_id)
    session.expire_all()
    return get_viewer(session, viewer_id)


def trickle_viewer(session: Session, bus: EventBus, connect: Callable[[], Any], viewer_id: str, candidates: list[dict[str, Any]], completed: bool) -> None:
    """Pass the viewer's ICE candidates, and the end-of-candidates mark when ``completed``, to Janus.

    Raises ApiError ``not_found``, ``viewer_closed`` (409) when the viewer left,
    failed, or Janus no longer has its handle, or the mapped Janus error.
    """
    from common.janus.errors import JanusHandleNotFound

    viewer = get_viewer(session, viewer_id)
    _check_active(viewer)
    handle_id = viewer.handle_id
    session.commit()
    try:
        janus = connect()
        if len(candidates) == 1:
            janus.trickle(handle_id, candidates[0])
        elif candidates:
            janus.trickle(handle_id, candidates)
        if completed:
            janus.trickle(handle_id, {"completed": True})
    except JanusHandleNotFound:
        finish_viewer(session, bus, viewer_id, FAILED, "janus_handle_gone")
        raise ApiError("viewer_closed", viewerState=FAILED) from None
    except Exception as exc:
        _raise_mapped(exc, "trickle")
    logger.debug("viewer %s: %d candidates trickled%s", viewer_id, len(candidates), ", completed" if completed else "")


def leave_viewer(session: Session, bus: EventBus, janus: Any, viewer_id: str) -> Viewer:
    """End a viewer on its own request; leaving twice changes nothing the second time."""
    get_viewer(session, viewer_id)
    released = finish_viewer(session, bus, viewer_id, LEFT, "left")
    if released is not None and released.handle_id is not None and janus is not None:
        detach_handle(janus, released.handle_id)
    session.expire_all()
    return get_viewer(session, viewer_id)


def detach_handle(janus: Any, handle_id: int) -> None:
    """Detach a viewer's Janus handle; a handle Janus no longer has counts as detached."""
    from common.janus.errors import JanusError, JanusHandleNotFound, JanusSessionNotFound

    try:
        janus.detach(handle_id)
    except (JanusHandleNotFound, JanusSessionNotFound):
        logger.debug("Janus handle %s was already gone", handle_id)
    except JanusError as exc:
        logger.warning("detaching Janus handle %s failed: %s", handle_id, exc)


def janus_error(exc: Exception, step: str) -> Exception:
    """Map a Janus client exception during ``step`` ("join", "answer", "trickle") to the ApiError the API returns.

    ApiErrors and exceptions that do not come from Janus pass through unchanged.
    """
    from common.janus.errors import (
        JanusError,
        JanusHandleNotFound,
        JanusInvalidJsep,
        JanusSessionLost,
        JanusTimeout,
        JanusUnavailable,
        NoSuchFeed,
        NoSuchRoom,
        VideoRoomError,
    )

    if isinstance(exc, ApiError) or not isinstance(exc, JanusError):
        return exc
    if isinstance(exc, JanusTimeout):
        return ApiError("janus_timeout")
    if isinstance(exc, (JanusSessionLost, JanusHandleNotFound)):
        return ApiError("janus_unavailable", _l("Janus restarted during the request; join the stream again."))
    if isinstance(exc, JanusUnavailable):
        return ApiError("janus_unavailable")
    if step == "join" and isinstance(exc, (NoSuchFeed, NoSuchRoom)):
        # The publisher's feed or room went away between our checks and Janus's reply.
        return ApiError("stream_not_live")
    if step == "answer" and isinstance(exc, (JanusInvalidJsep, VideoRoomError)):
        return ApiError("invalid_sdp", _l("Janus rejected the SDP answer: %(reason)s", reason=exc.reason), janusCode=exc.code)
    return ApiError("janus_error", _l("Janus rejected the request: %(reason)s", reason=exc.reason), janusCode=exc.code)


def _raise_mapped(exc: Exception, step: str) -> None:
    mapped = janus_error(exc, step)
    if mapped is exc:
        raise exc
    raise mapped from None
