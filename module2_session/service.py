"""Publisher sessions on a SQLAlchemy session and a Janus client: publish, trickle, hang up, react to Janus.

Nothing here reads Flask's request or app. Callers pass the database session,
the event bus and a function that returns the started Janus client.
module2_session.runtime wires them to the app and runs the Janus event
handlers and timers.

Every state change is one conditional UPDATE (``WHERE id = ? AND state IN (...)``),
so a request and a Janus event that race over the same session cannot undo
each other: the first one wins and the other changes nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Iterable, Protocol

from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from common.errors import ApiError
from common.janus import JanusClient, JanusEvent, VideoRoom
from common.janus.errors import (
    JanusError,
    JanusHandleNotFound,
    JanusInvalidJsep,
    JanusProtocolError,
    JanusSessionLost,
    JanusTimeout,
    JanusUnavailable,
    NoSuchRoom,
    PublishersFull,
    VideoRoomError,
)
from module1_streammeta import service as streams
from module1_streammeta.models import Stream, utcnow
from module1_streammeta.state import CREATED, END, ENDED, LIVE, START
from module2_session.models import PUBLISHER, REASON_MAX_LENGTH, StreamRoom, StreamSession, new_session_id
from module2_session.state import (
    ACTIVE_STATES,
    CLOSED,
    CONNECTED,
    FAILED,
    FINAL_STATES,
    NEGOTIATING,
    NEW,
    sources_of,
    state_after_hangup,
)

logger = logging.getLogger(__name__)

VIDEOROOM_PLUGIN = "janus.plugin.videoroom"
PUBLISH_STEP = "publishing the offer"
SESSION_STATE_EVENT = "session.state"
# Keys of Janus event data that are ids or secrets and never reach the API.
_PRIVATE_EVENT_KEYS = frozenset({"janus", "session_id", "sender", "transaction", "private_id", "secret", "jsep", "opaque_id", "token", "apisecret"})

ConnectJanus = Callable[[], tuple[JanusClient, VideoRoom]]
HandleListener = Callable[[JanusEvent], None]


class EventPublisher(Protocol):
    """The part of common.events.EventBus that the service uses."""

    def publish(self, stream_id: str, event_type: str, data: dict[str, Any]) -> Any: ...


# --- reading -----------------------------------------------------------------


def get_session(session: Session, session_id: str) -> StreamSession:
    """Return the session with ``session_id``; raise ApiError not_found (404) when there is none."""
    record = session.get(StreamSession, session_id) if len(session_id) <= 36 else None
    if record is None:
        raise ApiError("not_found", _l("No session with id %(id)s.", id=session_id))
    return record


def active_publisher(session: Session, stream_id: str) -> StreamSession | None:
    """Return the stream's publisher session that is NEGOTIATING or CONNECTED, or None.

    Module 3 reads ``room_id`` and ``feed_id`` from it to subscribe viewers.
    """
    statement = select(StreamSession).where(
        StreamSession.active_stream_id == stream_id,
        StreamSession.state.in_((NEGOTIATING, CONNECTED)),
    )
    return session.scalars(statement).first()


def has_active_session(session: Session, stream_id: str) -> bool:
    """Return whether the stream has a session in NEW, NEGOTIATING or CONNECTED."""
    statement = select(StreamSession.id).where(StreamSession.active_stream_id == stream_id)
    return session.scalars(statement).first() is not None


def authorize_owner(session: Session, record: StreamSession, authorization_header: str | None, admin_token: str) -> Stream:
    """Allow the session's stream owner or the instructor; return the stream.

    Raises ApiError unauthorized (401) or forbidden (403).
    """
    stream = streams.get_stream(session, record.stream_id)
    streams.authorize(stream, authorization_header, admin_token)
    return stream


# --- state changes -----------------------------------------------------------


def _clip(reason: str | None) -> str | None:
    if reason is None:
        return None
    return reason if len(reason) <= REASON_MAX_LENGTH else reason[: REASON_MAX_LENGTH - 3] + "..."


def change_state(
    session: Session,
    bus: EventPublisher,
    session_id: str,
    target: str,
    reason: str | None = None,
    only_from: Iterable[str] | None = None,
    **values: Any,
) -> bool:
    """Move a session to ``target`` if its current state allows it; commit and publish "session.state".

    ``only_from`` narrows the allowed source states. Returns whether the row
    changed; False means another thread moved the session first.
    """
    sources = set(sources_of(target))
    if only_from is not None:
        sources &= set(only_from)
    now = utcnow()
    values.update(state=target, updated_at=now)
    if target in FINAL_STATES:
        values.update(active_stream_id=None, closed_at=now, failure_reason=_clip(reason))
    elif target == CONNECTED:
        values.update(connected_at=now)

    statement = (
        update(StreamSession)
        .where(StreamSession.id == session_id, StreamSession.state.in_(sources))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    changed = session.execute(statement).rowcount == 1
    session.commit()
    if not changed:
        return False

    stream_id = session.scalar(select(StreamSession.stream_id).where(StreamSession.id == session_id))
    logger.info("session %s of stream %s -> %s%s", session_id, stream_id, target, f" ({reason})" if reason else "")
    if stream_id is not None:
        bus.publish(stream_id, SESSION_STATE_EVENT, {"sessionId": session_id, "state": target, "reason": _clip(reason)})
    return True


def _update_fields(session: Session, session_id: str, **values: Any) -> None:
    values["updated_at"] = utcnow()
    statement = update(StreamSession).where(StreamSession.id == session_id).values(**values).execution_options(synchronize_session=False)
    session.execute(statement)
    session.commit()


# --- publishing --------------------------------------------------------------


@dataclass
class PublishResult:
    """A session that Janus accepted, with the SDP answer for the publisher."""

    record: StreamSession
    answer_sdp: str


@dataclass
class FailedAttempt:
    """The clean-up a failed publish leaves to the caller: the handle to detach, if any."""

    session_id: str
    stream_id: str
    handle_id: int | None = None
    reason: str = ""


class PublishFailed(Exception):
    """A failed publish attempt: ``error`` is the ApiError to return and ``attempt`` the clean-up to do."""

    def __init__(self, error: Exception, attempt: FailedAttempt) -> None:
        super().__init__(attempt.reason)
        self.error = error
        self.attempt = attempt


def claim_publisher_slot(session: Session, bus: EventPublisher, stream: Stream) -> StreamSession:
    """Insert a NEW session that owns the stream's only publisher slot.

    Raises ApiError invalid_transition (409) for an ENDED stream and
    publisher_active (409) while another session of the stream is active.
    """
    if stream.status == ENDED:
        raise ApiError(
            "invalid_transition",
            _l("The stream has ENDED, so nobody can publish to it; create a new stream."),
            currentStatus=ENDED,
        )

    now = utcnow()
    record = StreamSession(
        id=new_session_id(),
        stream_id=stream.id,
        active_stream_id=stream.id,
        role=PUBLISHER,
        state=NEW,
        media={"audio": False, "video": False},
        created_at=now,
        updated_at=now,
    )
    session.add(record)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        active = session.scalars(select(StreamSession).where(StreamSession.active_stream_id == stream.id)).first()
        if active is None:
            # The stream was deleted between the read and the insert: get_stream raises not_found.
            streams.get_stream(session, stream.id)
            raise ApiError("conflict") from None
        raise ApiError("publisher_active", activeSessionId=active.id, activeState=active.state) from None

    logger.info("session %s of stream %s created", record.id, stream.id)
    bus.publish(stream.id, SESSION_STATE_EVENT, {"sessionId": record.id, "state": NEW, "reason": None})
    return record


def _ensure_room(session: Session, client: JanusClient, rooms: VideoRoom, stream_id: str) -> StreamRoom:
    """Return the stream's Janus room, creating it (or re-creating a lost one) when needed."""
    room = session.get(StreamRoom, stream_id)
    if room is not None and rooms.exists(room.room_id):
        return room
    if room is not None:
        logger.info("room %s of stream %s no longer exists in Janus; creating a new one", room.room_id, stream_id)
        session.delete(room)
        session.commit()

    room_id, secret = rooms.create_room(description=f"stream {stream_id}", publishers=1)
    room = StreamRoom(stream_id=stream_id, room_id=room_id, room_secret=secret, janus_session_id=client.session_id, created_at=utcnow())
    session.add(room)
    try:
        session.commit()
    except IntegrityError:
        # Another thread stored a room for this stream first: keep theirs, drop ours.
        session.rollback()
        _destroy_room_quietly(rooms, room_id, secret, stream_id)
        room = session.get(StreamRoom, stream_id)
        if room is None:
            raise
        return room
    logger.info("room %s created for stream %s", room_id, stream_id)
    return room


def _janus_api_error(error: JanusError, step: str) -> tuple[ApiError, str]:
    """Map a Janus failure during ``step`` to the ApiError to return and the reason to store."""
    if isinstance(error, JanusTimeout):
        return ApiError("janus_timeout"), f"Janus did not answer in time while {step}"
    if isinstance(error, (JanusSessionLost, JanusHandleNotFound)):
        return (
            ApiError("janus_unavailable", _l("Janus restarted during the request; publish again.")),
            f"Janus restarted while {step}",
        )
    if isinstance(error, JanusUnavailable):
        return ApiError("janus_unavailable"), f"Janus unreachable while {step}"
    if isinstance(error, JanusProtocolError):
        return (
            ApiError("janus_unavailable", _l("The server at JANUS_URL does not respond like Janus: %(reason)s", reason=error.reason)),
            f"Janus unusable while {step}: {error.reason}",
        )
    if isinstance(error, PublishersFull):
        return (
            ApiError("publisher_active", _l("Janus still has a publisher in this stream's room; try again in a few seconds.")),
            f"Janus rejected the publisher: {error.reason}",
        )
    if step == PUBLISH_STEP and isinstance(error, (JanusInvalidJsep, VideoRoomError)):
        return (
            ApiError("invalid_sdp", _l("Janus rejected the offer: %(reason)s", reason=error.reason), janusCode=error.code),
            f"Janus rejected the offer: {error.reason}",
        )
    return (
        ApiError("janus_error", _l("Janus rejected the request: %(reason)s", reason=error.reason), janusCode=error.code),
        f"Janus error while {step}: {error.reason}",
    )


def publish(
    session: Session,
    bus: EventPublisher,
    connect: ConnectJanus,
    stream: Stream,
    offer_sdp: str,
    make_listener: Callable[[str], HandleListener],
) -> PublishResult:
    """Publish an SDP offer to the stream's room and return the new session with Janus's answer.

    Steps: claim the publisher slot (NEW), connect to Janus, create the room if
    the stream has none, attach a videoroom handle (NEGOTIATING), join as
    publisher, send the offer. The session becomes CONNECTED later, when Janus
    reports webrtcup.

    Raises ApiError for problems found before Janus is involved, and
    PublishFailed after the session was created: it is then FAILED, and the
    caller detaches ``attempt.handle_id``.
    """
    record = claim_publisher_slot(session, bus, stream)
    session_id = record.id
    attempt = FailedAttempt(session_id=session_id, stream_id=stream.id)
    step = "connecting to Janus"
    try:
        client, rooms = connect()

        step = "creating the room"
        room = _ensure_room(session, client, rooms, stream.id)

        step = "attaching a handle"
        handle_id = client.attach(VIDEOROOM_PLUGIN, listener=make_listener(session_id), opaque_id=f"stream-{stream.id}")
        attempt.handle_id = handle_id
        moved = change_state(
            session,
            bus,
            session_id,
            NEGOTIATING,
            only_from=(NEW,),
            janus_session_id=client.session_id,
            handle_id=handle_id,
            room_id=room.room_id,
            room_secret=room.room_secret,
        )
        if not moved:
            raise ApiError("conflict", _l("The session was closed while it was being set up (the stream may have ended)."))

        step = "joining the room"
        feed_id, _private_id = rooms.join_publisher(handle_id, room.room_id, display=f"stream {stream.id}")
        _update_fields(session, session_id, feed_id=feed_id)

        step = PUBLISH_STEP
        answer_sdp = rooms.publish(handle_id, offer_sdp)
    except ApiError as error:
        attempt.reason = f"{error.code} while {step}"
        _fail(session, bus, attempt)
        raise PublishFailed(error, attempt) from None
    except JanusError as error:
        api_error, attempt.reason = _janus_api_error(error, step)
        logger.warning("publish of session %s (stream %s) failed while %s: %s", session_id, stream.id, step, error)
        _fail(session, bus, attempt)
        raise PublishFailed(api_error, attempt) from None
    except BaseException as error:
        # An unexpected error still must not leave the session holding the slot.
        attempt.reason = f"internal error while {step}: {error.__class__.__name__}"
        _fail(session, bus, attempt)
        raise

    session.expire_all()
    record = get_session(session, session_id)
    logger.info("session %s of stream %s published (room %s, feed %s, handle %s)", session_id, stream.id, record.room_id, record.feed_id, record.handle_id)
    return PublishResult(record=record, answer_sdp=answer_sdp)


def _fail(session: Session, bus: EventPublisher, attempt: FailedAttempt) -> None:
    session.rollback()
    change_state(session, bus, attempt.session_id, FAILED, reason=attempt.reason)


# --- trickle and hang up ----------------------------------------------------


def trickle(
    session: Session,
    bus: EventPublisher,
    connect: ConnectJanus,
    record: StreamSession,
    candidates: list[dict[str, Any]],
    completed: bool,
) -> int:
    """Forward candidates (and the end-of-candidates mark) to the session's Janus handle; return how many.

    Raises ApiError session_closed (409) when the session is no longer active,
    janus_unavailable (503), janus_timeout (504) or janus_error (502).
    """
    if record.state not in ACTIVE_STATES or record.handle_id is None:
        raise ApiError("session_closed", currentState=record.state)

    forwarded = [_janus_candidate(item) for item in candidates]
    try:
        client, _rooms = connect()
        if len(forwarded) == 1:
            client.trickle(record.handle_id, forwarded[0])
        elif forwarded:
            client.trickle(record.handle_id, forwarded)
        if completed:
            client.trickle(record.handle_id, {"completed": True})
    except JanusHandleNotFound:
        change_state(session, bus, record.id, FAILED, reason="Janus no longer knows the handle")
        raise ApiError("session_closed", currentState=FAILED) from None
    except JanusError as error:
        api_error, reason = _janus_api_error(error, "trickling candidates")
        logger.warning("trickle to session %s failed: %s", record.id, reason)
        raise api_error from None

    logger.debug("session %s: %d candidates trickled%s", record.id, len(forwarded), ", completed" if completed else "")
    return len(forwarded)


def _janus_candidate(item: dict[str, Any]) -> dict[str, Any]:
    candidate: dict[str, Any] = {"candidate": item["candidate"]}
    if "sdpMid" in item:
        candidate["sdpMid"] = item["sdpMid"]
    if "sdpMLineIndex" in item:
        candidate["sdpMLineIndex"] = item["sdpMLineIndex"]
    return candidate


@dataclass
class Teardown:
    """Janus state to release: handles to detach and the room to destroy (if any)."""

    handle_ids: list[int] = field(default_factory=list)
    room: tuple[int, str] | None = None
    stream_id: str | None = None


def close_session(session: Session, bus: EventPublisher, record: StreamSession, reason: str) -> bool:
    """Move an active session to CLOSED with ``reason``; return whether it was active."""
    return change_state(session, bus, record.id, CLOSED, reason=reason)


def close_stream_sessions(session: Session, bus: EventPublisher, stream_id: str, reason: str, target: str = CLOSED) -> list[int]:
    """Move every active session of the stream to ``target``; return their Janus handle ids."""
    statement = select(StreamSession.id, StreamSession.handle_id).where(StreamSession.stream_id == stream_id, StreamSession.state.in_(ACTIVE_STATES))
    handles: list[int] = []
    for session_id, handle_id in session.execute(statement).all():
        if change_state(session, bus, session_id, target, reason=reason) and handle_id is not None:
            handles.append(handle_id)
    return handles


def take_room(session: Session, stream_id: str) -> tuple[int, str] | None:
    """Delete the stream's room row and return (room_id, secret) so the caller destroys it in Janus."""
    room = session.get(StreamRoom, stream_id)
    if room is None:
        return None
    ids = (room.room_id, room.room_secret)
    session.execute(delete(StreamRoom).where(StreamRoom.stream_id == stream_id, StreamRoom.room_id == room.room_id))
    session.commit()
    return ids


def release_janus(client: JanusClient | None, rooms: VideoRoom | None, teardown: Teardown) -> None:
    """Detach handles and destroy the room in Janus; log and skip what Janus no longer has.

    Janus errors are logged, not raised: a Janus that is down has lost this
    state already, or its session timeout will remove it.
    """
    if client is None or rooms is None:
        if teardown.handle_ids or teardown.room:
            logger.warning("Janus not connected; cannot release handles %s or room %s of stream %s", teardown.handle_ids, teardown.room and teardown.room[0], teardown.stream_id)
        return
    for handle_id in teardown.handle_ids:
        try:
            client.detach(handle_id)
            logger.info("handle %s of stream %s detached", handle_id, teardown.stream_id)
        except JanusHandleNotFound:
            logger.debug("handle %s already gone", handle_id)
        except JanusError as error:
            logger.warning("detaching handle %s of stream %s failed: %s", handle_id, teardown.stream_id, error)
    if teardown.room is not None:
        _destroy_room_quietly(rooms, teardown.room[0], teardown.room[1], teardown.stream_id)


def _destroy_room_quietly(rooms: VideoRoom, room_id: int, secret: str, stream_id: str | None) -> None:
    try:
        rooms.destroy_room(room_id, secret)
        logger.info("room %s of stream %s destroyed", room_id, stream_id)
    except NoSuchRoom:
        logger.debug("room %s already gone", room_id)
    except JanusError as error:
        logger.warning("destroying room %s of stream %s failed: %s", room_id, stream_id, error)


# --- Janus events ------------------------------------------------------------


@dataclass
class EventOutcome:
    """The effect of a Janus handle event, so the runtime can start timers and clean up."""

    session_id: str
    stream_id: str | None = None
    handle_id: int | None = None
    new_state: str | None = None


def public_event_data(data: dict[str, Any] | None) -> dict[str, Any]:
    """Keep the scalar values of a Janus event that are neither ids nor secrets."""
    public: dict[str, Any] = {}
    for key, value in (data or {}).items():
        if key in _PRIVATE_EVENT_KEYS:
            continue
        if isinstance(value, (str, int, float, bool)) or value is None:
            public[key] = value
    return public


def _event_record(kind: str, data: dict[str, Any], at: datetime) -> dict[str, Any]:
    return {"kind": kind, "at": at.isoformat(timespec="milliseconds").replace("+00:00", "Z"), "data": public_event_data(data)}


def apply_handle_event(session: Session, bus: EventPublisher, session_id: str, event: JanusEvent) -> EventOutcome:
    """Record a Janus event of the session's handle and apply its state change.

    webrtcup: NEGOTIATING -> CONNECTED, and a CREATED stream goes LIVE.
    media: the ``media`` map notes whether Janus receives audio and video.
    hangup: CLOSED (or FAILED for ICE/DTLS failures and before connecting).
    detached, handle_lost: CLOSED or FAILED with the reason.
    """
    record = session.get(StreamSession, session_id)
    outcome = EventOutcome(session_id=session_id)
    if record is None:
        # The stream was deleted, and its sessions with it.
        return outcome
    outcome.stream_id = record.stream_id
    outcome.handle_id = record.handle_id
    data = event.data or {}
    now = utcnow()
    values: dict[str, Any] = {"last_event": _event_record(event.kind, data, now)}

    if event.kind == "media":
        kind = data.get("type")
        if kind in ("audio", "video"):
            media = dict(record.media or {})
            media[kind] = bool(data.get("receiving", True))
            values["media"] = media
    _update_fields(session, session_id, **values)

    if event.kind == "webrtcup":
        if change_state(session, bus, session_id, CONNECTED, only_from=(NEGOTIATING,)):
            outcome.new_state = CONNECTED
            _start_stream_if_created(session, bus, record.stream_id)
    elif event.kind == "hangup":
        reason = str(data.get("reason") or "no reason given")
        target = state_after_hangup(reason, was_connected=record.state == CONNECTED)
        if change_state(session, bus, session_id, target, reason=f"Janus hung up: {reason}"):
            outcome.new_state = target
    elif event.kind == "detached":
        if change_state(session, bus, session_id, CLOSED if record.state == CONNECTED else FAILED, reason="Janus detached the handle"):
            outcome.new_state = CLOSED if record.state == CONNECTED else FAILED
    elif event.kind == "handle_lost":
        reason = str(data.get("reason") or "Janus restarted")
        if change_state(session, bus, session_id, FAILED, reason=f"Janus restarted: {reason}"):
            outcome.new_state = FAILED
    return outcome


def _start_stream_if_created(session: Session, bus: EventPublisher, stream_id: str) -> None:
    """Move a CREATED stream to LIVE now that its publisher is connected."""
    stream = session.get(Stream, stream_id)
    session.rollback()
    if stream is None or stream.status != CREATED:
        return
    try:
        streams.transition(session, bus, stream_id, START)
    except ApiError as error:
        # Someone else started or ended it in between, and their change is kept.
        logger.info("stream %s not started on webrtcup: %s", stream_id, error.code)


# --- reconnect window and reconciliation ------------------------------------


def stream_status(session: Session, stream_id: str) -> str | None:
    """Return the stream's status, or None when it no longer exists."""
    status = session.scalar(select(Stream.status).where(Stream.id == stream_id))
    session.rollback()
    return status


def end_if_abandoned(session: Session, bus: EventPublisher, stream_id: str) -> bool:
    """End a LIVE stream whose reconnect window passed without a publisher; return whether it ended."""
    if has_active_session(session, stream_id):
        logger.info("stream %s has a publisher again; reconnect window closed", stream_id)
        return False
    if stream_status(session, stream_id) != LIVE:
        return False
    try:
        streams.transition(session, bus, stream_id, END)
    except ApiError as error:
        logger.info("stream %s not ended after its reconnect window: %s", stream_id, error.code)
        return False
    logger.info("stream %s ENDED: no publisher came back within the reconnect window", stream_id)
    return True


def live_streams_without_publisher(session: Session) -> list[str]:
    """Return the ids of LIVE streams that have no active publisher session."""
    active = select(StreamSession.stream_id).where(StreamSession.state.in_(ACTIVE_STATES))
    statement = select(Stream.id).where(Stream.status == LIVE, Stream.id.not_in(active))
    ids = list(session.scalars(statement))
    session.rollback()
    return ids


def close_all_active(session: Session, bus: EventPublisher, reason: str, target: str, janus_session_id: int | None = None) -> list[str]:
    """Move every active session (of one Janus session, when given) to ``target``; return their ids."""
    statement = select(StreamSession.id).where(StreamSession.state.in_(ACTIVE_STATES))
    if janus_session_id is not None:
        statement = statement.where((StreamSession.janus_session_id == janus_session_id) | StreamSession.janus_session_id.is_(None))
    closed = [session_id for session_id in list(session.scalars(statement)) if change_state(session, bus, session_id, target, reason=reason)]
    session.rollback()
    return closed


def take_all_rooms(session: Session) -> list[tuple[str, int, str]]:
    """Delete every room row and return (stream_id, room_id, secret) of each."""
    rooms = [(room.stream_id, room.room_id, room.room_secret) for room in session.scalars(select(StreamRoom))]
    session.execute(delete(StreamRoom))
    session.commit()
    return rooms


def get_janus(app: Any) -> JanusClient:
    """Return the app's started Janus client, starting it on first use.

    Module 3 calls this too. Raises ApiError janus_unavailable (503) or
    janus_timeout (504) when Janus cannot be reached; the next call tries again.
    """
    return app.extensions["module2_runtime"].janus_or_api_error()
