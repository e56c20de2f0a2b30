"""One worker thread per app that runs keyed jobs at their due time (reconnect windows, Janus clean-up).

A single thread serves every stream, so live streams never cost a thread each,
and work that calls Janus never runs on the Janus event-pump thread.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from typing import Callable, Hashable

logger = logging.getLogger(__name__)

Job = Callable[[], None]


class JobScheduler:
    """Run jobs on one daemon thread, each after its delay.

    A job scheduled under a key replaces the pending job with that key, and
    ``cancel(key)`` drops it. Jobs run one at a time in due order, and an
    exception in one job is logged without stopping the thread.
    """

    def __init__(self, name: str = "module2-jobs") -> None:
        self._name = name
        self._condition = threading.Condition()
        self._heap: list[tuple[float, int, Hashable | None, Job]] = []
        # key -> sequence number of its pending entry; older entries are skipped when popped.
        self._pending: dict[Hashable, int] = {}
        self._sequence = itertools.count()
        self._thread: threading.Thread | None = None
        self._closed = False

    def schedule(self, key: Hashable | None, delay: float, job: Job) -> None:
        """Run ``job`` after ``delay`` seconds, replacing any pending job with the same ``key``.

        A ``None`` key is never replaced or cancelled.
        """
        with self._condition:
            if self._closed:
                logger.warning("job scheduler closed; dropped job %r", key)
                return
            sequence = next(self._sequence)
            if key is not None:
                self._pending[key] = sequence
            heapq.heappush(self._heap, (time.monotonic() + max(delay, 0.0), sequence, key, job))
            self._ensure_thread()
            self._condition.notify()

    def submit(self, job: Job) -> None:
        """Run ``job`` as soon as the thread is free."""
        self.schedule(None, 0.0, job)

    def cancel(self, key: Hashable) -> bool:
        """Drop the pending job with ``key``; return whether there was one."""
        with self._condition:
            return self._pending.pop(key, None) is not None

    def pending(self, key: Hashable) -> bool:
        """Return whether a job with ``key`` waits to run."""
        with self._condition:
            return key in self._pending

    def is_worker_thread(self) -> bool:
        """Return whether the caller runs on this scheduler's thread."""
        return self._thread is not None and threading.current_thread() is self._thread

    def close(self, timeout: float = 5.0) -> None:
        """Drop pending jobs and stop the thread, waiting up to ``timeout`` seconds for a running job."""
        with self._condition:
            self._closed = True
            self._heap.clear()
            self._pending.clear()
            self._condition.notify()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
            if thread.is_alive():
                logger.warning("job thread %s still running after %.1f s; left as a daemon", self._name, timeout)

    def _ensure_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
            self._thread.start()

    def _next_job(self) -> tuple[Hashable | None, Job] | None:
        """Wait for the next due job; return None once closed."""
        with self._condition:
            while not self._closed:
                if not self._heap:
                    self._condition.wait()
                    continue
                due, sequence, key, job = self._heap[0]
                delay = due - time.monotonic()
                if delay > 0:
                    self._condition.wait(delay)
                    continue
                heapq.heappop(self._heap)
                if key is not None:
                    if self._pending.get(key) != sequence:
                        continue  # replaced or cancelled since it was scheduled
                    del self._pending[key]
                return key, job
            return None

    def _run(self) -> None:
        while True:
            entry = self._next_job()
            if entry is None:
                return
            key, job = entry
            try:
                job()
            except Exception:  # one failing job must not stop the jobs after it
                logger.exception("scheduled job %r failed", key)
