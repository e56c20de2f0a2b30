"""In-process publish/subscribe of stream events (status, viewer count, session state).

One process only: with several backend processes a message broker takes this role.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections import defaultdict
from datetime import datetime, timezone
from typing import Any

logger = logging.getLogger(__name__)


class EventBus:
    """Fan out events per stream id to subscriber queues; slow subscribers drop, never block."""

    def __init__(self, queue_size: int = 256) -> None:
        self._lock = threading.Lock()
        self._subscribers: dict[str, set[queue.Queue]] = defaultdict(set)
        self._queue_size = queue_size

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


bus = EventBus()
