"""Fixture plugin for tests that run in-process or against --base-url: ICE servers, the media probe, tokens.

Graded media tests take ``media_reachable``. In-process runs need the hermetic
network namespace, as every media test does. Against --base-url the fixture
publishes one aiortc peer through the server's API, once per test session, with
the ICE servers of the server's GET /api/v1/ice-servers, and waits up to
COURSE_MEDIA_PROBE_TIMEOUT seconds (default 15) for the connection. When the
peer does not connect, every media test skips with ``[media_unreachable]`` and
the reason, so the grader lists them as skipped instead of failed.

Skip messages start with a stable code in brackets that tests/grade.py
translates: ``[media_unreachable]``, ``[needs_admin_token]``.
"""

from __future__ import annotations

import logging
import os
from typing import Any, Callable, Iterator

import pytest
import requests

from tests.services.api_client import ApiClient
from tests.services.availability import require_hermetic_netns

logger = logging.getLogger(__name__)

ADMIN_TOKEN_VARIABLE = "COURSE_ADMIN_TOKEN"
PROBE_TIMEOUT_VARIABLE = "COURSE_MEDIA_PROBE_TIMEOUT"
DEFAULT_PROBE_TIMEOUT = 15.0
HTTP_TIMEOUT = 30.0


def live_base_url(config: pytest.Config) -> str:
    """Return the --base-url of this run without its trailing slash, or "" for in-process runs."""
    return config.getoption("--base-url").rstrip("/")


def target_client(request: pytest.FixtureRequest, app_fixture: str) -> ApiClient:
    """Return a client for --base-url, or for the app of fixture ``app_fixture`` in-process."""
    base_url = live_base_url(request.config)
    if base_url:
        return ApiClient(base_url=base_url)
    return ApiClient(app=request.getfixturevalue(app_fixture))


def target_url(request: pytest.FixtureRequest, app_fixture: str) -> str:
    """Return --base-url, or the URL of the app of fixture ``app_fixture`` served in a thread."""
    base_url = live_base_url(request.config)
    if base_url:
        return base_url
    return request.getfixturevalue("live_server_factory")(request.getfixturevalue(app_fixture)).url


def ws_base(http_url: str) -> str:
    """Return the WebSocket origin of an HTTP origin (http -> ws, https -> wss)."""
    if http_url.startswith("https://"):
        return "wss://" + http_url[len("https://") :]
    if http_url.startswith("http://"):
        return "ws://" + http_url[len("http://") :]
    raise ValueError(f"not an http(s) URL: {http_url!r}")


def live_admin_token() -> str:
    """Return the instructor token from COURSE_ADMIN_TOKEN, or skip with [needs_admin_token]."""
    token = os.environ.get(ADMIN_TOKEN_VARIABLE, "")
    if not token:
        pytest.skip(f"[needs_admin_token] set {ADMIN_TOKEN_VARIABLE} to the server's ADMIN_TOKEN to run this check against --base-url")
    return token


def probe_timeout() -> float:
    """Return the seconds the media probe waits for a connection (COURSE_MEDIA_PROBE_TIMEOUT)."""
    raw = os.environ.get(PROBE_TIMEOUT_VARIABLE, "")
    if not raw:
        return DEFAULT_PROBE_TIMEOUT
    try:
        value = float(raw)
    except ValueError:
        raise pytest.UsageError(f"{PROBE_TIMEOUT_VARIABLE} must be a number of seconds, got {raw!r}") from None
    if value <= 0:
        raise pytest.UsageError(f"{PROBE_TIMEOUT_VARIABLE} must be positive, got {raw!r}")
    return value


def fetch_ice_servers(base_url: str) -> list[dict[str, Any]]:
    """Return the ``iceServers`` list of the server's GET /api/v1/ice-servers.

    Raises RuntimeError with the reason when the document is missing or has the wrong shape.
    """
    try:
        response = requests.get(f"{base_url}/api/v1/ice-servers", timeout=HTTP_TIMEOUT)
    except requests.RequestException as error:
        raise RuntimeError(f"GET /api/v1/ice-servers failed: {error}") from error
    if response.status_code != 200:
        raise RuntimeError(f"GET /api/v1/ice-servers returned {response.status_code}")
    try:
        servers = response.json()["iceServers"]
    except (ValueError, KeyError, TypeError):
        raise RuntimeError("GET /api/v1/ice-servers returned no iceServers list") from None
    if not isinstance(servers, list) or not all(isinstance(entry, dict) and "urls" in entry for entry in servers):
        raise RuntimeError("GET /api/v1/ice-servers returned an invalid iceServers list")
    return servers


def probe_media(base_url: str, ice_servers: list[dict[str, Any]], timeout: float) -> str:
    """Publish one synthetic peer through the server's API; return "" once it connects, else the reason.

    The probe ends its own stream afterwards, so it leaves an ENDED stream behind.
    """
    from tests.services.media import SyntheticPublisher

    try:
        response = requests.post(f"{base_url}/api/v1/streams", json={"title": "Prueba de medios del corrector"}, timeout=HTTP_TIMEOUT)
    except requests.RequestException as error:
        return f"creating the probe stream failed: {error}"
    if response.status_code != 201:
        return f"creating the probe stream returned {response.status_code}"
    stream = response.json()
    headers = {"Authorization": f"Bearer {stream['publishToken']}"}
    try:
        with SyntheticPublisher(ice_servers=ice_servers) as publisher:
            try:
                publisher.publish(base_url, stream["id"], stream["publishToken"])
            except (AssertionError, requests.RequestException) as error:
                return f"the probe could not publish: {error}"
            try:
                state = publisher.wait_for_connection_state({"connected", "failed"}, timeout)
            except TimeoutError:
                return f"no WebRTC connection to the server's media within {timeout:g} s (ICE servers: {_describe(ice_servers)})"
            if state != "connected":
                return f"the WebRTC connection to the server's media failed (ICE servers: {_describe(ice_servers)})"
            return ""
    finally:
        try:
            requests.post(f"{base_url}/api/v1/streams/{stream['id']}/end", headers=headers, timeout=HTTP_TIMEOUT)
        except requests.RequestException as error:
            logger.warning("ending probe stream %s failed: %s", stream["id"], error)


def _describe(ice_servers: list[dict[str, Any]]) -> str:
    """Return the ICE server URLs, comma-separated and without their credentials."""
    urls = [url for entry in ice_servers for url in ([entry["urls"]] if isinstance(entry["urls"], str) else entry["urls"])]
    return ", ".join(urls) if urls else "none"


@pytest.fixture(scope="session")
def ice_servers(request: pytest.FixtureRequest) -> list[dict[str, Any]]:
    """ICE servers for aiortc peers: none in-process (the test Janus has none), the server's own with --base-url."""
    base_url = live_base_url(request.config)
    if not base_url:
        return []
    try:
        return fetch_ice_servers(base_url)
    except RuntimeError as error:
        pytest.skip(f"[media_unreachable] {error}")


@pytest.fixture(scope="session")
def media_reachable(request: pytest.FixtureRequest, ice_servers: list[dict[str, Any]]) -> None:
    """Skip media tests whose peers cannot connect: outside the hermetic namespace, or when the probe fails.

    pytest keeps a session fixture's skip, so the probe runs once and every later media test skips with it.
    """
    base_url = live_base_url(request.config)
    if not base_url:
        require_hermetic_netns()
        return
    timeout = probe_timeout()
    reason = probe_media(base_url, ice_servers, timeout)
    if reason:
        logger.warning("media probe against %s failed: %s", base_url, reason)
        pytest.skip(f"[media_unreachable] {reason}")


@pytest.fixture
def peers(ice_servers: list[dict[str, Any]]) -> Iterator[Callable[[type], Any]]:
    """Make aiortc peers (a tests/services/media.py class) on the target's ICE servers; all close when the test ends."""
    made: list[Any] = []

    def make(kind: type) -> Any:
        peer = kind(ice_servers=ice_servers)
        made.append(peer)
        return peer

    yield make
    for peer in made:
        peer.close()
