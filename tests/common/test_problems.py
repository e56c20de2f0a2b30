"""Every error is RFC 9457 problem+json with a stable code: 404, 405, 413, 415, 500, bad JSON, validation."""

from __future__ import annotations

import logging

import pytest

from common.errors import PROBLEM_MIME, PROBLEMS
from tests.common.conftest import MAX_BODY
from tests.services.api_client import ApiClient, ApiResponse

PROBLEM_KEYS = {"type", "title", "status", "detail", "code", "instance", "requestId"}


def assert_problem(response: ApiResponse, status: int, code: str) -> dict:
    """Check the problem+json shape of ``response`` and return its body."""
    assert response.status_code == status
    assert response.content_type.startswith(PROBLEM_MIME)
    body = response.json()
    assert PROBLEM_KEYS <= set(body)
    assert body["status"] == status
    assert body["code"] == code
    assert body["type"].endswith("/" + code.replace("_", "-"))
    assert body["title"] == PROBLEMS[code].title
    assert body["detail"]
    assert body["requestId"] == response.headers["X-Request-ID"]
    return body


# (method, path, status, code) reachable on every module 0 server, in-process or live.
HTTP_ROWS = [
    ("GET", "/no/such/path", 404, "not_found"),
    ("GET", "/api/v1/no-such-resource", 404, "not_found"),
    ("GET", "/static/preflight/no-such-file.js", 404, "not_found"),
    ("POST", "/health", 405, "method_not_allowed"),
    ("DELETE", "/ready", 405, "method_not_allowed"),
    ("PUT", "/api/v1/ice-servers", 405, "method_not_allowed"),
    ("POST", "/preflight", 405, "method_not_allowed"),
]


@pytest.mark.parametrize(("method", "path", "status", "code"), HTTP_ROWS)
def test_http_errors_are_problems(api: ApiClient, method: str, path: str, status: int, code: str) -> None:
    body = assert_problem(api.request(method, path), status, code)

    assert body["instance"] == path


def test_not_found_never_html(api: ApiClient) -> None:
    response = api.get("/no/such/page", headers={"Accept": "text/html"})

    assert_problem(response, 404, "not_found")
    assert "<html" not in response.text.lower()


def test_method_not_allowed_lists_allowed(api: ApiClient) -> None:
    response = api.post("/health")

    assert_problem(response, 405, "method_not_allowed")
    assert "GET" in response.headers["Allow"]


def test_payload_too_large(client: ApiClient) -> None:
    response = client.post("/api/v1/test/echo", data=b"{" + b" " * (MAX_BODY * 2) + b"}", headers={"Content-Type": "application/json"})

    assert_problem(response, 413, "payload_too_large")


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "application/xml"])
def test_unsupported_media_type(client: ApiClient, content_type: str) -> None:
    response = client.post("/api/v1/test/echo", data=b"name=a&count=1", headers={"Content-Type": content_type})

    assert_problem(response, 415, "unsupported_media_type")


def test_body_without_content_type(client: ApiClient) -> None:
    response = client.post("/api/v1/test/echo", data=b'{"name": "a", "count": 1}')

    assert_problem(response, 415, "unsupported_media_type")


@pytest.mark.parametrize("body", [b"{", b'{"name": "a",}', b"not json", b'{"name": "\xff"}'])
def test_malformed_json(client: ApiClient, body: bytes) -> None:
    response = client.post("/api/v1/test/echo", data=body, headers={"Content-Type": "application/json"})

    assert_problem(response, 400, "malformed_json")


# (JSON body, {field: number of messages})
VALIDATION_ROWS = [
    ({}, {"name": 1, "count": 1}),
    ({"name": "a"}, {"count": 1}),
    ({"name": "", "count": 1}, {"name": 1}),
    ({"name": "a", "count": -1}, {"count": 1}),
    ({"name": "a", "count": "many"}, {"count": 1}),
    ({"name": "a", "count": 1, "extra": True}, {"extra": 1}),
    ([1, 2], {"_schema": 1}),
    ("text", {"_schema": 1}),
]


@pytest.mark.parametrize(("payload", "fields"), VALIDATION_ROWS)
def test_validation_error_lists_fields(client: ApiClient, payload, fields: dict[str, int]) -> None:
    response = client.post("/api/v1/test/echo", json=payload)

    body = assert_problem(response, 400, "validation_error")
    listed = {error["field"]: error["messages"] for error in body["errors"]}
    assert {field: len(messages) for field, messages in listed.items()} == fields
    for messages in listed.values():
        assert all(isinstance(message, str) and message for message in messages)


def test_valid_body_passes(client: ApiClient) -> None:
    response = client.post("/api/v1/test/echo", json={"name": "a", "count": 2})

    assert response.status_code == 200
    assert response.json() == {"name": "a", "count": 2}


def test_unexpected_error_is_500_problem(client: ApiClient, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, logger="common.errors"):
        response = client.get("/api/v1/test/crash")

    body = assert_problem(response, 500, "internal_error")
    assert "Traceback" not in response.text
    assert "s3cr3t" not in response.text
    logged = [record for record in caplog.records if record.name == "common.errors"]
    assert len(logged) == 1
    assert body["requestId"] in logged[0].getMessage()
    assert logged[0].exc_info is not None


def test_every_problem_code_has_status_and_title() -> None:
    for code, kind in PROBLEMS.items():
        assert code == code.lower()
        assert 400 <= kind.status <= 599
        assert kind.title
        assert str(kind.detail)
