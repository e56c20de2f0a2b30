"""The publish, watch and dashboard pages: rendered in Spanish or English, escaped, with their scripts."""

from __future__ import annotations

import json
import re

import pytest

PAGE_IDS = {
    "publish": ["preview", "token", "publish", "stop", "publish-state", "stream-status", "viewer-count", "session-state", "ws-state", "error"],
    "watch": ["remote", "watch-state", "stream-status", "viewer-count", "session-state", "ws-state", "error"],
}


def page_messages(html: str) -> dict[str, str]:
    """Return the JSON block of texts the page's scripts use."""
    match = re.search(r'<script id="i18n" type="application/json">(.*?)</script>', html, re.S)
    assert match, "the page has no i18n block"
    return json.loads(match.group(1))


@pytest.mark.grade(module=3, es="Las páginas /publish/{id} y /watch/{id} se sirven en HTML con sus elementos")
@pytest.mark.parametrize("page", ["publish", "watch"])
def test_stream_page_has_its_elements(api, make_stream, page):
    """The /publish/{id} and /watch/{id} pages are served as HTML with their elements."""
    stream, _token = make_stream("Clase de redes")

    response = api.get(f"/{page}/{stream['id']}")

    assert response.status_code == 200
    assert response.content_type.startswith("text/html")
    html = response.text
    for element_id in PAGE_IDS[page]:
        assert f'id="{element_id}"' in html, element_id
    assert f'data-stream-id="{stream["id"]}"' in html
    assert "Clase de redes" in html


@pytest.mark.parametrize(
    ("query", "headers", "language", "status_text"),
    [
        ("", {}, "es", "Aún no empieza"),
        ("?lang=en", {}, "en", "Not started yet"),
        ("", {"Accept-Language": "en-US,en;q=0.9"}, "en", "Not started yet"),
        ("?lang=es", {"Accept-Language": "en"}, "es", "Aún no empieza"),
    ],
)
def test_page_language(api, make_stream, query, headers, language, status_text):
    stream, _token = make_stream()

    html = api.get(f"/watch/{stream['id']}{query}", headers=headers).text

    assert f'<html lang="{language}">' in html
    assert page_messages(html)["status.CREATED"] == status_text


def test_every_script_text_translated(api):
    spanish = page_messages(api.get("/dashboard").text)
    english = page_messages(api.get("/dashboard?lang=en").text)

    assert spanish.keys() == english.keys()
    # Texts that read the same in both languages are allowed; most must differ.
    same = {key for key in spanish if spanish[key] == english[key]}
    assert same <= {"status.LIVE"} or len(same) < 3, same


@pytest.mark.grade(module=3, es="La página de una emisión que no existe es un 404 en HTML")
@pytest.mark.parametrize("page", ["publish", "watch"])
@pytest.mark.parametrize("stream_id", ["00000000-0000-4000-8000-000000000000", "nope"], ids=["unknown uuid", "not a uuid"])
def test_unknown_stream_page_404(api, page, stream_id):
    """The page of an unknown stream is an HTML 404."""
    response = api.get(f"/{page}/{stream_id}")

    assert response.status_code == 404
    assert response.content_type.startswith("text/html")
    assert 'id="not-found"' in response.text


def test_stream_text_is_escaped(api, make_stream):
    stream, _token = make_stream("<script>alert(1)</script>", description="<img src=x onerror=alert(2)>")

    html = api.get(f"/watch/{stream['id']}").text

    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<img src=x" not in html


def test_unknown_id_is_escaped(api):
    response = api.get("/watch/%3Cb%3Ehi")

    assert response.status_code == 404
    assert "<b>hi" not in response.text
    assert "&lt;b&gt;hi" in response.text


@pytest.mark.grade(module=3, es="La página /dashboard se sirve en HTML")
def test_dashboard(api):
    """The /dashboard page is served as HTML."""
    response = api.get("/dashboard")

    assert response.status_code == 200
    assert 'id="streams"' in response.text
    assert 'id="ws-state"' in response.text


@pytest.mark.parametrize("name", ["common.js", "publish.js", "watch.js", "dashboard.js", "watch.css"])
def test_static_files(api, name):
    response = api.get(f"/static/watch/{name}")

    assert response.status_code == 200
    assert len(response.body) > 100
