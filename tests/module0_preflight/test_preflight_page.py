"""The /preflight page: server-rendered language, and the checks it runs in headless Chromium."""

from __future__ import annotations

import re
from typing import Any, Callable

import pytest
from babel.support import Translations

from module0_preflight.check import TRANSLATIONS_DIR
from tests.services.api_client import ApiClient
from tests.services.coturn import Coturn

# The page gathers candidates for at most 10 s; this leaves room for a loaded machine.
PAGE_TIMEOUT_MS = 60_000


def _html_lang(html: str) -> str:
    match = re.search(r'<html lang="([a-z]+)"', html)
    assert match, html[:200]
    return match.group(1)


@pytest.mark.parametrize(
    ("query", "headers", "language"),
    [
        ("", {}, "es"),
        ("?lang=en", {}, "en"),
        ("", {"Accept-Language": "en-US,en;q=0.9"}, "en"),
        ("?lang=es", {"Accept-Language": "en"}, "es"),
        ("", {"Accept-Language": "fr"}, "es"),
    ],
    ids=["default", "lang=en", "Accept-Language en", "lang=es over Accept-Language en", "Accept-Language fr"],
)
@pytest.mark.grade(module=0, es="La página /preflight sale en español salvo que se pida inglés")
def test_page_language(api: ApiClient, query: str, headers: dict, language: str) -> None:
    """The /preflight page is in Spanish unless English is requested."""
    spanish = Translations.load(str(TRANSLATIONS_DIR), ["es"], domain="messages")
    title = "Connectivity preflight"

    response = api.get("/preflight" + query, headers=headers)

    assert response.status_code == 200
    assert response.content_type.startswith("text/html")
    assert _html_lang(response.text) == language
    assert (spanish.gettext(title) if language == "es" else title) in response.text


@pytest.mark.grade(module=0, es="Se sirven el script y la hoja de estilos de la página de preflight")
def test_page_assets_served(api: ApiClient) -> None:
    """The preflight page's script and stylesheet are served."""
    script = api.get("/static/preflight/preflight.js")
    stylesheet = api.get("/static/preflight/preflight.css")

    assert script.status_code == 200
    assert "javascript" in script.content_type
    assert "RTCPeerConnection" in script.text
    assert stylesheet.status_code == 200
    assert stylesheet.content_type.startswith("text/css")


# --- Headless Chromium ---


@pytest.fixture
def chromium_page(chromium: Callable[[], Any]) -> Any:
    """A page in headless Chromium with a fake camera (tests/services/chromium.py)."""
    return chromium().new_page()


def _run_page(page: Any, url: str) -> dict[str, Any]:
    page.goto(url)
    page.wait_for_selector('body[data-preflight="done"]', timeout=PAGE_TIMEOUT_MS)
    return page.evaluate("window.preflightResults")


@pytest.mark.media
@pytest.mark.chromium
@pytest.mark.coturn
def test_page_gathers_host_and_relay(chromium_page, make_app, live_server_factory, coturn: Coturn) -> None:
    server = live_server_factory(make_app(**coturn.app_settings()))

    results = _run_page(chromium_page, server.url + "/preflight?lang=en")
    checks = {check["name"]: check for check in results["checks"] if check["name"] != "ice_server"}
    ice_servers = [check for check in results["checks"] if check["name"] == "ice_server"]
    turn = next(check for check in ice_servers if check["data"]["expected"] == "relay")

    assert results["status"] == "done"
    assert checks["backend"]["status"] == "ok"
    assert checks["ice_servers"]["status"] == "ok"
    assert checks["media"]["status"] == "ok"
    assert sorted(track["kind"] for track in checks["media"]["data"]["tracks"]) == ["audio", "video"]
    assert checks["ice_none"]["status"] == "ok"
    assert "127.0.0.2" in {candidate["address"] for candidate in checks["ice_none"]["data"]["candidates"] if candidate["type"] == "host"}
    assert turn["status"] == "ok"
    assert turn["data"]["counts"]["relay"] >= 1
    relayed = {candidate["address"] for candidate in turn["data"]["candidates"] if candidate["type"] == "relay"}
    assert relayed == {coturn.relay_ip}


@pytest.mark.media
@pytest.mark.chromium
@pytest.mark.coturn
def test_page_reports_missing_relay(chromium_page, make_app, live_server_factory, coturn: Coturn) -> None:
    settings = {**coturn.app_settings(), "TURN_SECRET": "not-the-coturn-secret"}
    server = live_server_factory(make_app(**settings))

    spanish = Translations.load(str(TRANSLATIONS_DIR), ["es"], domain="messages")

    results = _run_page(chromium_page, server.url + "/preflight?lang=es")
    turn = next(check for check in results["checks"] if check["name"] == "ice_server" and check["data"]["expected"] == "relay")
    failed_cells = chromium_page.locator('td.status[data-status="fail"]').all_text_contents()

    assert turn["status"] == "fail"
    assert turn["data"]["counts"]["relay"] == 0
    assert results["failed"] >= 1
    # The script shows the texts the server rendered in the page's language.
    assert chromium_page.locator("html").get_attribute("lang") == "es"
    assert failed_cells
    assert set(failed_cells) == {spanish.gettext("FAIL")}


@pytest.mark.media
@pytest.mark.chromium
def test_page_results_shown_as_json(chromium_page, make_app, live_server_factory) -> None:
    server = live_server_factory(make_app(STUN_URLS=[], TURN_URLS=[], TURN_SECRET=""))

    results = _run_page(chromium_page, server.url + "/preflight")
    shown = chromium_page.locator("#preflight-results").text_content()
    statuses = chromium_page.locator("td.status").evaluate_all("cells => cells.map(cell => cell.dataset.status)")

    assert '"status": "done"' in shown
    assert [check["name"] for check in results["checks"]][:3] == ["backend", "ice_servers", "media"]
    assert statuses == [check["status"] for check in results["checks"]]
    assert "running" not in statuses
