"""Resources in known states for the fuzzing and security tests: streams, sessions and viewers.

``complete_app`` runs with Janus unreachable, so a publish attempt leaves a FAILED
session, and no viewer can join through the API. ``Seeder.left_viewer`` therefore writes the
viewer row itself; every other resource is made through the API.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterator

import pytest
from flask import Flask

from common.db import db
from module3_watch import create_app
from module3_watch.models import LEFT, Viewer
from tests.module1_streammeta.helpers import bearer
from tests.services.api_client import ApiClient

# An SDP offer that passes the API's validation. A real Janus rejects it (invalid_sdp)
# because it has no media section.
OFFER_SDP = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"

STREAM_STATES = ("CREATED", "LIVE", "ENDED")


@dataclass(frozen=True)
class SeededStream:
    """A stream made through the API and its publish token."""

    id: str
    token: str
    status: str


@pytest.fixture
def complete_app_factory(app_config: dict) -> Iterator[Callable[..., Flask]]:
    """Build complete servers (module 3) with extra settings; each stops its threads at the end."""
    apps: list[Flask] = []

    def make(**settings: Any) -> Flask:
        app = create_app({**app_config, **settings})
        apps.append(app)
        return app

    yield make
    for app in apps:
        close_complete_app(app)


def close_complete_app(app: Flask) -> None:
    """Stop a complete server's viewer worker, sockets and Janus client, and close its database pool."""
    app.extensions["viewer_worker"].stop()
    app.extensions["ws_sockets"].shutdown(wait=2.0)
    publishing = app.extensions.get("module2_runtime")
    if publishing is not None:
        publishing.close()
    # Close pooled connections before a fixture drops a MariaDB database.
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def complete_app(complete_app_factory: Callable[..., Flask]) -> Flask:
    """The complete server (module 3) on a fresh SQLite file with Janus unreachable."""
    return complete_app_factory()


class Seeder:
    """Make streams, sessions and viewers in a given state on an in-process app."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.api = ApiClient(app=app)

    def _expect(self, response: Any, *statuses: int) -> Any:
        if response.status_code not in statuses:
            raise AssertionError(f"seeding failed: expected {statuses}, got {response.status_code}: {response.text}")
        return response.json() if response.body else None

    def stream(self, status: str = "CREATED", title: str = "Clase sembrada") -> SeededStream:
        """Create a stream and move it to ``status`` (CREATED, LIVE or ENDED)."""
        created = self._expect(self.api.post("/api/v1/streams", json={"title": title}), 201)
        return self.move(SeededStream(created["id"], created["publishToken"], "CREATED"), status)

    def move(self, stream: SeededStream, status: str) -> SeededStream:
        """Move a CREATED stream to ``status`` through the start and end routes."""
        if status in ("LIVE", "ENDED"):
            self._expect(self.api.post(f"/api/v1/streams/{stream.id}/start", headers=bearer(stream.token)), 200)
        if status == "ENDED":
            self._expect(self.api.post(f"/api/v1/streams/{stream.id}/end", headers=bearer(stream.token)), 200)
        return SeededStream(stream.id, stream.token, status)

    def failed_session(self, stream: SeededStream) -> str:
        """Publish OFFER_SDP to a CREATED or LIVE ``stream`` and return the id of the FAILED session.

        The publish fails with janus_unavailable (503) when Janus is unreachable, or
        with invalid_sdp (400) when a real Janus rejects the offer.
        """
        response = self.api.post(
            f"/api/v1/streams/{stream.id}/sessions",
            json={"type": "offer", "sdp": OFFER_SDP},
            headers=bearer(stream.token),
        )
        body = self._expect(response, 400, 503)
        return body["sessionId"]

    def left_viewer(self, stream: SeededStream) -> str:
        """Write a viewer of ``stream`` that has LEFT, as a viewer that joined and left would be.

        A test double for joining: a real join needs Janus and a connected publisher.
        """
        with self.app.app_context():
            viewer = Viewer(stream_id=stream.id, state=LEFT, reason="left")
            db.session.add(viewer)
            db.session.commit()
            return viewer.id
