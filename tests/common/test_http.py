"""Request ids, CORS, language selection and the OpenAPI document of the common app base."""

from __future__ import annotations

import re

import pytest
from babel.support import Translations

from common.i18n import PROJECT_ROOT
from tests.services.api_client import ApiClient

COMMON_CATALOG = PROJECT_ROOT / "common" / "translations"
NOT_FOUND_DETAIL = "No resource at %(path)s."


# --- Request id ---


def test_request_id_generated(api: ApiClient) -> None:
    first = api.get("/health").headers["X-Request-ID"]
    second = api.get("/health").headers["X-Request-ID"]

    assert re.fullmatch(r"[0-9a-f]{32}", first)
    assert first != second


def test_request_id_echoed(api: ApiClient) -> None:
    response = api.get("/no/such/path", headers={"X-Request-ID": "student-42.retry-1"})

    assert response.headers["X-Request-ID"] == "student-42.retry-1"
    assert response.json()["requestId"] == "student-42.retry-1"


@pytest.mark.parametrize("incoming", ["x" * 65, "bad\tid"])
def test_request_id_replaced_when_unusable(api: ApiClient, incoming: str) -> None:
    response = api.get("/health", headers={"X-Request-ID": incoming})

    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["X-Request-ID"])


# --- CORS ---


@pytest.mark.parametrize("path", ["/health", "/ready", "/api/v1/ice-servers"])
def test_cors_any_origin_by_default(make_app, path: str) -> None:
    client = ApiClient(app=make_app())

    response = client.get(path, headers={"Origin": "http://localhost:8080"})

    assert response.headers["Access-Control-Allow-Origin"] in ("*", "http://localhost:8080")
    assert "X-Request-ID" in response.headers["Access-Control-Expose-Headers"]


def test_cors_configured_origins(make_app) -> None:
    client = ApiClient(app=make_app(CORS_ORIGINS="https://course.example.org, http://localhost:8080"))

    allowed = client.get("/health", headers={"Origin": "https://course.example.org"})
    other = client.get("/health", headers={"Origin": "https://elsewhere.example.org"})

    assert allowed.headers["Access-Control-Allow-Origin"] == "https://course.example.org"
    assert "Access-Control-Allow-Origin" not in other.headers
    assert other.status_code == 200


def test_cors_preflight_allows_api_headers(make_app) -> None:
    client = ApiClient(app=make_app(CORS_ORIGINS="http://localhost:8080"))

    response = client.request(
        "OPTIONS",
        "/api/v1/ice-servers",
        headers={
            "Origin": "http://localhost:8080",
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "authorization, content-type, if-match",
        },
    )
    allowed_headers = {name.strip().lower() for name in response.headers["Access-Control-Allow-Headers"].split(",")}

    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == "http://localhost:8080"
    assert {"authorization", "content-type", "if-match"} <= allowed_headers


# --- Language ---


@pytest.mark.parametrize(
    ("query", "headers", "language"),
    [
        ("", {}, "es"),
        ("", {"Accept-Language": "en"}, "en"),
        ("", {"Accept-Language": "en-US,en;q=0.9,es;q=0.5"}, "en"),
        ("", {"Accept-Language": "es-MX,en;q=0.5"}, "es"),
        ("", {"Accept-Language": "fr-FR"}, "es"),
        ("?lang=en", {}, "en"),
        ("?lang=es", {"Accept-Language": "en"}, "es"),
        ("?lang=de", {"Accept-Language": "en"}, "en"),
    ],
)
def test_problem_language(api: ApiClient, query: str, headers: dict, language: str) -> None:
    spanish = Translations.load(str(COMMON_CATALOG), ["es"], domain="messages")
    expected = {"en": NOT_FOUND_DETAIL, "es": spanish.gettext(NOT_FOUND_DETAIL)}[language] % {"path": "/no/such/path"}

    response = api.get("/no/such/path" + query, headers=headers)

    assert response.headers["Content-Language"] == language
    assert response.json()["detail"] == expected


def test_spanish_detail_differs_from_english(api: ApiClient) -> None:
    spanish = api.get("/no/such/path").json()["detail"]
    english = api.get("/no/such/path", headers={"Accept-Language": "en"}).json()["detail"]

    assert spanish != english


def test_default_locale_setting(make_app) -> None:
    client = ApiClient(app=make_app(DEFAULT_LOCALE="en"))

    response = client.get("/no/such/path")

    assert response.headers["Content-Language"] == "en"


# --- OpenAPI ---


def test_openapi_document(api: ApiClient) -> None:
    response = api.get("/api/openapi.json")
    document = response.json()

    assert response.status_code == 200
    assert document["openapi"].startswith("3.")
    assert document["info"]["version"] == "v1"
    assert {"/health", "/ready", "/api/v1/ice-servers", "/api/v1/preflight"} <= set(document["paths"])


def test_openapi_documents_ice_server_keys(api: ApiClient) -> None:
    schemas = api.get("/api/openapi.json").json()["components"]["schemas"]

    assert set(schemas["IceServer"]["properties"]) == {"urls", "username", "credential"}
    assert set(schemas["IceServers"]["properties"]) == {"iceServers", "ttl"}


def test_openapi_docs_page(api: ApiClient) -> None:
    response = api.get("/api/docs")

    assert response.status_code == 200
    assert response.content_type.startswith("text/html")
    assert "openapi.json" in response.text
