"""The publish and watch pages in headless Chromium with a fake camera, through the backend and a real Janus.

Inside the hermetic namespace only: once camera permission is granted,
Chromium gathers candidates on every interface, which must be the
namespace's 127.0.0.2.
"""

from __future__ import annotations

import time
from typing import Any, Callable

import pytest
import requests


pytestmark = [pytest.mark.media, pytest.mark.janus, pytest.mark.chromium]

# Bounded waits for the pages; generous for a loaded 2-core machine.
PAGE_TIMEOUT_MS = 60_000


@pytest.fixture
def browser(chromium: Callable[[], Any]) -> Any:
    """One Chromium context (tabs share its camera permission)."""
    return chromium()


def wait_state(page: Any, element_id: str, state: str) -> None:
    """Wait until the element's data-state (or data-status) is ``state``."""
    page.wait_for_selector(f'#{element_id}[data-state="{state}"]', timeout=PAGE_TIMEOUT_MS)


def start_publishing(page: Any, server_url: str) -> str:
    """Create a stream, publish the fake camera from the publish page and return the stream id."""
    created = requests.post(server_url + "/api/v1/streams", json={"title": "Clase desde el navegador"}, timeout=30).json()
    page.goto(f"{server_url}/publish/{created['id']}#token={created['publishToken']}")
    wait_state(page, "publish-state", "camera")
    page.click("#publish")
    wait_state(page, "publish-state", "publishing")
    wait_state(page, "stream-status", "LIVE")
    return created["id"]


def wait_playing(page: Any, server_url: str, stream_id: str) -> None:
    """Open the watch page and wait until its video plays (currentTime advances by a second)."""
    page.goto(f"{server_url}/watch/{stream_id}")
    wait_state(page, "watch-state", "playing")
    started_at = page.evaluate("document.getElementById('remote').currentTime")
    page.wait_for_function(f"document.getElementById('remote').currentTime > {started_at} + 1", timeout=PAGE_TIMEOUT_MS)


def test_publish_page_and_watch_page(browser, make_app, live_server_factory, janus_server):
    server = live_server_factory(make_app(JANUS_URL=janus_server.url))
    publish_page = browser.new_page()
    stream_id = start_publishing(publish_page, server.url)

    watch_page = browser.new_page()
    frames: list[str] = []
    watch_page.on("websocket", lambda socket: socket.on("framereceived", lambda payload: frames.append(str(payload))))
    wait_playing(watch_page, server.url, stream_id)

    # The page bound its viewer to its events socket.
    watch_page.wait_for_function("document.body.dataset.viewerId !== undefined", timeout=PAGE_TIMEOUT_MS)
    viewer_id = watch_page.evaluate("document.body.dataset.viewerId")
    deadline = time.monotonic() + PAGE_TIMEOUT_MS / 1000
    while not any('"type":"watching"' in frame and '"bound":true' in frame for frame in frames) and time.monotonic() < deadline:
        watch_page.wait_for_timeout(100)
    assert any(f'"viewerId":"{viewer_id}"' in frame and '"bound":true' in frame for frame in frames), frames
    video = watch_page.evaluate("(() => { const v = document.getElementById('remote'); return {width: v.videoWidth, height: v.videoHeight, paused: v.paused}; })()")
    assert video["width"] > 0
    assert video["height"] > 0
    assert video["paused"] is False
    # Both pages show the live viewer count from the WebSocket.
    publish_page.wait_for_function("document.getElementById('viewer-count').textContent === '1'", timeout=PAGE_TIMEOUT_MS)
    assert watch_page.text_content("#viewer-count") == "1"
    assert requests.get(f"{server.url}/api/v1/streams/{stream_id}", timeout=30).json()["viewerCount"] == 1

    publish_page.click("#end-stream")
    wait_state(watch_page, "watch-state", "ended")
    wait_state(watch_page, "stream-status", "ENDED")
    assert requests.get(f"{server.url}/api/v1/streams/{stream_id}", timeout=30).json()["viewerCount"] == 0


def test_viewer_without_camera_permission_plays(chromium, make_app, live_server_factory, janus_server):
    """A viewer in its own browser profile, which never asked for the camera or microphone, plays too."""
    server = live_server_factory(make_app(JANUS_URL=janus_server.url))
    stream_id = start_publishing(chromium().new_page(), server.url)

    watch_page = chromium().new_page()
    wait_playing(watch_page, server.url, stream_id)

    assert watch_page.evaluate("document.getElementById('remote').videoWidth") > 0


def test_dashboard_updates_live(browser, make_app, live_server_factory):
    server = live_server_factory(make_app())
    created = requests.post(server.url + "/api/v1/streams", json={"title": "Clase del panel"}, timeout=30).json()

    page = browser.new_page()
    page.goto(f"{server.url}/dashboard?lang=en")
    row = f'tr[data-stream-id="{created["id"]}"]'
    page.wait_for_selector(f'{row} td[data-field="status"][data-state="CREATED"]', timeout=PAGE_TIMEOUT_MS)
    wait_state(page, "ws-state", "open")

    response = requests.post(f"{server.url}/api/v1/streams/{created['id']}/start", headers={"Authorization": f"Bearer {created['publishToken']}"}, timeout=30)
    assert response.status_code == 200
    page.wait_for_selector(f'{row} td[data-field="status"][data-state="LIVE"]', timeout=PAGE_TIMEOUT_MS)

    assert page.get_attribute(f"{row} a.watch-link", "href") == f"/watch/{created['id']}"
    assert page.text_content(f'{row} td[data-field="status"]') == "Live"
