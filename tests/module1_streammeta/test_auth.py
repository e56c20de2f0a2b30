"""Who may change a stream: its publish token or ADMIN_TOKEN; reads are anonymous."""

from __future__ import annotations

import hashlib

import pytest

from tests.module1_streammeta.helpers import assert_problem

STREAMS = "/api/v1/streams"

# (Authorization header builder, expected status, expected code or None for success)
AUTH_TABLE = [
    ("none", 401, "unauthorized"),
    ("empty", 401, "unauthorized"),
    ("basic", 401, "unauthorized"),
    ("bearer-blank", 401, "unauthorized"),
    ("other-token", 403, "forbidden"),
    ("owner-token-of-other-stream", 403, "forbidden"),
    ("token-hash", 403, "forbidden"),
    ("owner", 200, None),
    ("owner-lowercase-scheme", 200, None),
    ("admin", 200, None),
]

CHANGES = [
    ("PATCH", "", {"title": "Nuevo título"}),
    ("POST", "/start", None),
    ("POST", "/end", None),
    ("DELETE", "", None),
]
CHANGE_IDS = ["patch", "start", "end", "delete"]


def _headers(kind: str, token: str, other_token: str, admin_token: str) -> dict[str, str]:
    """Build the request headers for one row of AUTH_TABLE."""
    values = {
        "none": None,
        "empty": "",
        "basic": "Basic dXNlcjpwYXNz",
        "bearer-blank": "Bearer   ",
        "other-token": "Bearer not-a-real-token",
        "owner-token-of-other-stream": f"Bearer {other_token}",
        # The stored hash must not work as a token.
        "token-hash": "Bearer " + hashlib.sha256(token.encode()).hexdigest(),
        "owner": f"Bearer {token}",
        "owner-lowercase-scheme": f"bearer {token}",
        "admin": f"Bearer {admin_token}",
    }
    value = values[kind]
    return {} if value is None else {"Authorization": value}


@pytest.mark.parametrize(("method", "suffix", "body"), CHANGES, ids=CHANGE_IDS)
@pytest.mark.parametrize(("kind", "status", "code"), AUTH_TABLE, ids=[kind for kind, _, _ in AUTH_TABLE])
@pytest.mark.grade(module=1, es="Los cambios exigen el token de la emisión o el del instructor (401/403)")
def test_change_auth_table(api, make_stream, read_stream, request, method, suffix, body, kind, status, code) -> None:
    """Changes need the stream's token or the instructor's (401/403)."""
    # Only the admin row needs the instructor token, which a live run may not have.
    admin_token = request.getfixturevalue("admin_token") if kind == "admin" else ""
    stream, token = make_stream(title="Con dueño")
    _other, other_token = make_stream(title="Otra")
    headers = _headers(kind, token, other_token, admin_token)

    response = api.request(method, f"{STREAMS}/{stream['id']}{suffix}", json=body, headers=headers)

    if code is None:
        assert response.status_code == (204 if method == "DELETE" else 200), response.text
        return
    problem = assert_problem(response, status, code)
    if status == 401:
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert "publishToken" not in problem
    assert read_stream(stream["id"]) == stream


@pytest.mark.grade(module=1, es="Leer emisiones no necesita token")
def test_reads_are_anonymous(api, make_stream) -> None:
    """Reading streams needs no token."""
    stream, _token = make_stream()

    assert api.get(f"{STREAMS}/{stream['id']}").status_code == 200
    assert api.get(STREAMS).status_code == 200


@pytest.mark.grade(module=1, es="Crear una emisión no necesita token")
def test_create_needs_no_token(api) -> None:
    """Creating a stream needs no token."""
    response = api.post(STREAMS, json={"title": "Cualquiera puede crear"})

    assert response.status_code == 201


@pytest.mark.grade(module=1, es="Una emisión inexistente da 404 antes de mirar el token")
def test_missing_stream_is_404_before_auth(api) -> None:
    """A missing stream gets 404 before the token is checked."""
    response = api.post(f"{STREAMS}/00000000-0000-4000-8000-000000000000/start")

    assert_problem(response, 404, "not_found")


@pytest.mark.grade(module=1, es="Un cuerpo inválido da 400 antes de mirar el token")
def test_validation_before_auth(api, make_stream, read_stream) -> None:
    """An invalid body gets 400 before the token is checked."""
    stream, _token = make_stream()

    response = api.patch(f"{STREAMS}/{stream['id']}", json={"title": ""})

    assert_problem(response, 400, "validation_error")
    assert read_stream(stream["id"]) == stream
