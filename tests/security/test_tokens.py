"""Every state-changing route of the served OpenAPI document rejects a missing, wrong or other stream's token.

The tables below name every POST, PUT, PATCH and DELETE operation of
/api/openapi.json: either it needs the stream's publish token (or ADMIN_TOKEN),
or it is anonymous for a stated reason. A route added to the API without a row
fails ``test_every_changing_route_has_a_row``.
"""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from common.db import db
from module2_session.models import StreamSession
from tests.services.api_client import ApiClient, ApiResponse
from tests.module1_streammeta.helpers import bearer
from tests.services.seeds import OFFER_SDP, Seeder, SeededStream

CHANGING_METHODS = {"post", "put", "patch", "delete"}

# Operations anyone may call, and why.
ANONYMOUS = {
    ("POST", "/api/v1/streams"): "creating a stream is what returns its publish token",
    ("POST", "/api/v1/streams/{stream_id}/viewers"): "watching is anonymous",
    ("POST", "/api/v1/viewers/{viewer_id}/answer"): "the viewer id works as the viewer's capability",
    ("POST", "/api/v1/viewers/{viewer_id}/candidates"): "the viewer id works as the viewer's capability",
    ("DELETE", "/api/v1/viewers/{viewer_id}"): "the viewer id works as the viewer's capability",
}

# Operations that need the owning stream's publish token or ADMIN_TOKEN:
# (method, path) -> (stream status before the request, JSON body).
OWNER_ONLY: dict[tuple[str, str], tuple[str, Any]] = {
    ("PATCH", "/api/v1/streams/{stream_id}"): ("CREATED", {"title": "Título cambiado"}),
    ("DELETE", "/api/v1/streams/{stream_id}"): ("CREATED", None),
    ("POST", "/api/v1/streams/{stream_id}/start"): ("CREATED", None),
    ("POST", "/api/v1/streams/{stream_id}/end"): ("LIVE", None),
    ("POST", "/api/v1/streams/{stream_id}/sessions"): ("CREATED", {"type": "offer", "sdp": OFFER_SDP}),
    ("POST", "/api/v1/sessions/{session_id}/candidates"): ("CREATED", {"completed": True}),
    ("DELETE", "/api/v1/sessions/{session_id}"): ("CREATED", None),
}

# (caller, expected status, expected code)
REJECTED_CALLERS = [
    ("missing token", 401, "unauthorized"),
    ("blank bearer", 401, "unauthorized"),
    ("wrong token", 403, "forbidden"),
    ("other stream's token", 403, "forbidden"),
]


def _changing_operations(api: ApiClient) -> set[tuple[str, str]]:
    """Return (METHOD, path) of every state-changing operation in the served OpenAPI document."""
    document = api.get("/api/openapi.json").json()
    return {
        (method.upper(), path)
        for path, operations in document["paths"].items()
        for method in operations
        if method in CHANGING_METHODS
    }


def _caller_headers(caller: str, seeder: Seeder) -> dict[str, str]:
    """Build the Authorization header of one rejected caller."""
    if caller == "missing token":
        return {}
    if caller == "blank bearer":
        return {"Authorization": "Bearer "}
    if caller == "wrong token":
        return bearer("not-a-publish-token")
    return bearer(seeder.stream("CREATED", title="Otra emisión").token)


def _snapshot(app: Flask, api: ApiClient, stream: SeededStream, session_id: str | None) -> dict[str, Any]:
    """Read what a rejected request must leave unchanged: the stream, its session and its session count."""
    stream_body = api.get(f"/api/v1/streams/{stream.id}").json()
    with app.app_context():
        sessions = db.session.query(StreamSession).filter_by(stream_id=stream.id).count()
    snapshot = {"stream": stream_body, "sessions": sessions}
    if session_id is not None:
        snapshot["session"] = api.get(f"/api/v1/sessions/{session_id}").json()
    return snapshot


def _send(api: ApiClient, method: str, path: str, stream: SeededStream, session_id: str | None, body: Any, headers: dict[str, str]) -> ApiResponse:
    url = path.replace("{stream_id}", stream.id).replace("{session_id}", session_id or "")
    return api.request(method, url, json=body, headers=headers)


def _prepare(seeder: Seeder, path: str, status: str) -> tuple[SeededStream, str | None]:
    """Make the stream (and the session, for session routes) the request acts on."""
    stream = seeder.stream("CREATED")
    session_id = seeder.failed_session(stream) if "{session_id}" in path else None
    return seeder.move(stream, status), session_id


def test_every_changing_route_has_a_row(api: ApiClient) -> None:
    served = _changing_operations(api)

    assert served - set(ANONYMOUS) - set(OWNER_ONLY) == set(), "add each new route to OWNER_ONLY or ANONYMOUS"
    assert (set(ANONYMOUS) | set(OWNER_ONLY)) - served == set(), "the API no longer serves these rows"
    assert set(ANONYMOUS) & set(OWNER_ONLY) == set()


@pytest.mark.parametrize(("method", "path"), sorted(OWNER_ONLY), ids=lambda value: value)
@pytest.mark.parametrize(("caller", "status", "code"), REJECTED_CALLERS, ids=[row[0] for row in REJECTED_CALLERS])
def test_changing_route_rejects_caller(
    complete_app: Flask, api: ApiClient, seeder: Seeder, method: str, path: str, caller: str, status: int, code: str
) -> None:
    stream_status, body = OWNER_ONLY[(method, path)]
    stream, session_id = _prepare(seeder, path, stream_status)
    before = _snapshot(complete_app, api, stream, session_id)

    response = _send(api, method, path, stream, session_id, body, _caller_headers(caller, seeder))

    assert response.status_code == status, response.text
    assert response.content_type.startswith("application/problem+json"), response.content_type
    assert response.json()["code"] == code
    assert _snapshot(complete_app, api, stream, session_id) == before


@pytest.mark.parametrize(("method", "path"), sorted(OWNER_ONLY), ids=lambda value: value)
@pytest.mark.parametrize("caller", ["owner", "admin"])
def test_changing_route_accepts_owner_and_admin(
    complete_app: Flask, api: ApiClient, seeder: Seeder, method: str, path: str, caller: str
) -> None:
    """The same requests pass the token check with the right token, so the rejections above come from it."""
    stream_status, body = OWNER_ONLY[(method, path)]
    stream, session_id = _prepare(seeder, path, stream_status)
    token = stream.token if caller == "owner" else complete_app.config["ADMIN_TOKEN"]

    response = _send(api, method, path, stream, session_id, body, bearer(token))

    # Janus is unreachable (503) and the seeded session has FAILED (409):
    # both responses come after the token check.
    assert response.status_code not in (401, 403), response.text
    assert response.status_code < 500 or response.status_code == 503, response.text
