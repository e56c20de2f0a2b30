"""Fixtures of the module 2 tests: module 2 apps that release Janus when the test ends, streams and offers.

With --base-url, ``api``, ``janus_api``, ``server_url`` and ``publisher`` reach
the live server instead, so the black-box tests run against it. The fixtures
that build an app in-process (``app``, ``make_app``, ``janus_app``) skip there.
"""

from __future__ import annotations

import time
from typing import Any, Callable, Iterator

import pytest
from flask import Flask

from common.db import db
from module2_session import create_app
from module2_session.runtime import get_runtime
from tests.module1_streammeta.helpers import bearer
# create_stream and read_stream are imported from here by the module 2 tests.
from tests.services.api_client import ApiClient, create_stream, read_stream  # noqa: F401
from tests.services.grading import target_client, target_url

IN_PROCESS_ONLY = "needs the app in-process; with --base-url only the black-box tests run"

# Bounded waits for what Janus reports asynchronously. Generous because other
# suites share the 2-core machine; no test checks how fast anything is.
EVENT_WAIT = 30.0


@pytest.fixture
def make_app(app_config: dict, base_url: str) -> Iterator[Callable[..., Flask]]:
    """Build module 2 apps from app_config plus overrides; each closes its Janus client and timers at the end."""
    if base_url:
        pytest.skip(IN_PROCESS_ONLY)
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
def api(request: pytest.FixtureRequest) -> ApiClient:
    """A client for the app without Janus in-process, or for the live server given with --base-url."""
    return target_client(request, "app")


@pytest.fixture
def inprocess_app(base_url: str, request: pytest.FixtureRequest) -> Flask | None:
    """The app behind ``api`` when it runs in-process, for extra checks of its database; None with --base-url."""
    if base_url:
        return None
    return request.getfixturevalue("app")


def post_offer(api: ApiClient, stream_id: str, token: str, sdp: str) -> Any:
    """POST an SDP offer as the stream's owner and return the response."""
    return api.post(f"/api/v1/streams/{stream_id}/sessions", json={"type": "offer", "sdp": sdp}, headers=bearer(token))


def read_session(api: ApiClient, session_id: str) -> dict[str, Any]:
    response = api.get(f"/api/v1/sessions/{session_id}")
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
def janus_api(request: pytest.FixtureRequest) -> ApiClient:
    """A client for the app on the test Janus in-process, or for the live server given with --base-url."""
    return target_client(request, "janus_app")


@pytest.fixture
def server_url(request: pytest.FixtureRequest) -> str:
    """The HTTP URL aiortc peers publish to: --base-url, or ``janus_app`` served in a thread (same app as ``janus_api``)."""
    return target_url(request, "janus_app")


@pytest.fixture
def own_videoroom(base_url: str, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A VideoRoom on a Janus client of the test itself, to check rooms behind the backend's back."""
    from common.janus import JanusClient, VideoRoom

    if base_url:
        pytest.skip(IN_PROCESS_ONLY)
    janus_server = request.getfixturevalue("janus_server")

    client = JanusClient(janus_server.url, timeout=10.0)
    client.start()
    yield VideoRoom(client)
    client.close()


@pytest.fixture
def publisher(base_url: str, ice_servers: list[dict[str, Any]], request: pytest.FixtureRequest) -> Iterator[Any]:
    """An aiortc publisher with synthetic audio and 640x360 video, using the server's ICE servers.

    In-process it needs the hermetic namespace, like the test Janus it starts.
    """
    from tests.services.media import SyntheticPublisher

    if not base_url:
        request.getfixturevalue("janus_server")
    peer = SyntheticPublisher(ice_servers=ice_servers)
    yield peer
    peer.close()
