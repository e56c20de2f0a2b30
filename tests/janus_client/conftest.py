"""Fixtures for the Janus client tests: clients that close themselves and an event recorder."""

from __future__ import annotations

import queue
import time
from typing import Callable, Iterator

import pytest

from common.janus import JanusClient, JanusEvent

# Bounded waits so a broken client fails the test instead of hanging it. Generous
# because other suites share the 2-core machine; no test checks how fast it is.
EVENT_WAIT = 30.0


class EventRecorder:
    """A handle listener that stores every JanusEvent for the test to wait on."""

    def __init__(self) -> None:
        self.events: queue.Queue[JanusEvent] = queue.Queue()
        self.seen: list[JanusEvent] = []

    def __call__(self, event: JanusEvent) -> None:
        self.events.put(event)

    def wait_for(self, kind: str, handle_id: int | None = None, timeout: float = EVENT_WAIT) -> JanusEvent:
        """Return the first event of ``kind`` (for ``handle_id`` when given), or fail after ``timeout`` s."""
        for event in self.seen:
            if event.kind == kind and handle_id in (None, event.handle_id):
                return event
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                kinds = [event.kind for event in self.seen]
                pytest.fail(f"no {kind!r} event for handle {handle_id} within {timeout:g} s; seen: {kinds}")
            try:
                event = self.events.get(timeout=remaining)
            except queue.Empty:
                continue
            self.seen.append(event)
            if event.kind == kind and handle_id in (None, event.handle_id):
                return event


@pytest.fixture
def recorder() -> EventRecorder:
    return EventRecorder()


@pytest.fixture
def make_client() -> Iterator[Callable[..., JanusClient]]:
    """Build JanusClients (not started); each is closed when the test ends."""
    clients: list[JanusClient] = []

    def make(url: str, **options) -> JanusClient:
        options.setdefault("timeout", 10.0)
        client = JanusClient(url, **options)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def janus_client(janus_server, make_client) -> JanusClient:
    """A started client of the shared test Janus."""
    client = make_client(janus_server.url)
    client.start()
    return client
