"""The publish and watch pages in headless Chromium with a fake camera, through the backend and a real Janus.

Inside the hermetic namespace only: once camera permission is granted,
Chromium gathers candidates on every interface, which must be the
namespace's 127.0.0.2.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import pytest
import requests

from tests.services.availability import require_binary, require_hermetic_netns

pytestmark = [pytest.mark.media, pytest.mark.janus, pytest.mark.chromium]

CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
]
# Bounded waits for the pages; generous for a loaded 2-core machine.
PAGE_TIMEOUT_MS = 60_000


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    """A headless Debian Chromium context with a fake camera and a fresh profile."""
    require_hermetic_netns()
    executable = require_binary("chromium", "chromium")
    sync_api = pytest.importorskip("playwright.sync_api")

    with sync_api.sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"), executable_path=executable, headless=True, args=CHROMIUM_FLAGS
        )
        try:
            yield context
        finally:
            context.close()


def wait_state(page: Any, element_id: str, state: str) -> None:
    """Wait until the element's data-state (or data-status) is ``state``."""
    page.wait_for_selector(f'#{element_id}[data-state="{state}"]', timeout=PAGE_TIMEOUT_MS)


def test_publish_page_and_watch_page(browser, make_app, live_server_factory, janus_server):
    server = live_server_factory(make_app(JANUS_URL=janus_server.url))
    created = requests.post(server.url + "/api/v1/streams", json={"title": "Clase desde el navegador"}, timeout=30).json()
    stream_id, token = created["id"], created["publishToken"]

    publish_page = browser.new_page()
    publish_page.goto(f"{server.url}/publish/{stream_id}#token={token}")
    wait_state(publish_page, "publish-state", "camera")
    publish_page.click("#publish")
    wait_state(publish_page, "publish-state", "publishing")
    wait_state(publish_page, "stream-status", "LIVE")

    watch_page = browser.new_page()
    watch_page.goto(f"{server.url}/watch/{stream_id}")
    wait_state(watch_page, "watch-state", "playing")
    started_at = watch_page.evaluate("document.getElementById('remote').currentTime")
    watch_page.wait_for_function(f"document.getElementById('remote').currentTime > {started_at} + 1", timeout=PAGE_TIMEOUT_MS)

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


def test_dashboard_updates_live(browser, make_app, live_server_factory):
    require_hermetic_netns()
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
