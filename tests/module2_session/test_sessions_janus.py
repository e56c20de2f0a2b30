"""The session API against a real Janus: offer/answer, one publisher per stream, bad SDP, trickle, hang-up and end.

These tests need Janus, so they run inside the hermetic network namespace:
``scripts/hermetic-run .venv/bin/pytest tests/module2_session``. With --base-url
the tests that take only ``janus_api`` and aiortc peers run against the live
server; the ones that look at Janus or the database directly skip.
"""

from __future__ import annotations

import re

import pytest

from tests.module1_streammeta.helpers import assert_problem, bearer
from tests.module2_session.conftest import create_stream, post_offer, read_session, read_stream, wait_for

pytestmark = [pytest.mark.janus, pytest.mark.media]

SECRET_KEYS = {"roomSecret", "room_secret", "secret", "janusSessionId", "handleId", "handle_id", "janus_session_id"}


def _without_candidates(sdp: str) -> str:
    """Drop the candidate and end-of-candidates lines, so only trickle can deliver them."""
    return "".join(line for line in sdp.splitlines(keepends=True) if not line.startswith(("a=candidate:", "a=end-of-candidates")))


def _candidates(sdp: str) -> list[dict]:
    """Return the SDP's candidates as trickle objects, with the mid of their m-section."""
    found: list[dict] = []
    mid = None
    index = -1
    for line in sdp.splitlines():
        if line.startswith("m="):
            index += 1
            mid = None
        elif line.startswith("a=mid:"):
            mid = line[len("a=mid:") :]
        elif line.startswith("a=candidate:"):
            found.append({"candidate": line[2:], "sdpMid": mid, "sdpMLineIndex": index})
    return found


@pytest.mark.grade(module=2, es="Publicar una oferta de aiortc devuelve 201 con la respuesta SDP de Janus y sin secretos")
def test_publish_returns_answer(janus_api, publisher) -> None:
    """Publishing an aiortc offer returns 201 with Janus's SDP answer and no secrets."""
    stream, token = create_stream(janus_api)

    response = post_offer(janus_api, stream["id"], token, publisher.create_offer())

    assert response.status_code == 201, response.text
    body = response.json()
    assert body["streamId"] == stream["id"]
    assert body["role"] == "publisher"
    assert body["state"] == "NEGOTIATING"
    assert body["reason"] is None
    assert body["answer"]["type"] == "answer"
    assert body["answer"]["sdp"].startswith("v=0")
    assert "m=video" in body["answer"]["sdp"]
    assert isinstance(body["roomId"], int)
    assert isinstance(body["feedId"], int)
    assert response.headers["Location"] == f"/api/v1/sessions/{body['id']}"
    assert SECRET_KEYS.isdisjoint(body)


def test_session_read_hides_secrets(janus_app, janus_api, publisher) -> None:
    from common.db import db
    from module2_session.models import StreamSession

    stream, token = create_stream(janus_api)
    created = post_offer(janus_api, stream["id"], token, publisher.create_offer()).json()

    response = janus_api.get(f"/api/v1/sessions/{created['id']}")

    assert response.status_code == 200
    with janus_app.app_context():
        record = db.session.get(StreamSession, created["id"])
        secret, handle_id, janus_session_id = record.room_secret, record.handle_id, record.janus_session_id
    assert secret
    assert secret not in response.text
    assert re.search(rf"\b{handle_id}\b", response.text) is None
    assert re.search(rf"\b{janus_session_id}\b", response.text) is None
    assert SECRET_KEYS.isdisjoint(response.json())


@pytest.mark.grade(module=2, es="Un segundo emisor de la misma emisión recibe 409 publisher_active")
def test_second_publisher_conflict(janus_api, publisher) -> None:
    """A second publisher of the same stream gets 409 publisher_active."""
    from tests.services.media import SyntheticPublisher

    stream, token = create_stream(janus_api)
    first = post_offer(janus_api, stream["id"], token, publisher.create_offer()).json()

    with SyntheticPublisher() as second:
        response = post_offer(janus_api, stream["id"], token, second.create_offer())

    problem = assert_problem(response, 409, "publisher_active")
    assert problem["activeSessionId"] == first["id"]
    assert read_session(janus_api, first["id"])["state"] == "NEGOTIATING"


@pytest.mark.parametrize(
    "sdp",
    [
        "v=0\r\nthis is not SDP\r\n",
        "hello",
        "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n",
    ],
    ids=["garbage lines", "not sdp", "no media"],
)
@pytest.mark.grade(module=2, es="Un SDP que Janus rechaza recibe 400 invalid_sdp y deja la sesión FAILED")
def test_rejected_sdp_fails_session(janus_api, sdp) -> None:
    """An SDP that Janus rejects gets 400 invalid_sdp and leaves the session FAILED."""
    stream, token = create_stream(janus_api)

    response = post_offer(janus_api, stream["id"], token, sdp)

    problem = assert_problem(response, 400, "invalid_sdp")
    session = read_session(janus_api, problem["sessionId"])
    assert session["state"] == "FAILED"
    # Any readable reason will do: a student's server need not word it like the reference.
    assert isinstance(session["reason"], str)
    assert session["reason"].strip()
    assert session["closedAt"] is not None


@pytest.mark.grade(module=2, es="Tras un SDP rechazado se puede volver a publicar")
def test_rejected_sdp_frees_slot(janus_api, publisher) -> None:
    """After a rejected SDP the stream can be published again."""
    stream, token = create_stream(janus_api)
    assert_problem(post_offer(janus_api, stream["id"], token, "hello"), 400, "invalid_sdp")

    response = post_offer(janus_api, stream["id"], token, publisher.create_offer())

    assert response.status_code == 201, response.text


@pytest.mark.grade(module=2, es="Publicar en una emisión terminada recibe 409 invalid_transition")
def test_ended_stream_rejects_publish(janus_api, publisher) -> None:
    """Publishing to an ended stream gets 409 invalid_transition."""
    stream, token = create_stream(janus_api)
    assert janus_api.post(f"/api/v1/streams/{stream['id']}/end", headers=bearer(token)).status_code == 200

    response = post_offer(janus_api, stream["id"], token, publisher.create_offer())

    problem = assert_problem(response, 409, "invalid_transition")
    assert problem["currentStatus"] == "ENDED"
    assert "sessionId" not in problem


def test_delete_tears_janus_down(janus_api, publisher, own_videoroom) -> None:
    stream, token = create_stream(janus_api)
    created = post_offer(janus_api, stream["id"], token, publisher.create_offer()).json()
    assert own_videoroom.exists(created["roomId"]) is True

    response = janus_api.delete(f"/api/v1/sessions/{created['id']}", headers=bearer(token))

    assert response.status_code == 204, response.text
    session = read_session(janus_api, created["id"])
    assert session["state"] == "CLOSED"
    assert session["reason"] == "closed by the publisher"
    assert own_videoroom.exists(created["roomId"]) is False
    assert read_stream(janus_api, stream["id"])["status"] == "CREATED"


@pytest.mark.grade(module=2, es="DELETE de una sesión la cierra (204) y repetirlo no cambia nada")
def test_delete_twice_keeps_state(janus_api, publisher) -> None:
    """Deleting a session closes it (204) and deleting it again changes nothing."""
    stream, token = create_stream(janus_api)
    created = post_offer(janus_api, stream["id"], token, publisher.create_offer()).json()
    assert janus_api.delete(f"/api/v1/sessions/{created['id']}", headers=bearer(token)).status_code == 204

    response = janus_api.delete(f"/api/v1/sessions/{created['id']}", headers=bearer(token))

    assert response.status_code == 204, response.text
    assert read_session(janus_api, created["id"])["reason"] == "closed by the publisher"


@pytest.mark.parametrize(("headers", "status", "code"), [({}, 401, "unauthorized"), ({"Authorization": "Bearer wrong"}, 403, "forbidden")], ids=["no token", "wrong token"])
@pytest.mark.grade(module=2, es="Borrar una sesión sin el token de la emisión recibe 401 o 403")
def test_delete_needs_owner(janus_api, publisher, headers, status, code) -> None:
    """Deleting a session without the stream's token gets 401 or 403."""
    stream, token = create_stream(janus_api)
    created = post_offer(janus_api, stream["id"], token, publisher.create_offer()).json()

    response = janus_api.delete(f"/api/v1/sessions/{created['id']}", headers=headers)

    assert_problem(response, status, code)
    assert read_session(janus_api, created["id"])["state"] == "NEGOTIATING"


def test_end_stream_tears_janus_down(janus_api, publisher, own_videoroom) -> None:
    stream, token = create_stream(janus_api)
    created = post_offer(janus_api, stream["id"], token, publisher.create_offer()).json()

    response = janus_api.post(f"/api/v1/streams/{stream['id']}/end", headers=bearer(token))

    assert response.status_code == 200, response.text
    session = read_session(janus_api, created["id"])
    assert session["state"] == "CLOSED"
    assert session["reason"] == "stream ended"
    assert own_videoroom.exists(created["roomId"]) is False


@pytest.mark.grade(module=2, es="Los candidatos ICE válidos (uno, una lista y el fin) se aceptan con 204")
def test_trickle_forwards_to_janus(janus_api, publisher) -> None:
    """Valid ICE candidates (one, a list and the end marker) are accepted with 204."""
    stream, token = create_stream(janus_api)
    offer = publisher.create_offer()
    created = post_offer(janus_api, stream["id"], token, _without_candidates(offer)).json()
    path = f"/api/v1/sessions/{created['id']}/candidates"
    candidates = _candidates(offer)
    assert candidates

    single = janus_api.post(path, json=candidates[0], headers=bearer(token))
    listed = janus_api.post(path, json=candidates[1:] or candidates[:1], headers=bearer(token))
    completed = janus_api.post(path, json={"completed": True}, headers=bearer(token))

    assert single.status_code == 204, single.text
    assert listed.status_code == 204, listed.text
    assert completed.status_code == 204, completed.text


@pytest.mark.grade(module=2, es="Con los candidatos enviados por trickle el emisor se conecta y la emisión pasa a LIVE")
def test_trickled_candidates_connect(janus_api, publisher, media_reachable) -> None:
    """With candidates sent by trickle the publisher connects and the stream goes LIVE."""
    stream, token = create_stream(janus_api)
    offer = publisher.create_offer()
    created = post_offer(janus_api, stream["id"], token, _without_candidates(offer)).json()

    for candidate in _candidates(offer):
        response = janus_api.post(f"/api/v1/sessions/{created['id']}/candidates", json=candidate, headers=bearer(token))
        assert response.status_code == 204, response.text
    publisher.accept_answer(created["answer"]["sdp"])

    session = wait_for(lambda: read_session(janus_api, created["id"]), lambda body: body["state"] != "NEGOTIATING", "the session to leave NEGOTIATING")
    assert session["state"] == "CONNECTED"
    # The event thread starts the stream right after it commits the session's new state.
    live = wait_for(lambda: read_stream(janus_api, stream["id"]), lambda body: body["status"] != "CREATED", "the stream to go LIVE")
    assert live["status"] == "LIVE"


@pytest.mark.grade(module=2, es="Enviar candidatos a una sesión cerrada recibe 409 session_closed")
def test_trickle_after_close_conflict(janus_api, publisher) -> None:
    """Sending candidates to a closed session gets 409 session_closed."""
    stream, token = create_stream(janus_api)
    offer = publisher.create_offer()
    created = post_offer(janus_api, stream["id"], token, offer).json()
    janus_api.delete(f"/api/v1/sessions/{created['id']}", headers=bearer(token))

    response = janus_api.post(f"/api/v1/sessions/{created['id']}/candidates", json=_candidates(offer)[0], headers=bearer(token))

    problem = assert_problem(response, 409, "session_closed")
    assert problem["currentState"] == "CLOSED"


def test_no_candidates_times_out(make_app, janus_server, publisher) -> None:
    from tests.services.api_client import ApiClient

    api = ApiClient(app=make_app(JANUS_URL=janus_server.url, PUBLISH_CONNECT_TIMEOUT=1.0))
    stream, token = create_stream(api)
    created = post_offer(api, stream["id"], token, _without_candidates(publisher.create_offer())).json()

    session = wait_for(lambda: read_session(api, created["id"]), lambda body: body["state"] != "NEGOTIATING", "the connect timeout")

    assert session["state"] == "FAILED"
    assert session["reason"].startswith("no WebRTC connection within 1 s")
    assert read_stream(api, stream["id"])["status"] == "CREATED"


def test_session_events_on_bus(janus_app, janus_api, publisher) -> None:
    seen: list[dict] = []
    janus_app.extensions["events"].add_listener(lambda event: seen.append(event) if event["type"] == "session.state" else None)
    stream, token = create_stream(janus_api)

    created = post_offer(janus_api, stream["id"], token, publisher.create_offer()).json()
    janus_api.delete(f"/api/v1/sessions/{created['id']}", headers=bearer(token))

    states = [event["data"]["state"] for event in seen if event["data"]["sessionId"] == created["id"]]
    assert states == ["NEW", "NEGOTIATING", "CLOSED"]
    assert all(event["streamId"] == stream["id"] for event in seen)
    assert seen[-1]["data"]["reason"] == "closed by the publisher"


def test_janus_started_later_is_used(make_app, janus_factory, publisher) -> None:
    from tests.services.api_client import ApiClient

    janus = janus_factory()
    janus.stop()
    app = make_app(JANUS_URL=janus.url)
    api = ApiClient(app=app)
    stream, token = create_stream(api)
    offer = publisher.create_offer()
    assert_problem(post_offer(api, stream["id"], token, offer), 503, "janus_unavailable")

    janus.start()
    response = post_offer(api, stream["id"], token, offer)

    assert response.status_code == 201, response.text
    assert app.extensions["janus_client"] is not None
