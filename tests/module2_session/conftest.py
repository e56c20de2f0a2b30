"""Fixtures of the module 2 tests: module 2 apps that release Janus when the test ends, streams and offers."""

from __future__ import annotations

import time
from typing import Any, Callable, Iterator

import pytest
from flask import Flask

from common.db import db
from module2_session import create_app
from module2_session.runtime import get_runtime
from tests.module1_streammeta.helpers import bearer
from tests.services.api_client import ApiClient

# Bounded waits for what Janus reports asynchronously. Generous because other
# suites share the 2-core machine; no test checks how fast anything is.
EVENT_WAIT = 30.0


@pytest.fixture
def make_app(app_config: dict) -> Iterator[Callable[..., Flask]]:
    """Build module 2 apps from app_config plus overrides; each closes its Janus client and timers at the end."""
    apps: list[Flask] = []

    def make(**overrides: Any) -> Flask:
        app = create_app({**app_config, **overrides})
        apps.append(app)
        return app

    yield make
    for app in apps:
        get_runtime(app).close()
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    """A module 2 app whose JANUS_URL is a closed port (Janus down)."""
    return make_app()


@pytest.fixture
def api(app: Flask) -> ApiClient:
    return ApiClient(app=app)


def create_stream(api: ApiClient, title: str = "Clase de señalización") -> tuple[dict[str, Any], str]:
    """Create a stream through the API; return its JSON (without the token) and its publish token."""
    response = api.post("/api/v1/streams", json={"title": title})
    assert response.status_code == 201, response.text
    body = response.json()
    token = body.pop("publishToken")
    return body, token


def post_offer(api: ApiClient, stream_id: str, token: str, sdp: str) -> Any:
    """POST an SDP offer as the stream's owner and return the response."""
    return api.post(f"/api/v1/streams/{stream_id}/sessions", json={"type": "offer", "sdp": sdp}, headers=bearer(token))


def read_session(api: ApiClient, session_id: str) -> dict[str, Any]:
    response = api.get(f"/api/v1/sessions/{session_id}")
    assert response.status_code == 200, response.text
    return response.json()


def read_stream(api: ApiClient, stream_id: str) -> dict[str, Any]:
    response = api.get(f"/api/v1/streams/{stream_id}")
    assert response.status_code == 200, response.text
    return response.json()


def wait_for(read: Callable[[], dict[str, Any]], condition: Callable[[dict[str, Any]], bool], what: str, timeout: float = EVENT_WAIT) -> dict[str, Any]:
    """Read until ``condition`` is true and return that body; fail with the last body after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    body = read()
    while not condition(body):
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:g} s waiting for {what}; last: {body}")
        time.sleep(0.1)
        body = read()
    return body


@pytest.fixture
def janus_app(make_app: Callable[..., Flask], janus_server) -> Flask:
    """A module 2 app on the shared test Janus, with a short reconnect window."""
    return make_app(JANUS_URL=janus_server.url, RECONNECT_WINDOW=2.0)


@pytest.fixture
def janus_api(janus_app: Flask) -> ApiClient:
    return ApiClient(app=janus_app)


@pytest.fixture
def own_videoroom(janus_server) -> Iterator[Any]:
    """A VideoRoom on a Janus client of the test itself, to check rooms behind the backend's back."""
    from common.janus import JanusClient, VideoRoom

    client = JanusClient(janus_server.url, timeout=10.0)
    client.start()
    yield VideoRoom(client)
    client.close()


@pytest.fixture
def publisher(janus_server) -> Iterator[Any]:
    """An aiortc publisher with synthetic audio and 640x360 video (needs the hermetic namespace, like Janus)."""
    from tests.services.media import SyntheticPublisher

    peer = SyntheticPublisher()
    yield peer
    peer.close()
