"""Helpers of the module 1 tests: auth headers and problem+json checks."""

from __future__ import annotations

from typing import Any

from tests.services.api_client import ApiResponse


def bearer(token: str) -> dict[str, str]:
    """Return the Authorization header for ``token``."""
    return {"Authorization": f"Bearer {token}"}


def assert_problem(response: ApiResponse, status: int, code: str) -> dict[str, Any]:
    """Check a problem+json response's status and code; return its body."""
    assert response.status_code == status, response.text
    assert response.content_type.startswith("application/problem+json"), response.content_type
    body = response.json()
    assert body["code"] == code, body
    return body


def error_fields(body: dict[str, Any]) -> set[str]:
    """Return the field names a validation_error lists."""
    return {entry["field"] for entry in body.get("errors", [])}
