"""WebSocket routes of module 3: live stream events pushed to pages and apps.

``/ws/streams/<id>`` sends one ``snapshot`` message, then every ``stream.status``,
``viewers.count`` and ``session.state`` event of that stream as the app's event
bus publishes it. ``/ws/streams`` sends the events of every stream (the
dashboard's feed) and no snapshot.

Each open socket keeps one server thread busy for its whole life (flask-sock
runs the handler inside the request), so the number of sockets per process is
capped by WS_MAX_SOCKETS. The production server needs more threads than that
cap, or HTTP requests starve: see gunicorn.conf.py.

Close codes: 1000 after the stream ended, 1001 when the server shuts down,
1013 "try again later" over the socket cap or while the database is
unreachable, 4404 for an unknown stream.

A watching client may bind its viewer to the socket with
``{"type": "watching", "viewerId": "..."}``. When every socket bound to a viewer
has been closed for VIEWER_MEDIA_TIMEOUT seconds (a crashed tab, a lost
network), the viewer is FAILED with reason ``events_socket_closed``. Janus
notices such a viewer only through ICE, and only when configured for it.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from typing import Any

from flask import Blueprint, current_app
from flask_babel import gettext
from flask_sock import Sock
from simple_websocket import ConnectionClosed
from sqlalchemy.exc import DBAPIError, DisconnectionError

from common.db import db
from common.errors import is_database_unavailable

logger = logging.getLogger(__name__)

sock = Sock()
ws_blp = Blueprint("watch_ws", __name__)

CLOSE_NORMAL = 1000
CLOSE_GOING_AWAY = 1001
CLOSE_TRY_AGAIN_LATER = 1013
CLOSE_STREAM_NOT_FOUND = 4404

# Seconds an idle socket loop sleeps before it looks for client messages, a closed client or a shutdown.
IDLE_WAKEUP = 0.25
# Seconds between sending the ENDED event and closing the socket.
CLOSE_DELAY_AFTER_END = 0.25

_WAKE = object()

# How _pump ended, which decides what happens to a viewer bound to the socket.
ENDED_BY_CLIENT = "client"
ENDED_BY_STREAM = "stream"
ENDED_BY_SHUTDOWN = "shutdown"


class SocketRegistry:
    """Count the open sockets of one app, cap them, and close them all on shutdown."""

    def __init__(self, max_sockets: int) -> None:
        self.max_sockets = max_sockets
        self._lock = threading.Lock()
        self._open = 0
        self._queues: set[queue.Queue] = set()
        self._firehose: set[queue.Queue] = set()
        self.shutting_down = threading.Event()

    def acquire(self) -> bool:
        """Count one more open socket; False over the cap (the caller closes with 1013)."""
        with self._lock:
            if self._open >= self.max_sockets:
                return False
            self._open += 1
            return True

    def track(self, events: queue.Queue, firehose: bool = False) -> None:
        """Remember a socket's event queue, to wake it on shutdown (and feed it every event when ``firehose``)."""
        with self._lock:
            self._queues.add(events)
            if firehose:
                self._firehose.add(events)

    def release(self, events: queue.Queue | None) -> None:
        """Count one socket less and forget its queue."""
        with self._lock:
            self._open = max(self._open - 1, 0)
            if events is not None:
                self._queues.discard(events)
                self._firehose.discard(events)

    @property
    def open_count(self) -> int:
        """Number of sockets open now."""
        with self._lock:
            return self._open

    def forward_to_firehose(self, event: dict[str, Any]) -> None:
        """Bus listener: copy every event to the sockets of /ws/streams."""
        with self._lock:
            targets = list(self._firehose)
        for events in targets:
            try:
                events.put_nowait(event)
            except queue.Full:
                logger.warning("dashboard socket queue full; dropped %s of stream %s", event.get("type"), event.get("streamId"))

    def shutdown(self, wait: float = 2.0) -> int:
        """Close every socket with 1001 and wait up to ``wait`` seconds; return how many stayed open."""
        self.shutting_down.set()
        with self._lock:
            targets = list(self._queues)
        for events in targets:
            try:
                events.put_nowait(_WAKE)
            except queue.Full:
                pass  # a full queue wakes its socket anyway
        deadline = time.monotonic() + wait
        while self.open_count and time.monotonic() < deadline:
            time.sleep(0.05)
        remaining = self.open_count
        if remaining and wait > 0:
            logger.warning("%d sockets still open %.1f s after shutdown began", remaining, wait)
        return remaining


def get_registry(app: Any) -> SocketRegistry:
    """Return the app's SocketRegistry (made by module3_watch.register)."""
    return app.extensions["ws_sockets"]


def _send_json(ws: Any, message: dict[str, Any]) -> None:
    ws.send(json.dumps(message, ensure_ascii=False, separators=(",", ":")))


def _close(ws: Any, code: int, reason: str) -> None:
    try:
        ws.close(reason=code, message=reason)
    except ConnectionClosed:
        pass  # the client closed first


class ViewerBinding:
    """The viewer that a /ws/streams/<id> socket watches for, if its client named one."""

    def __init__(self, app: Any, stream_id: str) -> None:
        self.app = app
        self.stream_id = stream_id
        self.viewer_id: str | None = None

    def bind(self, viewer_id: Any) -> bool:
        """Bind an active viewer of this stream to the socket; False for any other id."""
        from module3_watch.models import ACTIVE_STATES, Viewer
        from module3_watch.worker import get_worker

        if not isinstance(viewer_id, str) or len(viewer_id) > 64:
            return False
        viewer = db.session.get(Viewer, viewer_id)
        is_watchable = viewer is not None and viewer.stream_id == self.stream_id and viewer.state in ACTIVE_STATES
        db.session.close()
        if not is_watchable or viewer_id == self.viewer_id:
            return is_watchable

        worker = get_worker(self.app)
        worker.viewer_socket_opened(viewer_id)
        if self.viewer_id is not None:
            worker.viewer_socket_closed(self.viewer_id)
        self.viewer_id = viewer_id
        return True

    def release(self, ended_by: str) -> None:
        """Start the bound viewer's timeout when its client went away (not on shutdown or stream end)."""
        if self.viewer_id is None:
            return
        from module3_watch.worker import get_worker

        get_worker(self.app).viewer_socket_closed(self.viewer_id, start_timeout=ended_by == ENDED_BY_CLIENT)


def _answer_client_messages(ws: Any, binding: ViewerBinding | None) -> None:
    """Read what the client sent: reply to ping and watching messages, ignore anything else."""
    while True:
        message = ws.receive(timeout=0)
        if message is None:
            return
        try:
            parsed = json.loads(message)
        except (TypeError, ValueError):
            continue
        if not isinstance(parsed, dict):
            continue
        if parsed.get("type") == "ping":
            _send_json(ws, {"type": "pong"})
        elif parsed.get("type") == "watching" and binding is not None:
            viewer_id = parsed.get("viewerId")
            _send_json(ws, {"type": "watching", "viewerId": viewer_id, "bound": binding.bind(viewer_id)})


def _pump(ws: Any, registry: SocketRegistry, events: queue.Queue, stream_id: str | None, binding: ViewerBinding | None = None) -> str:
    """Forward queued events until the client leaves, the stream ends or the server stops; return which."""
    while True:
        try:
            event = events.get(timeout=IDLE_WAKEUP)
        except queue.Empty:
            event = None

        if registry.shutting_down.is_set():
            _close(ws, CLOSE_GOING_AWAY, gettext("The server is shutting down."))
            return ENDED_BY_SHUTDOWN
        if not ws.connected:
            return ENDED_BY_CLIENT
        _answer_client_messages(ws, binding)
        if event is None or event is _WAKE:
            continue

        _send_json(ws, event)
        if stream_id is not None and event.get("type") == "stream.status" and (event.get("data") or {}).get("status") == "ENDED":
            # Every socket of the stream gets this event at once. Closing costs more
            # than sending, so wait a moment and let the other sockets' threads send
            # first. With 1,000 sockets, closing at once made the last delivery take
            # 0.7 to 1.6 s instead of about 0.15 s (bench/bench_ws_fanout.py).
            registry.shutting_down.wait(CLOSE_DELAY_AFTER_END)
            _close(ws, CLOSE_NORMAL, gettext("The stream ended."))
            return ENDED_BY_STREAM


def build_snapshot(session: Any, stream_id: str) -> dict[str, Any] | None:
    """Return the snapshot message of a stream, or None when the stream does not exist."""
    from datetime import datetime, timezone

    from module1_streammeta.models import Stream
    from module3_watch.service import publisher_session, viewer_counts

    stream = session.get(Stream, stream_id)
    if stream is None:
        return None
    publisher = publisher_session(session, stream_id)
    publisher_state = None
    if publisher is not None:
        publisher_state = {"sessionId": publisher.id, "state": publisher.state, "reason": publisher.failure_reason}

    return {
        "type": "snapshot",
        "streamId": stream_id,
        "at": datetime.now(timezone.utc).isoformat().replace("+00:00", "Z"),
        "data": {
            "status": stream.status,
            "version": stream.version,
            "title": stream.title,
            "maxViewers": stream.max_viewers,
            "viewerCount": viewer_counts(session, [stream_id])[stream_id],
            "session": publisher_state,
        },
    }


def _close_if_unavailable(ws: Any, registry: SocketRegistry, target: str) -> bool:
    """Close the socket when the server stops or the cap is reached; True when it did."""
    if registry.shutting_down.is_set():
        _close(ws, CLOSE_GOING_AWAY, gettext("The server is shutting down."))
        return True
    if not registry.acquire():
        logger.warning("socket cap of %d reached; closed a socket for %s with 1013", registry.max_sockets, target)
        _close(ws, CLOSE_TRY_AGAIN_LATER, gettext("Too many open sockets; try again later."))
        return True
    return False


@sock.route("/ws/streams/<stream_id>", bp=ws_blp)
def stream_events(ws: Any, stream_id: str) -> None:
    """Push one stream's snapshot and then its events."""
    app = current_app._get_current_object()
    registry = get_registry(app)
    if _close_if_unavailable(ws, registry, f"stream {stream_id}"):
        return

    bus = app.extensions["events"]
    # Subscribe before reading the snapshot, so no event falls between them.
    events = bus.subscribe(stream_id)
    registry.track(events)
    binding = ViewerBinding(app, stream_id)
    ended_by = ENDED_BY_CLIENT
    try:
        try:
            snapshot = build_snapshot(db.session, stream_id)
        except (DBAPIError, DisconnectionError) as error:
            if not is_database_unavailable(error):
                raise
            # The handshake is done, so a 503 response cannot be sent any more; a close code can.
            logger.warning("database unavailable for the snapshot of stream %s: closed the socket with 1013", stream_id)
            _close(ws, CLOSE_TRY_AGAIN_LATER, gettext("The database is not reachable; try again in a few seconds."))
            return
        # Give the database connection back: the socket may stay open for hours.
        db.session.close()
        if snapshot is None:
            _close(ws, CLOSE_STREAM_NOT_FOUND, gettext("Stream not found."))
            return
        _send_json(ws, snapshot)
        if snapshot["data"]["status"] == "ENDED":
            _close(ws, CLOSE_NORMAL, gettext("The stream ended."))
            return
        ended_by = _pump(ws, registry, events, stream_id, binding)
    finally:
        # A send to a client that is gone raises ConnectionClosed: ended_by keeps ENDED_BY_CLIENT.
        binding.release(ended_by)
        bus.unsubscribe(stream_id, events)
        registry.release(events)


@sock.route("/ws/streams", bp=ws_blp)
def all_stream_events(ws: Any) -> None:
    """Push the events of every stream (the dashboard's feed)."""
    registry = get_registry(current_app)
    if _close_if_unavailable(ws, registry, "the dashboard feed"):
        return

    events: queue.Queue = queue.Queue(maxsize=1024)
    registry.track(events, firehose=True)
    try:
        _pump(ws, registry, events, None)
    finally:
        registry.release(events)
