"""In-process publish/subscribe of stream events (status, viewer count, session state).

One process only: with several backend processes a message broker takes this role.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections import defaultdict
from datetime import datetime, timezone
from typing import Any, Callable

logger = logging.getLogger(__name__)


class EventBus:
    """Fan out events per stream id to subscriber queues; slow subscribers drop, never block."""

    def __init__(self, queue_size: int = 256) -> None:
        self._lock = threading.Lock()
        self._subscribers: dict[str, set[queue.Queue]] = defaultdict(set)
        self._listeners: list[Callable[[dict[str, Any]], None]] = []
        self._queue_size = queue_size

    def add_listener(self, callback: Callable[[dict[str, Any]], None]) -> None:
        """Call ``callback(event)`` synchronously for every event of every stream.

        Modules use this to react to each other's changes (module 2 tears Janus
        down when module 1 ends a stream) without importing each other.
        """
        with self._lock:
            self._listeners.append(callback)

    def subscribe(self, stream_id: str) -> queue.Queue:
        """Return a new queue that receives every event published for ``stream_id``."""
        subscriber: queue.Queue = queue.Queue(maxsize=self._queue_size)
        with self._lock:
            self._subscribers[stream_id].add(subscriber)
        return subscriber

    def unsubscribe(self, stream_id: str, subscriber: queue.Queue) -> None:
        """Stop delivering to ``subscriber``."""
        with self._lock:
            subscribers = self._subscribers.get(stream_id)
            if subscribers is None:
                return
            subscribers.discard(subscriber)
            if not subscribers:
                del self._subscribers[stream_id]

    def publish(self, stream_id: str, event_type: str, data: dict[str, Any]) -> dict[str, Any]:
        """Send one event to every subscriber of ``stream_id`` and return it."""
        event = {
            "type": event_type,
            "streamId": stream_id,
            "at": datetime.now(timezone.utc).isoformat().replace("+00:00", "Z"),
            "data": data,
        }
        with self._lock:
            subscribers = list(self._subscribers.get(stream_id, ()))
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener(event)
            except Exception:  # one failing listener must not stop the others or the caller
                logger.exception("event listener %r failed on %s for stream %s", listener, event_type, stream_id)
        for subscriber in subscribers:
            try:
                subscriber.put_nowait(event)
            except queue.Full:
                logger.warning("event queue full for stream %s; dropped %s", stream_id, event_type)
        return event

    def subscriber_count(self, stream_id: str) -> int:
        """Return how many subscribers ``stream_id`` has."""
        with self._lock:
            return len(self._subscribers.get(stream_id, ()))


def get_bus(app: Any) -> EventBus:
    """Return the app's event bus (one per app, made by the app base)."""
    return app.extensions["events"]
