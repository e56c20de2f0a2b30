"""The session API without a working Janus: input checks, auth, ids, and Janus down or hanging.

No test here needs the hermetic namespace: Janus is a closed port or a stub that never responds.
With --base-url the graded tests run against the live server, whose Janus works:
the checks they make hold either way (a rejected offer still leaves a FAILED session).
"""

from __future__ import annotations

import socket
import threading
from typing import Iterator

import pytest

from common.db import db
from module2_session.models import StreamSession
from module2_session.state import ACTIVE_STATES
from tests.module1_streammeta.helpers import assert_problem, bearer, error_fields
from tests.module2_session.conftest import create_stream, post_offer, read_session
from tests.services.api_client import ApiClient

OFFER = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"


class SilentJanus:
    """Test double for a hung Janus: accepts TCP connections on 127.0.0.1 and never responds.

    A real Janus cannot be made to hang on demand, and the backend must answer
    504 janus_timeout instead of waiting forever.
    """

    def __init__(self) -> None:
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(16)
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}/janus"
        self._connections: list[socket.socket] = []
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._accept, name="silent-janus", daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                connection, _address = self._listener.accept()
            except OSError:
                return
            self._connections.append(connection)

    def stop(self) -> None:
        self._stopped.set()
        self._listener.close()
        self._thread.join(5)
        for connection in self._connections:
            connection.close()


@pytest.fixture
def silent_janus() -> Iterator[SilentJanus]:
    stub = SilentJanus()
    yield stub
    stub.stop()


def _active_sessions(app) -> list[StreamSession]:
    with app.app_context():
        return list(db.session.scalars(db.select(StreamSession).where(StreamSession.state.in_(ACTIVE_STATES))))


def test_janus_down_unavailable(app, api) -> None:
    stream, token = create_stream(api)

    response = post_offer(api, stream["id"], token, OFFER)

    problem = assert_problem(response, 503, "janus_unavailable")
    session = read_session(api, problem["sessionId"])
    assert session["state"] == "FAILED"
    assert session["reason"] == "Janus unreachable while connecting to Janus"
    assert _active_sessions(app) == []


def test_janus_down_retried_per_request(app, api) -> None:
    stream, token = create_stream(api)

    first = post_offer(api, stream["id"], token, OFFER)
    second = post_offer(api, stream["id"], token, OFFER)

    assert_problem(first, 503, "janus_unavailable")
    assert_problem(second, 503, "janus_unavailable")
    assert assert_problem(first, 503, "janus_unavailable")["sessionId"] != second.json()["sessionId"]
    assert app.extensions["janus_client"] is None


def test_janus_hanging_timeout(make_app, silent_janus) -> None:
    app = make_app(JANUS_URL=silent_janus.url, JANUS_TIMEOUT=1.0)
    api = ApiClient(app=app)
    stream, token = create_stream(api)

    response = post_offer(api, stream["id"], token, OFFER)

    problem = assert_problem(response, 504, "janus_timeout")
    session = read_session(api, problem["sessionId"])
    assert session["state"] == "FAILED"
    assert session["reason"] == "Janus did not answer in time while connecting to Janus"
    assert _active_sessions(app) == []


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({}, {"type", "sdp"}),
        ({"type": "offer"}, {"sdp"}),
        ({"type": "answer", "sdp": OFFER}, {"type"}),
        ({"type": "offer", "sdp": ""}, {"sdp"}),
        ({"type": "offer", "sdp": None}, {"sdp"}),
        ({"type": "offer", "sdp": 5}, {"sdp"}),
        ({"type": "offer", "sdp": "v" * 100_001}, {"sdp"}),
        ({"type": "offer", "sdp": OFFER, "trickle": True}, {"trickle"}),
        ({"sdp": OFFER}, {"type"}),
    ],
    ids=["empty", "no sdp", "type answer", "sdp empty", "sdp null", "sdp number", "sdp too long", "extra member", "no type"],
)
@pytest.mark.grade(module=2, es="Una oferta con un cuerpo no válido recibe 400 validation_error con el campo")
def test_offer_body_invalid(inprocess_app, api, body, fields) -> None:
    """An offer with an invalid body gets 400 validation_error naming the field."""
    stream, token = create_stream(api)

    response = api.post(f"/api/v1/streams/{stream['id']}/sessions", json=body, headers=bearer(token))

    problem = assert_problem(response, 400, "validation_error")
    assert error_fields(problem) == fields
    if inprocess_app is not None:
        assert _active_sessions(inprocess_app) == []


@pytest.mark.grade(module=2, es="Una oferta que no es JSON recibe 415 unsupported_media_type")
def test_offer_not_json(api) -> None:
    """An offer that is not JSON gets 415 unsupported_media_type."""
    stream, token = create_stream(api)

    response = api.post(f"/api/v1/streams/{stream['id']}/sessions", data="sdp=v%3D0", headers={**bearer(token), "Content-Type": "application/x-www-form-urlencoded"})

    assert_problem(response, 415, "unsupported_media_type")


@pytest.mark.grade(module=2, es="Una oferta con JSON mal formado recibe 400 malformed_json")
def test_offer_malformed_json(api) -> None:
    """An offer with malformed JSON gets 400 malformed_json."""
    stream, token = create_stream(api)

    response = api.post(f"/api/v1/streams/{stream['id']}/sessions", data="{", headers={**bearer(token), "Content-Type": "application/json"})

    assert_problem(response, 400, "malformed_json")


@pytest.mark.parametrize(
    ("headers", "status", "code"),
    [
        ({}, 401, "unauthorized"),
        ({"Authorization": "Bearer wrong-token"}, 403, "forbidden"),
        ({"Authorization": "Token abc"}, 401, "unauthorized"),
    ],
    ids=["no token", "wrong token", "not bearer"],
)
@pytest.mark.grade(module=2, es="Publicar sin el token de la emisión recibe 401 o 403")
def test_offer_needs_owner(inprocess_app, api, headers, status, code) -> None:
    """Publishing without the stream's token gets 401 or 403."""
    stream, _token = create_stream(api)

    response = api.post(f"/api/v1/streams/{stream['id']}/sessions", json={"type": "offer", "sdp": OFFER}, headers=headers)

    assert_problem(response, status, code)
    if inprocess_app is not None:
        assert _active_sessions(inprocess_app) == []


def test_offer_admin_token_allowed(app, api, app_config) -> None:
    stream, _token = create_stream(api)

    response = post_offer(api, stream["id"], app_config["ADMIN_TOKEN"], OFFER)

    # Past the auth check the request reaches Janus, which is down here.
    assert_problem(response, 503, "janus_unavailable")


@pytest.mark.parametrize("stream_id", ["00000000-0000-4000-8000-000000000000", "not-a-uuid"], ids=["unknown uuid", "not a uuid"])
@pytest.mark.grade(module=2, es="Publicar en una emisión que no existe recibe 404 not_found")
def test_offer_unknown_stream(api, stream_id) -> None:
    """Publishing to an unknown stream gets 404 not_found."""
    response = post_offer(api, stream_id, "token", OFFER)

    assert_problem(response, 404, "not_found")


@pytest.mark.parametrize("session_id", ["00000000-0000-4000-8000-000000000000", "nope", "x" * 40], ids=["unknown uuid", "not a uuid", "long id"])
@pytest.mark.grade(module=2, es="Leer o borrar una sesión que no existe recibe 404 not_found")
def test_unknown_session(api, session_id) -> None:
    """Reading or deleting an unknown session gets 404 not_found."""
    read = api.get(f"/api/v1/sessions/{session_id}")
    deleted = api.delete(f"/api/v1/sessions/{session_id}", headers=bearer("token"))

    assert_problem(read, 404, "not_found")
    assert_problem(deleted, 404, "not_found")


@pytest.mark.grade(module=2, es="Cualquiera puede leer una sesión, con todos sus campos y sin secretos")
def test_read_session_anonymous(api) -> None:
    """Anyone can read a session, which has every documented field and no secrets."""
    stream, token = create_stream(api)
    session_id = post_offer(api, stream["id"], token, OFFER).json()["sessionId"]

    response = api.get(f"/api/v1/sessions/{session_id}")

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {
        "id",
        "streamId",
        "role",
        "state",
        "reason",
        "roomId",
        "feedId",
        "media",
        "lastEvent",
        "createdAt",
        "updatedAt",
        "connectedAt",
        "closedAt",
    }
    assert body["media"] == {"audio": False, "video": False}
    assert body["createdAt"].endswith("Z")


def test_problem_detail_in_english(app, api) -> None:
    stream, token = create_stream(api)

    spanish = post_offer(api, stream["id"], token, OFFER)
    english = api.post(f"/api/v1/streams/{stream['id']}/sessions", json={"type": "offer", "sdp": OFFER}, headers={**bearer(token), "Accept-Language": "en"})

    assert assert_problem(spanish, 503, "janus_unavailable")["detail"] == "El servidor de medios (Janus) no está disponible."
    assert assert_problem(english, 503, "janus_unavailable")["detail"] == "The media server (Janus) is not reachable."


def test_openapi_documents_session_routes(api) -> None:
    paths = api.get("/api/openapi.json").json()["paths"]

    assert set(paths["/api/v1/streams/{stream_id}/sessions"]) - {"parameters"} == {"post"}
    assert set(paths["/api/v1/sessions/{session_id}"]) - {"parameters"} == {"get", "delete"}
    trickle = paths["/api/v1/sessions/{session_id}/candidates"]["post"]
    choices = trickle["requestBody"]["content"]["application/json"]["schema"]["oneOf"]
    assert choices[0] == {"$ref": "#/components/schemas/Candidate"}
    assert choices[1]["items"] == {"$ref": "#/components/schemas/Candidate"}


@pytest.mark.grade(module=2, es="Borrar una emisión borra sus sesiones")
def test_deleting_stream_deletes_sessions(api) -> None:
    """Deleting a stream deletes its sessions."""
    stream, token = create_stream(api)
    session_id = post_offer(api, stream["id"], token, OFFER).json()["sessionId"]

    response = api.delete(f"/api/v1/streams/{stream['id']}", headers=bearer(token))

    assert response.status_code == 204, response.text
    assert_problem(api.get(f"/api/v1/sessions/{session_id}"), 404, "not_found")
