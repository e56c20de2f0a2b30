"""Per-app glue of module 2: the lazily started Janus client, Janus event handlers, timers and reconciliation.

One PublishingRuntime lives in ``app.extensions["module2_runtime"]``. It owns:

- the app's JanusClient (also in ``app.extensions["janus_client"]``), started on
  first use and started again on a later request when Janus was down;
- one JobScheduler thread for reconnect windows, connect timeouts and Janus
  clean-up, so no work that calls Janus runs on the client's event-pump thread;
- the handlers for Janus handle events, Janus restarts and "stream.status" bus events.

Background work gets its own SQLAlchemy session and an app context, because
Flask-SQLAlchemy's ``db.session`` belongs to the request thread.
"""

from __future__ import annotations

import atexit
import logging
import threading
import weakref
from contextlib import contextmanager
from typing import Any, Callable, Iterator

from sqlalchemy import inspect
from sqlalchemy.orm import Session

from common.db import db
from common.errors import ApiError
from common.janus import JanusClient, JanusEvent, VideoRoom
from common.janus.errors import JanusError, JanusTimeout, JanusUnavailable
from module1_streammeta.state import ENDED, LIVE
from module2_session import service
from module2_session.state import CLOSED, FAILED, NEGOTIATING
from module2_session.timers import JobScheduler

logger = logging.getLogger(__name__)

EXTENSION_KEY = "module2_runtime"
CLOSE_TIMEOUT = 5.0
# Seconds between checks that a started Janus client still reaches Janus.
JANUS_WATCH_INTERVAL = 2.0


def get_runtime(app: Any) -> "PublishingRuntime":
    """Return the app's module 2 runtime (made by module2_session.register)."""
    return app.extensions[EXTENSION_KEY]


class PublishingRuntime:
    """Janus connection, event handling, timers and reconciliation for one app."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.bus = app.extensions["events"]
        self.jobs = JobScheduler(name=f"module2-jobs-{id(app):x}")
        self._janus_lock = threading.Lock()
        self._client: JanusClient | None = None
        self._rooms: VideoRoom | None = None
        self._closing = False
        # Makes "no publisher, so start the window" and "a publisher came, so stop it"
        # mutually exclusive. Without it, a check that ran before a new session was stored
        # could schedule the window after that session's publish had cancelled it.
        self._window_lock = threading.Lock()
        self._reconciled = False
        self._reconcile_lock = threading.Lock()
        self._thread_state = threading.local()
        with app.app_context():
            self._engine = db.engine
        app.extensions["janus_client"] = None

    # --- settings ------------------------------------------------------------

    @property
    def reconnect_window(self) -> float:
        return float(self.app.config["RECONNECT_WINDOW"])

    @property
    def connect_timeout(self) -> float:
        return float(self.app.config["PUBLISH_CONNECT_TIMEOUT"])

    # --- Janus connection ----------------------------------------------------

    def connect(self) -> tuple[JanusClient, VideoRoom]:
        """Return the started Janus client and its VideoRoom helper, starting the client on first use.

        Raises JanusUnavailable (or JanusTimeout) when Janus cannot be reached;
        the next call tries again.
        """
        with self._janus_lock:
            if self._client is not None and self._rooms is not None:
                return self._client, self._rooms
            if self._closing:
                raise JanusTimeout("the backend is shutting down")
            config = self.app.config
            client = JanusClient(
                config["JANUS_URL"],
                api_secret=config["JANUS_API_SECRET"],
                timeout=float(config["JANUS_TIMEOUT"]),
                maxev=int(config["JANUS_POLL_MAXEV"]),
            )
            client.start()
            client.add_session_listener(self._on_janus_session_replaced)
            self._client = client
            self._rooms = VideoRoom(client)
            self.app.extensions["janus_client"] = client
            atexit.register(_close_at_exit, weakref.ref(self))
            self._schedule_janus_watch()
            logger.info("Janus client started at %s (session %s)", config["JANUS_URL"], client.session_id)
            return client, self._rooms

    def connected(self) -> tuple[JanusClient | None, VideoRoom | None]:
        """Return the client and VideoRoom if the client has started, without starting it."""
        with self._janus_lock:
            return self._client, self._rooms

    def janus_or_api_error(self) -> JanusClient:
        """Return the started client; raise ApiError janus_unavailable (503) or janus_timeout (504)."""
        try:
            return self.connect()[0]
        except JanusTimeout:
            raise ApiError("janus_timeout") from None
        except JanusError as error:
            logger.warning("Janus unavailable at %s: %s", self.app.config["JANUS_URL"], error)
            raise ApiError("janus_unavailable") from None

    # --- helpers -------------------------------------------------------------

    @contextmanager
    def db_session(self) -> Iterator[Session]:
        """Yield a fresh SQLAlchemy session inside an app context, for work outside a request."""
        with self.app.app_context():
            session = Session(bind=self._engine)
            try:
                yield session
            finally:
                session.close()

    def _in_janus_callback(self) -> bool:
        return getattr(self._thread_state, "in_janus_callback", False)

    def _run_janus_callback(self, what: str, callback: Callable[[], None]) -> None:
        """Run a Janus client callback; mark the thread so nothing in it waits on Janus."""
        if self._closing:
            logger.debug("backend shutting down; ignored %s", what)
            return
        self._thread_state.in_janus_callback = True
        try:
            callback()
        except Exception:  # an exception would reach the client's event pump
            logger.exception("handling %s failed", what)
        finally:
            self._thread_state.in_janus_callback = False

    # --- publishing hooks (called by the routes) -----------------------------

    def listener_for(self, session_id: str) -> Callable[[JanusEvent], None]:
        """Return the handle listener of one publisher session."""

        def listener(event: JanusEvent) -> None:
            self._run_janus_callback(f"Janus {event.kind} event of session {session_id}", lambda: self._on_handle_event(session_id, event))

        return listener

    def after_publish(self, record: Any) -> None:
        """Start the connect timeout of a new session and stop its stream's reconnect window."""
        with self._window_lock:
            self.jobs.cancel(("reconnect", record.stream_id))
        session_id, stream_id, handle_id = record.id, record.stream_id, record.handle_id
        self.jobs.schedule(("connect", session_id), self.connect_timeout, lambda: self._connect_timed_out(session_id, stream_id, handle_id))

    def after_failed_publish(self, attempt: service.FailedAttempt) -> None:
        """Detach the failed attempt's handle in the background and keep a LIVE stream's window running."""
        teardown = service.Teardown(handle_ids=[attempt.handle_id] if attempt.handle_id else [], stream_id=attempt.stream_id)
        if teardown.handle_ids:
            self.jobs.submit(lambda: service.release_janus(*self.connected(), teardown))
        self._start_window_if_live(attempt.stream_id)

    def hang_up(self, session: Session, record: Any, reason: str) -> bool:
        """Close an active session now: detach its handle and destroy the room; return whether it was active.

        A LIVE stream then waits RECONNECT_WINDOW seconds for its publisher.
        """
        if not service.close_session(session, self.bus, record, reason):
            return False
        self.jobs.cancel(("connect", record.id))
        room = service.take_room(session, record.stream_id)
        teardown = service.Teardown(handle_ids=[record.handle_id] if record.handle_id else [], room=room, stream_id=record.stream_id)
        service.release_janus(*self.connected(), teardown)
        self._start_window_if_live(record.stream_id)
        return True

    # --- Janus handle events -------------------------------------------------

    def _on_handle_event(self, session_id: str, event: JanusEvent) -> None:
        logger.debug("Janus %s event for session %s: %s", event.kind, session_id, event.data)
        with self.db_session() as session:
            outcome = service.apply_handle_event(session, self.bus, session_id, event)

        if outcome.new_state == "CONNECTED":
            self.jobs.cancel(("connect", session_id))
            if outcome.stream_id:
                with self._window_lock:
                    self.jobs.cancel(("reconnect", outcome.stream_id))
        elif outcome.new_state in (CLOSED, FAILED):
            self._publisher_gone(outcome.stream_id, outcome.handle_id, session_id)
        elif outcome.stream_id is None and event.kind not in ("detached", "handle_lost"):
            # The session row is gone (its stream was deleted): release the orphan handle.
            handle_id = event.handle_id
            self.jobs.submit(lambda: service.release_janus(*self.connected(), service.Teardown(handle_ids=[handle_id])))

    def _publisher_gone(self, stream_id: str | None, handle_id: int | None, session_id: str) -> None:
        """Detach the handle of a session that just closed and start its stream's reconnect window."""
        self.jobs.cancel(("connect", session_id))
        if handle_id is not None:
            teardown = service.Teardown(handle_ids=[handle_id], stream_id=stream_id)
            self.jobs.submit(lambda: service.release_janus(*self.connected(), teardown))
        if stream_id is not None:
            self._start_window_if_live(stream_id)

    def _connect_timed_out(self, session_id: str, stream_id: str, handle_id: int | None) -> None:
        """Fail a session that is still NEGOTIATING after PUBLISH_CONNECT_TIMEOUT seconds."""
        reason = f"no WebRTC connection within {self.connect_timeout:g} s of the answer"
        with self.db_session() as session:
            failed = service.change_state(session, self.bus, session_id, FAILED, reason=reason, only_from=(NEGOTIATING,))
        if failed:
            logger.warning("session %s of stream %s failed: %s", session_id, stream_id, reason)
            self._publisher_gone(stream_id, handle_id, session_id)

    # --- reconnect window ----------------------------------------------------

    def _start_window_if_live(self, stream_id: str, keep_running: bool = False) -> None:
        """Start the stream's reconnect window when it is LIVE without an active session.

        ``keep_running`` leaves a window that already runs as it is instead of restarting it.
        """
        with self._window_lock:
            if keep_running and self.reconnect_window_pending(stream_id):
                return
            with self.db_session() as session:
                status = service.stream_status(session, stream_id)
                has_publisher = service.has_active_session(session, stream_id)
            if status == LIVE and not has_publisher:
                self.start_reconnect_window(stream_id)

    def start_reconnect_window(self, stream_id: str) -> None:
        """End the stream after RECONNECT_WINDOW seconds unless a publisher is active by then."""
        logger.info("stream %s has no publisher: it ends in %g s unless one comes back", stream_id, self.reconnect_window)
        self.jobs.schedule(("reconnect", stream_id), self.reconnect_window, lambda: self._window_expired(stream_id))

    def reconnect_window_pending(self, stream_id: str) -> bool:
        """Return whether the stream's reconnect window is running."""
        return self.jobs.pending(("reconnect", stream_id))

    def _window_expired(self, stream_id: str) -> None:
        with self.db_session() as session:
            service.end_if_abandoned(session, self.bus, stream_id)

    # --- bus events (module 1's transitions) ---------------------------------

    def on_bus_event(self, event: dict[str, Any]) -> None:
        """React to "stream.status": tear Janus down when a stream ENDS, watch a LIVE stream without publisher."""
        if event.get("type") != "stream.status" or self._closing:
            return
        stream_id = event["streamId"]
        status = (event.get("data") or {}).get("status")
        if status == ENDED:
            if self._in_janus_callback():
                # The client rejects requests that wait for events on its event-pump thread,
                # because that thread delivers them; the job thread does the teardown instead.
                self.jobs.submit(lambda: self._stream_ended(stream_id))
            else:
                self._stream_ended(stream_id)
        elif status == LIVE:
            # Usually webrtcup started the stream and its publisher is CONNECTED, but the
            # session may have closed in between, and /start needs no publisher at all.
            self._start_window_if_live(stream_id)

    def _stream_ended(self, stream_id: str) -> None:
        """Close the stream's sessions, then detach their handles and destroy its room in Janus."""
        self.jobs.cancel(("reconnect", stream_id))
        with self.db_session() as session:
            handles = service.close_stream_sessions(session, self.bus, stream_id, "stream ended")
            room = service.take_room(session, stream_id)
        if not handles and room is None:
            return
        client, rooms = self.connected()
        if client is None:
            try:
                client, rooms = self.connect()
            except JanusError as error:
                logger.warning("cannot release Janus state of ended stream %s: %s", stream_id, error)
                return
        service.release_janus(client, rooms, service.Teardown(handle_ids=handles, room=room, stream_id=stream_id))

    # --- reconciliation ------------------------------------------------------

    def reconcile_once(self) -> None:
        """Reconcile on the app's first request (a before_request hook); later calls return at once.

        A failure is logged and retried on the next request, so a database that
        is down at start-up does not leave the earlier process's sessions open.
        """
        if self._reconciled:
            return
        with self._reconcile_lock:
            if self._reconciled:
                return
            try:
                self.reconcile_after_restart()
            except Exception:  # the request itself may still succeed; the next one retries
                logger.exception("reconciliation after restart failed; retrying on the next request")
                return
            self._reconciled = True

    def reconcile_after_restart(self) -> None:
        """Close sessions an earlier backend process left open and watch its LIVE streams.

        Their Janus session died (or times out) with that process, so their
        handles are gone. Rooms it created may still exist in Janus: they are
        destroyed in the background, and a publisher who comes back gets a new one.
        """
        if not inspect(self._engine).has_table("stream_sessions"):
            return
        with self.db_session() as session:
            closed = service.close_all_active(session, self.bus, "backend restarted", CLOSED)
            rooms = service.take_all_rooms(session)
            live = service.live_streams_without_publisher(session)
        if closed or rooms or live:
            logger.info("reconciled after restart: %d sessions closed, %d rooms to destroy, %d LIVE streams wait for their publisher", len(closed), len(rooms), len(live))
        for stream_id in live:
            self._start_window_if_live(stream_id)
        if rooms:
            self.jobs.submit(lambda: self._destroy_stale_rooms(rooms))

    def _destroy_stale_rooms(self, rooms: list[tuple[str, int, str]]) -> None:
        try:
            client, videoroom = self.connect()
        except JanusError as error:
            logger.warning("cannot destroy %d rooms of an earlier process: %s", len(rooms), error)
            return
        for stream_id, room_id, secret in rooms:
            service.release_janus(client, videoroom, service.Teardown(room=(room_id, secret), stream_id=stream_id))

    def _schedule_janus_watch(self) -> None:
        self.jobs.schedule(("janus-watch",), JANUS_WATCH_INTERVAL, self._watch_janus)

    def _watch_janus(self) -> None:
        """Fail the active sessions when Janus stops accepting connections.

        The client notices a restarted Janus (its session is unknown) only once
        Janus is back, so a Janus that was killed would leave sessions CONNECTED
        for as long as it stays down. Media flows through Janus, so when it
        refuses connections no publisher is connected any more.
        """
        client, _rooms = self.connected()
        if client is None:
            return
        try:
            if not client.reachable:
                client.info()
        except JanusUnavailable:
            self._janus_unreachable()
        except JanusError as error:
            # A timeout may be a busy Janus rather than a dead one: keep the sessions.
            logger.warning("Janus health probe failed: %s", error.__class__.__name__)
        finally:
            if not self._closing:
                self._schedule_janus_watch()

    def _janus_unreachable(self) -> None:
        reason = f"Janus unreachable: the media server at {self.app.config['JANUS_URL']} refuses connections"
        with self.db_session() as session:
            failed = service.close_all_active(session, self.bus, reason, FAILED)
            live = service.live_streams_without_publisher(session)
        if failed:
            logger.warning("%s; %d publisher sessions failed", reason, len(failed))
        for stream_id in live:
            self._start_window_if_live(stream_id, keep_running=True)

    def _on_janus_session_replaced(self, old_session_id: int | None, new_session_id: int | None) -> None:
        self._run_janus_callback("Janus session replacement", lambda: self._janus_restarted(old_session_id, new_session_id))

    def _janus_restarted(self, old_session_id: int | None, new_session_id: int | None) -> None:
        """Fail the sessions of the lost Janus session and watch the LIVE streams that lost their publisher."""
        logger.warning("Janus session %s was lost (now %s): failing its publisher sessions", old_session_id, new_session_id)
        with self.db_session() as session:
            failed = service.close_all_active(session, self.bus, "Janus restarted", FAILED, janus_session_id=old_session_id)
            rooms = service.take_all_rooms(session)
            live = service.live_streams_without_publisher(session)
        logger.info("after the Janus restart: %d sessions failed, %d rooms dropped", len(failed), len(rooms))
        for stream_id in live:
            self._start_window_if_live(stream_id)
        if rooms:
            # After a real restart the rooms are gone already; after a session
            # expiry they still exist, and destroying them is what frees them.
            self.jobs.submit(lambda: self._destroy_stale_rooms(rooms))

    # --- shutdown ------------------------------------------------------------

    def close(self) -> None:
        """Stop the timers and close the Janus client; later Janus events are ignored.

        Sessions stay as they are in the database: the next process reconciles them.
        """
        self._closing = True
        self.jobs.close(CLOSE_TIMEOUT)
        with self._janus_lock:
            client, self._client, self._rooms = self._client, None, None
            self.app.extensions["janus_client"] = None
        if client is None:
            return
        # close() waits on Janus; a thread with a bounded join keeps exit from hanging.
        closer = threading.Thread(target=_close_quietly, args=(client,), name="janus-close", daemon=True)
        closer.start()
        closer.join(CLOSE_TIMEOUT)
        if closer.is_alive():
            logger.warning("Janus client still closing after %.1f s; left to exit with the process", CLOSE_TIMEOUT)


def _close_quietly(client: JanusClient) -> None:
    try:
        client.close()
    except Exception as error:  # closing must not raise at exit
        logger.warning("closing the Janus client failed: %s", error)


def _close_at_exit(runtime_ref: "weakref.ReferenceType[PublishingRuntime]") -> None:
    runtime = runtime_ref()
    if runtime is not None:
        runtime.close()
