"""Module 2 routes: publisher sessions (SDP offer/answer), trickled ICE candidates and hang-up.

Each view validates its input, calls the service and dumps the session. Changes
check, in this order: the session or stream exists (404), the token (401/403),
the body (400), then the state (409) and Janus (502/503/504).
"""

from __future__ import annotations

from typing import Any

from flask import current_app, json, request, url_for
from flask_smorest import Blueprint

from common.db import db
from common.errors import ApiError
from module1_streammeta import service as streams
from module2_session import schemas, service
from module2_session.runtime import get_runtime

blp = Blueprint("sessions", __name__, url_prefix="/api/v1", description="Publisher sessions: SDP offer/answer and trickle ICE through Janus")

_JSON_BODY_ENDPOINTS = {"sessions.create_session", "sessions.add_candidates"}

_TRICKLE_BODY = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "oneOf": [
                    schemas.CandidateSchema,
                    {"type": "array", "items": schemas.CandidateSchema, "maxItems": schemas.MAX_CANDIDATES_PER_REQUEST},
                    {"type": "object", "properties": {"candidates": {"type": "array", "items": schemas.CandidateSchema}}},
                    schemas.CompletedSchema,
                ]
            }
        }
    },
}


@blp.before_request
def _require_json_body() -> None:
    """Reject a non-JSON body with 415, so `curl -d` without a Content-Type gets a clear error."""
    if request.endpoint in _JSON_BODY_ENDPOINTS and not request.is_json:
        raise ApiError("unsupported_media_type")


def _json_body() -> Any:
    """Parse the request body as JSON; raise ApiError malformed_json (400) when it is not JSON.

    Flask's get_json would return a generic 400 outside debug mode, and JSON null
    must reach the validation as a value rather than look like a missing body.
    """
    try:
        return json.loads(request.get_data(cache=True))
    except ValueError:
        raise ApiError("malformed_json") from None


def _owned_session(session_id: str) -> Any:
    """Read the session and check that the caller owns its stream (or is the instructor)."""
    record = service.get_session(db.session, session_id)
    service.authorize_owner(db.session, record, request.headers.get("Authorization"), current_app.config["ADMIN_TOKEN"])
    return record


@blp.route("/streams/<stream_id>/sessions", methods=["POST"])
@blp.arguments(schemas.OfferSchema)
@blp.response(201, schemas.SessionCreatedSchema)
@blp.alt_response(400, description="validation_error for the body, invalid_sdp when Janus rejects the offer")
@blp.alt_response(401, description="No Authorization: Bearer token")
@blp.alt_response(403, description="The token is neither the publish token nor ADMIN_TOKEN")
@blp.alt_response(404, description="No such stream")
@blp.alt_response(409, description="publisher_active: another session publishes; invalid_transition: the stream has ENDED")
@blp.alt_response(502, description="janus_error: Janus rejected a request")
@blp.alt_response(503, description="janus_unavailable: Janus cannot be reached")
@blp.alt_response(504, description="janus_timeout: Janus did not answer in time")
def create_session(offer: dict[str, Any], stream_id: str):
    """Publish: send the SDP offer, get Janus's SDP answer.

    The session is NEGOTIATING until Janus reports the WebRTC connection up,
    then CONNECTED, and a CREATED stream goes LIVE. More ICE candidates can
    follow at /api/v1/sessions/{sid}/candidates.
    """
    stream = streams.get_stream(db.session, stream_id)
    streams.authorize(stream, request.headers.get("Authorization"), current_app.config["ADMIN_TOKEN"])
    runtime = get_runtime(current_app)

    try:
        result = service.publish(db.session, runtime.bus, runtime.connect, stream, offer["sdp"], runtime.listener_for)
    except service.PublishFailed as failure:
        runtime.after_failed_publish(failure.attempt)
        error = failure.error
        if isinstance(error, ApiError):
            error.extra.setdefault("sessionId", failure.attempt.session_id)
        raise error from None
    runtime.after_publish(result.record)

    record = result.record
    # Not a column: the answer is returned once and never stored.
    record.answer = {"type": "answer", "sdp": result.answer_sdp}
    return record, 201, {"Location": url_for("sessions.get_session", session_id=record.id)}


@blp.route("/sessions/<session_id>", methods=["GET"])
@blp.response(200, schemas.SessionSchema)
@blp.alt_response(404, description="No such session")
def get_session(session_id: str):
    """Read a session: state, reason, timestamps, the last Janus event and which media Janus receives."""
    return service.get_session(db.session, session_id)


@blp.route("/sessions/<session_id>", methods=["DELETE"])
@blp.response(204)
@blp.alt_response(401, description="No Authorization: Bearer token")
@blp.alt_response(403, description="The token is neither the publish token nor ADMIN_TOKEN")
@blp.alt_response(404, description="No such session")
def delete_session(session_id: str):
    """Hang up: close the session, detach its Janus handle and destroy the stream's room.

    A LIVE stream stays LIVE for RECONNECT_WINDOW seconds, in which the owner
    may publish again. A session that is already CLOSED or FAILED stays as it is.
    """
    record = _owned_session(session_id)

    get_runtime(current_app).hang_up(db.session, record, "closed by the publisher")
    return None


@blp.route("/sessions/<session_id>/candidates", methods=["POST"])
@blp.doc(requestBody=_TRICKLE_BODY)
@blp.response(204)
@blp.alt_response(400, description="validation_error naming each invalid field, e.g. 1.sdpMLineIndex")
@blp.alt_response(401, description="No Authorization: Bearer token")
@blp.alt_response(403, description="The token is neither the publish token nor ADMIN_TOKEN")
@blp.alt_response(404, description="No such session")
@blp.alt_response(409, description="session_closed: the session is CLOSED or FAILED")
@blp.alt_response(503, description="janus_unavailable: Janus cannot be reached")
@blp.alt_response(504, description="janus_timeout: Janus did not answer in time")
def add_candidates(session_id: str):
    """Trickle ICE: one candidate, a list of them, or {"completed": true} after the last one.

    Candidates are checked the way Janus checks them: ``candidate`` is a string,
    and ``sdpMid`` (a string) or ``sdpMLineIndex`` (an integer) is present.
    """
    record = _owned_session(session_id)
    candidates, completed = schemas.load_trickle(_json_body())

    runtime = get_runtime(current_app)
    service.trickle(db.session, runtime.bus, runtime.connect, record, candidates, completed)
    return None
