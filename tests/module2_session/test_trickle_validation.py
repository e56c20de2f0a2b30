"""POST /api/v1/sessions/{sid}/candidates input checks: a table of bodies and the problem each one gets.

The session comes from a publish attempt while Janus is down (in-process) or
from an offer the live server's Janus rejects (--base-url), so it is FAILED:
bodies that pass validation then get 409 session_closed, and the table needs
no working Janus. Forwarding valid candidates to a real Janus is in test_sessions_janus.py.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.module1_streammeta.helpers import assert_problem, bearer, error_fields
from tests.module2_session.conftest import create_stream, post_offer

HOST = "candidate:842163049 1 udp 1677729535 192.0.2.10 50000 typ host generation 0"
RELAY = "candidate:3 1 udp 41885439 198.51.100.7 61000 typ relay raddr 0.0.0.0 rport 0"


@pytest.fixture
def failed_session(api, base_url) -> tuple[str, str]:
    """A FAILED session (Janus down in-process, invalid SDP for a live server) and its stream's publish token."""
    stream, token = create_stream(api)
    response = post_offer(api, stream["id"], token, "v=0\r\n")
    if base_url:
        problem = assert_problem(response, 400, "invalid_sdp")
    else:
        problem = assert_problem(response, 503, "janus_unavailable")
    return problem["sessionId"], token


ROWS: list[tuple[str, Any, int, str, set[str]]] = [
    # (case, body, status, code, fields named in the problem)
    ("one with sdpMid", {"candidate": HOST, "sdpMid": "0"}, 409, "session_closed", set()),
    ("one with sdpMLineIndex", {"candidate": HOST, "sdpMLineIndex": 0}, 409, "session_closed", set()),
    ("one with both", {"candidate": RELAY, "sdpMid": "1", "sdpMLineIndex": 1}, 409, "session_closed", set()),
    ("usernameFragment ignored", {"candidate": HOST, "sdpMid": "0", "usernameFragment": "abcd"}, 409, "session_closed", set()),
    ("a=candidate prefix", {"candidate": "a=" + HOST, "sdpMid": "0"}, 409, "session_closed", set()),
    ("empty line ends candidates", {"candidate": "", "sdpMid": "0"}, 409, "session_closed", set()),
    ("list", [{"candidate": HOST, "sdpMid": "0"}, {"candidate": RELAY, "sdpMLineIndex": 1}], 409, "session_closed", set()),
    ("janus style list", {"candidates": [{"candidate": HOST, "sdpMid": "0"}]}, 409, "session_closed", set()),
    ("completed", {"completed": True}, 409, "session_closed", set()),
    ("candidate missing", {"sdpMid": "0"}, 400, "validation_error", {"candidate"}),
    ("candidate null", {"candidate": None, "sdpMid": "0"}, 400, "validation_error", {"candidate"}),
    ("candidate number", {"candidate": 5, "sdpMid": "0"}, 400, "validation_error", {"candidate"}),
    ("candidate not a line", {"candidate": "hello", "sdpMid": "0"}, 400, "validation_error", {"candidate"}),
    ("candidate without typ", {"candidate": "candidate:1 1 udp 1 192.0.2.1 5000", "sdpMid": "0"}, 400, "validation_error", {"candidate"}),
    ("candidate too long", {"candidate": HOST + " x" * 600, "sdpMid": "0"}, 400, "validation_error", {"candidate"}),
    ("neither mid nor index", {"candidate": HOST}, 400, "validation_error", {"sdpMid", "sdpMLineIndex"}),
    ("index null", {"candidate": HOST, "sdpMLineIndex": None}, 400, "validation_error", {"sdpMLineIndex"}),
    ("index string", {"candidate": HOST, "sdpMLineIndex": "0"}, 400, "validation_error", {"sdpMLineIndex"}),
    ("index boolean", {"candidate": HOST, "sdpMLineIndex": True}, 400, "validation_error", {"sdpMLineIndex"}),
    ("index fraction", {"candidate": HOST, "sdpMLineIndex": 0.5}, 400, "validation_error", {"sdpMLineIndex"}),
    ("index negative", {"candidate": HOST, "sdpMLineIndex": -1}, 400, "validation_error", {"sdpMLineIndex"}),
    ("index null beside mid", {"candidate": HOST, "sdpMid": "0", "sdpMLineIndex": None}, 400, "validation_error", {"sdpMLineIndex"}),
    ("mid null", {"candidate": HOST, "sdpMid": None}, 400, "validation_error", {"sdpMid"}),
    ("mid number", {"candidate": HOST, "sdpMid": 0}, 400, "validation_error", {"sdpMid"}),
    ("second item index null", [{"candidate": HOST, "sdpMid": "0"}, {"candidate": RELAY, "sdpMLineIndex": None}], 400, "validation_error", {"1.sdpMLineIndex"}),
    ("first item index string", [{"candidate": HOST, "sdpMLineIndex": "0"}], 400, "validation_error", {"0.sdpMLineIndex"}),
    ("item not an object", [{"candidate": HOST, "sdpMid": "0"}, "candidate"], 400, "validation_error", {"1"}),
    ("janus style index string", {"candidates": [{"candidate": HOST, "sdpMid": "0"}, {"candidate": RELAY, "sdpMLineIndex": "1"}]}, 400, "validation_error", {"candidates.1.sdpMLineIndex"}),
    ("janus style not a list", {"candidates": "x"}, 400, "validation_error", {"candidates"}),
    ("janus style empty", {"candidates": []}, 400, "validation_error", {"candidates"}),
    ("janus style extra member", {"candidates": [{"candidate": HOST, "sdpMid": "0"}], "trickle": True}, 400, "validation_error", {"trickle"}),
    ("empty list", [], 400, "validation_error", {"_body"}),
    ("too many", [{"candidate": HOST, "sdpMid": "0"}] * 101, 400, "validation_error", {"_body"}),
    ("completed false", {"completed": False}, 400, "validation_error", {"completed"}),
    ("completed string", {"completed": "true"}, 400, "validation_error", {"completed"}),
    ("completed extra member", {"completed": True, "sdpMid": "0"}, 400, "validation_error", {"sdpMid"}),
    ("string body", "candidate", 400, "validation_error", {"_body"}),
    ("number body", 42, 400, "validation_error", {"_body"}),
    ("null body", None, 400, "validation_error", {"_body"}),
]


@pytest.mark.parametrize(("case", "body", "status", "code", "fields"), ROWS, ids=[row[0] for row in ROWS])
@pytest.mark.grade(module=2, es="Los candidatos ICE (trickle) se validan: cuerpo por cuerpo, el estado y el código esperados")
def test_trickle_body_table(api, failed_session, case, body, status, code, fields) -> None:
    """Trickled ICE candidates are validated: each body gets the expected status and code."""
    session_id, token = failed_session

    response = api.post(f"/api/v1/sessions/{session_id}/candidates", data=_json(body), headers={**bearer(token), "Content-Type": "application/json"})

    problem = assert_problem(response, status, code)
    assert error_fields(problem) == fields


def _json(body: Any) -> str:
    import json

    return json.dumps(body)


@pytest.mark.grade(module=2, es="Candidatos con JSON mal formado reciben 400 malformed_json")
def test_trickle_malformed_json(api, failed_session) -> None:
    """Candidates with malformed JSON get 400 malformed_json."""
    session_id, token = failed_session

    response = api.post(f"/api/v1/sessions/{session_id}/candidates", data="{not json", headers={**bearer(token), "Content-Type": "application/json"})

    assert_problem(response, 400, "malformed_json")


def test_trickle_needs_json_content_type(api, failed_session) -> None:
    session_id, token = failed_session

    response = api.post(f"/api/v1/sessions/{session_id}/candidates", data="candidate=x", headers={**bearer(token), "Content-Type": "application/x-www-form-urlencoded"})

    assert_problem(response, 415, "unsupported_media_type")


@pytest.mark.parametrize(
    ("headers", "status", "code"),
    [
        ({}, 401, "unauthorized"),
        ({"Authorization": "Bearer not-the-token"}, 403, "forbidden"),
        ({"Authorization": "Basic dXNlcjpwYXNz"}, 401, "unauthorized"),
    ],
    ids=["no token", "wrong token", "basic auth"],
)
@pytest.mark.grade(module=2, es="Enviar candidatos sin el token de la emisión recibe 401 o 403")
def test_trickle_needs_owner(api, failed_session, headers, status, code) -> None:
    """Sending candidates without the stream's token gets 401 or 403."""
    session_id, _token = failed_session

    response = api.post(f"/api/v1/sessions/{session_id}/candidates", json={"candidate": HOST, "sdpMid": "0"}, headers=headers)

    assert_problem(response, status, code)


@pytest.mark.grade(module=2, es="El token de otra emisión no sirve para enviar candidatos (403)")
def test_trickle_other_streams_token(api, failed_session) -> None:
    """Another stream's token cannot send candidates (403)."""
    session_id, _token = failed_session
    _other, other_token = create_stream(api, "Otra clase")

    response = api.post(f"/api/v1/sessions/{session_id}/candidates", json={"candidate": HOST, "sdpMid": "0"}, headers=bearer(other_token))

    assert_problem(response, 403, "forbidden")


def test_trickle_admin_token(app, api, failed_session, app_config) -> None:
    session_id, _token = failed_session

    response = api.post(f"/api/v1/sessions/{session_id}/candidates", json={"completed": True}, headers=bearer(app_config["ADMIN_TOKEN"]))

    assert_problem(response, 409, "session_closed")


@pytest.mark.parametrize("session_id", ["00000000-0000-4000-8000-000000000000", "nope", "x" * 300], ids=["unknown uuid", "not a uuid", "long id"])
@pytest.mark.grade(module=2, es="Enviar candidatos a una sesión que no existe recibe 404 not_found")
def test_trickle_unknown_session(api, session_id) -> None:
    """Sending candidates to an unknown session gets 404 not_found."""
    response = api.post(f"/api/v1/sessions/{session_id}/candidates", json={"completed": True}, headers=bearer("any"))

    assert_problem(response, 404, "not_found")


def test_trickle_problem_in_english(api, failed_session) -> None:
    session_id, token = failed_session

    spanish = api.post(f"/api/v1/sessions/{session_id}/candidates", json={"candidate": HOST, "sdpMLineIndex": None}, headers=bearer(token))
    english = api.post(
        f"/api/v1/sessions/{session_id}/candidates",
        json={"candidate": HOST, "sdpMLineIndex": None},
        headers={**bearer(token), "Accept-Language": "en"},
    )

    spanish_body = assert_problem(spanish, 400, "validation_error")
    english_body = assert_problem(english, 400, "validation_error")
    assert spanish.headers["Content-Language"] == "es"
    assert english.headers["Content-Language"] == "en"
    assert spanish_body["errors"][0]["messages"] != english_body["errors"][0]["messages"]
