"""Background side of module 3: Janus handle events, viewer timeouts and end-of-stream cleanup.

One ViewerWorker per app, running its jobs on one thread (module 2's
JobScheduler). Janus events arrive on the Janus client's event-pump thread and
are handed to that thread, so the pump never waits on the database or on Janus
and the events of one viewer are applied in the order Janus sent them. Each
timeout is a keyed job that the next step of the viewer cancels; a job that
fires late still changes nothing, because every change is conditional on the
viewer's current state.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Callable

from flask import Flask
from sqlalchemy import inspect

from common.db import db
from module2_session.timers import JobScheduler
from module3_watch import service
from module3_watch.models import LEFT

logger = logging.getLogger(__name__)


class ViewerWorker:
    """Apply Janus events, timeouts and stream ends to the viewers of one app."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.jobs = JobScheduler(name="module3-viewers")
        self._reset_done = False
        self._reset_lock = threading.Lock()
        # viewer id -> number of open event sockets bound to it (see module3_watch.ws).
        self._bound_sockets: dict[str, int] = {}
        self._bound_lock = threading.Lock()

    @property
    def _bus(self) -> Any:
        return self.app.extensions["events"]

    @property
    def _answer_timeout(self) -> float:
        return float(self.app.config["VIEWER_ANSWER_TIMEOUT"])

    @property
    def _media_timeout(self) -> float:
        return float(self.app.config["VIEWER_MEDIA_TIMEOUT"])

    # -- steps of the viewer flow --------------------------------------------

    def viewer_joined(self, viewer_id: str) -> None:
        """Start the answer timeout of a new viewer."""
        self.jobs.schedule(("answer", viewer_id), self._answer_timeout, lambda: self._expire(service.expire_unanswered, viewer_id))

    def viewer_answered(self, viewer_id: str) -> None:
        """Swap the answer timeout for the connect timeout."""
        self.jobs.cancel(("answer", viewer_id))
        self.jobs.schedule(("connect", viewer_id), self._media_timeout, lambda: self._expire(service.expire_unconnected, viewer_id))

    def viewer_finished(self, viewer_id: str) -> None:
        """Drop the pending timeouts of a viewer that reached a final state."""
        for step in ("answer", "connect", "media", "socket"):
            self.jobs.cancel((step, viewer_id))

    def viewer_socket_opened(self, viewer_id: str) -> None:
        """Count an event socket bound to the viewer and stop its socket timeout."""
        with self._bound_lock:
            self._bound_sockets[viewer_id] = self._bound_sockets.get(viewer_id, 0) + 1
        self.jobs.cancel(("socket", viewer_id))

    def viewer_socket_closed(self, viewer_id: str, start_timeout: bool = True) -> None:
        """Count one bound socket less; when none is left, fail the viewer after VIEWER_MEDIA_TIMEOUT."""
        with self._bound_lock:
            remaining = self._bound_sockets.get(viewer_id, 0) - 1
            if remaining > 0:
                self._bound_sockets[viewer_id] = remaining
                return
            self._bound_sockets.pop(viewer_id, None)
        if start_timeout:
            self.jobs.schedule(("socket", viewer_id), self._media_timeout, lambda: self._expire(service.expire_without_socket, viewer_id))

    def _expire(self, expire: Callable[..., service.Released | None], viewer_id: str, *args: Any) -> None:
        with self.app.app_context():
            released = expire(db.session, self._bus, viewer_id, *args)
        if released is not None:
            self.viewer_finished(viewer_id)
            self._detach([released])

    # -- Janus handle events -------------------------------------------------

    def listener_for(self, viewer_id: str) -> Callable[[Any], None]:
        """Return the callback for the Janus handle of ``viewer_id`` (called on the pump thread)."""

        def on_janus_event(event: Any) -> None:
            kind, data = event.kind, dict(event.data or {})
            self.jobs.submit(lambda: self._apply_janus_event(viewer_id, kind, data))

        return on_janus_event

    def _apply_janus_event(self, viewer_id: str, kind: str, data: dict[str, Any]) -> None:
        with self.app.app_context():
            session = db.session
            if kind == "webrtcup":
                if service.mark_connected(session, viewer_id):
                    self.jobs.cancel(("connect", viewer_id))
                return
            # NOTE: Janus 1.1.2 sends "media" events about media it receives, and a
            # viewer sends none, so this branch rarely fires. A viewer that vanishes
            # without closing its connection is noticed when ICE fails instead
            # (a hangup about a minute later), and only if janus.jcfg sets
            # nat: ice_keepalive_conncheck = true.
            if kind == "media" and isinstance(data.get("receiving"), bool):
                if service.mark_media(session, viewer_id, data["receiving"]):
                    self.jobs.schedule(
                        ("media", viewer_id), self._media_timeout, lambda: self._expire(service.expire_without_media, viewer_id, self._media_timeout)
                    )
                elif data["receiving"]:
                    self.jobs.cancel(("media", viewer_id))
                return
            released = service.finish_after_janus_event(session, self._bus, viewer_id, kind, data)
        if released is not None:
            self.viewer_finished(viewer_id)
            self._detach([released])

    def _detach(self, released: list[service.Released]) -> None:
        """Detach the Janus handles of finished viewers (on the worker thread)."""
        handles = [item.handle_id for item in released if item.handle_id is not None]
        if not handles:
            return
        janus = self.app.extensions.get("janus_client")
        if janus is None:
            return
        for handle_id in handles:
            service.detach_handle(janus, handle_id)

    def detach_later(self, released: list[service.Released]) -> None:
        """Detach handles on the worker thread, so the caller does not wait on Janus."""
        for item in released:
            self.viewer_finished(item.viewer_id)
        if any(item.handle_id is not None for item in released):
            self.jobs.submit(lambda: self._detach(released))

    # -- bus events ----------------------------------------------------------

    def on_bus_event(self, event: dict[str, Any]) -> None:
        """Finish the viewers of a stream that ended, or of a publisher that went away.

        Runs on the thread that published the event, before the bus hands it to
        the sockets: the viewer count is 0 before the ENDED event goes out and
        before the call that ended the stream returns. Janus handles are
        detached afterwards on the worker thread.
        """
        event_type = event.get("type")
        data = event.get("data") or {}
        stream_id = event.get("streamId")
        if not stream_id:
            return

        if event_type == "stream.status" and data.get("status") == "ENDED":
            with self.app.app_context():
                released = service.finish_stream_viewers(db.session, self._bus, stream_id, LEFT, "stream_ended")
            self.detach_later(released)
            return

        # A publisher that went away takes its feed with it: viewers of that
        # feed get nothing more, even if the publisher comes back with a new
        # feed during the reconnect window, so they must join again.
        if event_type == "session.state" and data.get("state") in ("CLOSED", "FAILED"):
            with self.app.app_context():
                feed_id = _publisher_feed(db.session, data.get("sessionId"))
                if feed_id is None:
                    return
                # Ending a stream closes its publisher first: name the real cause.
                reason = "publisher_left" if service.is_live(db.session, stream_id) else "stream_ended"
                released = service.finish_stream_viewers(db.session, self._bus, stream_id, LEFT, reason, feed_id=feed_id)
            self.detach_later(released)

    def reset_once(self) -> None:
        """Fail the viewers an earlier backend process left active (runs before the first request).

        Their Janus handles died with that process's Janus session, as module 2's
        publisher sessions did. On a fresh database there is no table and nothing to do.
        """
        if self._reset_done:
            return
        with self._reset_lock:
            if self._reset_done:
                return
            with self.app.app_context():
                if inspect(db.engine).has_table("viewers"):
                    service.reset_after_restart(db.session)
            self._reset_done = True

    def stop(self) -> None:
        """Drop pending jobs and stop the worker thread."""
        self.jobs.close()


def _publisher_feed(session: Any, session_id: str | None) -> int | None:
    """Return the Janus feed id of a module 2 publisher session, or None."""
    if not session_id:
        return None
    from module2_session.models import StreamSession

    publisher = session.get(StreamSession, session_id)
    return None if publisher is None else publisher.feed_id


def get_worker(app: Flask) -> ViewerWorker:
    """Return the app's ViewerWorker (made by module3_watch.register)."""
    return app.extensions["viewer_worker"]
