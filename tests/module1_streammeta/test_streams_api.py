"""Create, read, edit and delete streams over HTTP, and bad input that must change nothing."""

from __future__ import annotations

import re
import uuid
from datetime import datetime

import pytest

from tests.module1_streammeta.helpers import assert_problem, bearer, error_fields

STREAMS = "/api/v1/streams"
ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
STREAM_FIELDS = {
    "id", "title", "description", "ownerName", "status", "createdAt", "updatedAt",
    "startedAt", "endedAt", "maxViewers", "version", "viewerCount",
}


@pytest.mark.grade(module=1, es="POST /api/v1/streams crea la emisión y devuelve su token, ETag y Location")
def test_create_returns_stream_and_token(api) -> None:
    """POST /api/v1/streams creates the stream and returns its token, ETag and Location."""
    response = api.post(STREAMS, json={"title": "  Clase 1: WebRTC  ", "description": "Oferta y respuesta", "ownerName": "Ana", "maxViewers": 30})

    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == STREAM_FIELDS | {"publishToken"}
    assert uuid.UUID(body["id"]).version == 4
    assert body["title"] == "Clase 1: WebRTC"
    assert body["description"] == "Oferta y respuesta"
    assert body["ownerName"] == "Ana"
    assert body["status"] == "CREATED"
    assert body["maxViewers"] == 30
    assert body["version"] == 1
    assert body["viewerCount"] == 0
    assert body["startedAt"] is None
    assert body["endedAt"] is None
    assert ISO_UTC.match(body["createdAt"]), body["createdAt"]
    assert body["createdAt"] == body["updatedAt"]
    assert len(body["publishToken"]) >= 32
    assert response.headers["ETag"] == '"1"'
    assert response.headers["Location"].endswith(f"{STREAMS}/{body['id']}")


@pytest.mark.grade(module=1, es="Una emisión creada solo con título toma los valores por defecto")
def test_create_defaults(api) -> None:
    """A stream created with only a title gets the default values."""
    response = api.post(STREAMS, json={"title": "Solo título"})

    assert response.status_code == 201, response.text
    body = response.json()
    assert body["description"] == ""
    assert body["ownerName"] is None
    assert body["maxViewers"] == 50


@pytest.mark.grade(module=1, es="El publishToken solo aparece en la respuesta de creación")
def test_token_shown_only_on_create(api, make_stream) -> None:
    """The publishToken appears only in the create response."""
    stream, _token = make_stream()

    read = api.get(f"{STREAMS}/{stream['id']}").json()
    listed = api.get(STREAMS).json()["items"]

    assert "publishToken" not in read
    assert all("publishToken" not in item for item in listed)


@pytest.mark.grade(module=1, es="GET de una emisión devuelve sus campos y su ETag")
def test_read_stream_with_etag(api, make_stream) -> None:
    """GET of a stream returns its fields and its ETag."""
    stream, _token = make_stream(title="Lectura")

    response = api.get(f"{STREAMS}/{stream['id']}")

    assert response.status_code == 200
    assert response.json() == stream
    assert response.headers["ETag"] == '"1"'
    assert response.content_type.startswith("application/json")


@pytest.mark.parametrize(
    "title",
    [
        "🎥 Clase en vivo 🚀",
        "x",
        "ñandú ÁÉÍÓÚ ü",
        "漢字とかな",
        "👩‍💻" * 30,
        "a" * 120,
        "🚀" * 120,
    ],
)
def test_title_any_unicode(api, title: str) -> None:
    response = api.post(STREAMS, json={"title": title})

    assert response.status_code == 201, response.text
    stream_id = response.json()["id"]
    assert api.get(f"{STREAMS}/{stream_id}").json()["title"] == title


def test_limits_are_inclusive(api) -> None:
    response = api.post(STREAMS, json={"title": "t", "description": "d" * 2000, "ownerName": "o" * 80, "maxViewers": 10000})

    assert response.status_code == 201, response.text
    body = response.json()
    assert len(body["description"]) == 2000
    assert len(body["ownerName"]) == 80
    assert body["maxViewers"] == 10000


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({}, {"title"}),
        ({"title": ""}, {"title"}),
        ({"title": "   "}, {"title"}),
        ({"title": "a" * 121}, {"title"}),
        ({"title": "🚀" * 121}, {"title"}),
        ({"title": None}, {"title"}),
        ({"title": 5}, {"title"}),
        ({"title": ["x"]}, {"title"}),
        ({"title": "a\u0000b"}, {"title"}),
        ({"title": "line\nbreak"}, {"title"}),
        ({"title": "ok", "description": "d" * 2001}, {"description"}),
        ({"title": "ok", "description": 7}, {"description"}),
        ({"title": "ok", "ownerName": "o" * 81}, {"ownerName"}),
        ({"title": "ok", "maxViewers": 0}, {"maxViewers"}),
        ({"title": "ok", "maxViewers": 10001}, {"maxViewers"}),
        ({"title": "ok", "maxViewers": "10"}, {"maxViewers"}),
        ({"title": "ok", "maxViewers": 2.5}, {"maxViewers"}),
        ({"title": "ok", "maxViewers": True}, {"maxViewers"}),
        ({"title": "ok", "status": "LIVE"}, {"status"}),
        ({"title": "ok", "id": str(uuid.uuid4())}, {"id"}),
        ({"title": "ok", "publishToken": "mine"}, {"publishToken"}),
        ({"title": "", "maxViewers": -1, "extra": 1}, {"title", "maxViewers", "extra"}),
    ],
    ids=[
        "no title", "empty title", "blank title", "title too long", "emoji title too long", "null title",
        "number title", "list title", "NUL in title", "line break in title", "description too long",
        "number description", "ownerName too long", "maxViewers 0", "maxViewers too high", "maxViewers string",
        "maxViewers float", "maxViewers boolean", "status given", "id given", "publishToken given", "three bad fields",
    ],
)
@pytest.mark.grade(module=1, es="Un cuerpo inválido da 400 validation_error con los campos y no crea nada")
def test_create_rejects_invalid_body(api, body: dict, fields: set[str]) -> None:
    """An invalid body gets 400 validation_error naming the fields and creates nothing."""
    before = api.get(STREAMS).json()["total"]

    response = api.post(STREAMS, json=body)

    problem = assert_problem(response, 400, "validation_error")
    assert error_fields(problem) == fields
    assert api.get(STREAMS).json()["total"] == before


def test_create_rejects_lone_surrogate(api) -> None:
    # A lone surrogate is valid JSON but not Unicode text; MySQL's utf8mb4 could not store it.
    response = api.post(STREAMS, data='{"title": "ok \\ud800"}', headers={"Content-Type": "application/json"})

    problem = assert_problem(response, 400, "validation_error")
    assert error_fields(problem) == {"title"}


@pytest.mark.parametrize("body", ["[1, 2]", '"title"', "null", "42"])
def test_create_rejects_non_object(api, body: str) -> None:
    response = api.post(STREAMS, data=body, headers={"Content-Type": "application/json"})

    problem = assert_problem(response, 400, "validation_error")
    assert error_fields(problem) == {"_schema"}


@pytest.mark.parametrize(
    "body", ['{"title": "x"', "{'title': 'x'}", '{"title": }', b"\xff\xfe\x00"], ids=["unclosed object", "single quotes", "missing value", "not utf-8"]
)
@pytest.mark.grade(module=1, es="Un JSON mal formado da 400 malformed_json y no crea nada")
def test_malformed_json(api, body) -> None:
    """Malformed JSON gets 400 malformed_json and creates nothing."""
    before = api.get(STREAMS).json()["total"]

    response = api.post(STREAMS, data=body, headers={"Content-Type": "application/json"})

    assert_problem(response, 400, "malformed_json")
    assert api.get(STREAMS).json()["total"] == before


@pytest.mark.grade(module=1, es="Un cuerpo de formulario da 415 unsupported_media_type")
def test_form_body_is_unsupported(api) -> None:
    """A form body gets 415 unsupported_media_type."""
    response = api.post(STREAMS, data="title=x", headers={"Content-Type": "application/x-www-form-urlencoded"})

    assert_problem(response, 415, "unsupported_media_type")


@pytest.mark.parametrize(
    "stream_id",
    ["xyz", "0", "123e4567-e89b-12d3-a456-42661417400", str(uuid.uuid4()), "a" * 300, "💥", "%00", "' OR 1=1 --"],
    ids=["word", "zero", "short uuid", "unknown uuid", "300 characters", "emoji", "nul", "sql"],
)
@pytest.mark.grade(module=1, es="Un id desconocido da 404 not_found en todas las rutas de la emisión")
def test_unknown_ids_are_404(api, stream_id: str) -> None:
    """An unknown id gets 404 not_found on every stream route."""
    for method in ("GET", "PATCH", "DELETE"):
        response = api.request(method, f"{STREAMS}/{stream_id}", json={"title": "x"} if method == "PATCH" else None)
        assert_problem(response, 404, "not_found")
    for action in ("start", "end"):
        assert_problem(api.post(f"{STREAMS}/{stream_id}/{action}"), 404, "not_found")


def test_uppercase_id_finds_stream(api, make_stream) -> None:
    stream, _token = make_stream()

    response = api.get(f"{STREAMS}/{stream['id'].upper()}")

    assert response.status_code == 200
    assert response.json()["id"] == stream["id"]


@pytest.mark.grade(module=1, es="PATCH cambia título y descripción y sube la versión")
def test_patch_title_and_description(api, make_stream, read_stream) -> None:
    """PATCH changes the title and description and raises the version."""
    stream, token = make_stream(title="Antes", description="vieja")

    response = api.patch(f"{STREAMS}/{stream['id']}", json={"title": " Después ", "description": "nueva"}, headers=bearer(token))

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["title"] == "Después"
    assert body["description"] == "nueva"
    assert body["version"] == 2
    assert response.headers["ETag"] == '"2"'
    assert datetime.fromisoformat(body["updatedAt"]) >= datetime.fromisoformat(stream["updatedAt"])
    assert read_stream(stream["id"]) == body


def test_patch_one_field_keeps_other(api, make_stream) -> None:
    stream, token = make_stream(title="Título", description="descripción")

    body = api.patch(f"{STREAMS}/{stream['id']}", json={"description": ""}, headers=bearer(token)).json()

    assert body["title"] == "Título"
    assert body["description"] == ""


def test_patch_without_change_keeps_version(api, make_stream) -> None:
    stream, token = make_stream(title="Igual")

    response = api.patch(f"{STREAMS}/{stream['id']}", json={"title": "Igual"}, headers=bearer(token))

    assert response.status_code == 200
    assert response.json()["version"] == 1


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({}, {"_schema"}),
        ({"title": ""}, {"title"}),
        ({"title": "a" * 121}, {"title"}),
        ({"title": None}, {"title"}),
        ({"description": "d" * 2001}, {"description"}),
        ({"status": "ENDED"}, {"status"}),
        ({"maxViewers": 5}, {"maxViewers"}),
        ({"title": "ok", "version": 9}, {"version"}),
    ],
    ids=["empty", "empty title", "title too long", "null title", "description too long", "status given", "maxViewers given", "version given"],
)
@pytest.mark.grade(module=1, es="PATCH con cuerpo inválido da 400 y no cambia nada")
def test_patch_rejects_invalid_body(api, make_stream, read_stream, body: dict, fields: set[str]) -> None:
    """PATCH with an invalid body gets 400 and changes nothing."""
    stream, token = make_stream(title="Sin cambios")

    response = api.patch(f"{STREAMS}/{stream['id']}", json=body, headers=bearer(token))

    problem = assert_problem(response, 400, "validation_error")
    assert error_fields(problem) == fields
    assert read_stream(stream["id"]) == stream


def test_patch_malformed_json_changes_nothing(api, make_stream, read_stream) -> None:
    stream, token = make_stream(title="Intacto")

    response = api.patch(f"{STREAMS}/{stream['id']}", data='{"title": ', headers={**bearer(token), "Content-Type": "application/json"})

    assert_problem(response, 400, "malformed_json")
    assert read_stream(stream["id"]) == stream


def test_patch_live_stream_allowed(api, make_stream) -> None:
    stream, token = make_stream()
    api.post(f"{STREAMS}/{stream['id']}/start", headers=bearer(token))

    response = api.patch(f"{STREAMS}/{stream['id']}", json={"title": "En directo"}, headers=bearer(token))

    assert response.status_code == 200
    assert response.json()["status"] == "LIVE"
    assert response.json()["title"] == "En directo"


@pytest.mark.grade(module=1, es="PATCH de una emisión terminada da 409")
def test_patch_ended_stream_conflict(api, make_stream, read_stream) -> None:
    """PATCH of an ended stream gets 409."""
    stream, token = make_stream()
    ended = api.post(f"{STREAMS}/{stream['id']}/end", headers=bearer(token)).json()

    response = api.patch(f"{STREAMS}/{stream['id']}", json={"title": "Tarde"}, headers=bearer(token))

    problem = assert_problem(response, 409, "conflict")
    assert problem["currentStatus"] == "ENDED"
    assert read_stream(stream["id"]) == ended


@pytest.mark.parametrize("actions", [[], ["end"], ["start", "end"]], ids=["created", "cancelled", "ended"])
@pytest.mark.grade(module=1, es="DELETE borra una emisión creada o terminada")
def test_delete_created_or_ended(api, make_stream, actions: list[str]) -> None:
    """DELETE removes a created or ended stream."""
    stream, token = make_stream()
    for action in actions:
        assert api.post(f"{STREAMS}/{stream['id']}/{action}", headers=bearer(token)).status_code == 200

    response = api.delete(f"{STREAMS}/{stream['id']}", headers=bearer(token))

    assert response.status_code == 204
    assert response.body == b""
    assert_problem(api.get(f"{STREAMS}/{stream['id']}"), 404, "not_found")
    assert_problem(api.delete(f"{STREAMS}/{stream['id']}", headers=bearer(token)), 404, "not_found")


@pytest.mark.grade(module=1, es="DELETE de una emisión en directo da 409")
def test_delete_live_conflict(api, make_stream, read_stream) -> None:
    """DELETE of a live stream gets 409."""
    stream, token = make_stream()
    live = api.post(f"{STREAMS}/{stream['id']}/start", headers=bearer(token)).json()

    response = api.delete(f"{STREAMS}/{stream['id']}", headers=bearer(token))

    problem = assert_problem(response, 409, "conflict")
    assert problem["currentStatus"] == "LIVE"
    assert read_stream(stream["id"]) == live


@pytest.mark.grade(module=1, es="Los errores problem+json devuelven el X-Request-ID")
def test_problem_has_request_id(api) -> None:
    """problem+json errors carry the X-Request-ID."""
    response = api.get(f"{STREAMS}/{uuid.uuid4()}", headers={"X-Request-ID": "test-req-1"})

    problem = assert_problem(response, 404, "not_found")
    assert problem["requestId"] == "test-req-1"
    assert problem["instance"].startswith(STREAMS)


@pytest.mark.parametrize(
    ("language", "expected_detail"),
    [
        ("es", "La emisión está en LIVE, así que no puede iniciarse: solo una emisión CREATED puede pasar a LIVE."),
        ("en", "The stream is LIVE, so it cannot start: only a CREATED stream can go LIVE."),
        ("en-US,en;q=0.9", "The stream is LIVE, so it cannot start: only a CREATED stream can go LIVE."),
        ("fr", "La emisión está en LIVE, así que no puede iniciarse: solo una emisión CREATED puede pasar a LIVE."),
    ],
    ids=["es", "en", "en-US", "fr"],
)
def test_detail_language_text(api, make_stream, language: str, expected_detail: str) -> None:
    stream, token = make_stream()
    api.post(f"{STREAMS}/{stream['id']}/start", headers=bearer(token))

    response = api.post(f"{STREAMS}/{stream['id']}/start", headers={**bearer(token), "Accept-Language": language})

    problem = assert_problem(response, 409, "invalid_transition")
    assert problem["detail"] == expected_detail


@pytest.mark.parametrize(
    ("language", "same_as"),
    [("es", "es"), ("en", "en"), ("en-US,en;q=0.9", "en"), ("fr", "es"), (None, "es")],
    ids=["es", "en", "en-US", "fr", "no header"],
)
@pytest.mark.grade(module=1, es="El detail de los errores sigue Accept-Language (español por defecto)")
def test_detail_language(api, make_stream, language: str | None, same_as: str) -> None:
    """Error details follow Accept-Language (Spanish by default)."""
    stream, token = make_stream()
    api.post(f"{STREAMS}/{stream['id']}/start", headers=bearer(token))

    def detail(accept_language: str | None) -> str:
        headers = bearer(token) if accept_language is None else {**bearer(token), "Accept-Language": accept_language}
        response = api.post(f"{STREAMS}/{stream['id']}/start", headers=headers)
        return assert_problem(response, 409, "invalid_transition")["detail"]

    # Compared with the server's own Spanish and English texts, so any wording passes.
    spanish, english = detail("es"), detail("en")
    assert spanish != english
    assert detail(language) == {"es": spanish, "en": english}[same_as]


@pytest.mark.parametrize(
    ("language", "expected_message"),
    [("es", "Campo desconocido."), ("en", "Unknown field.")],
)
def test_field_messages_language(api, language: str, expected_message: str) -> None:
    response = api.post(STREAMS, json={"title": "ok", "colour": "red"}, headers={"Accept-Language": language})

    problem = assert_problem(response, 400, "validation_error")
    assert problem["errors"] == [{"field": "colour", "messages": [expected_message]}]
    assert response.headers["Content-Language"] == language


@pytest.mark.grade(module=1, es="GET /api/openapi.json lista las rutas de emisiones")
def test_openapi_lists_stream_routes(api) -> None:
    """GET /api/openapi.json lists the stream routes."""
    response = api.get("/api/openapi.json")

    assert response.status_code == 200
    paths = response.json()["paths"]
    assert set(paths["/api/v1/streams"]) >= {"get", "post"}
    assert set(paths["/api/v1/streams/{stream_id}"]) >= {"get", "patch", "delete"}
    assert "post" in paths["/api/v1/streams/{stream_id}/start"]
    assert "post" in paths["/api/v1/streams/{stream_id}/end"]
