"""Module 3 API routes: viewers join a live stream, answer Janus's offer, trickle and leave.

Views validate with a schema, call the service and dump with a schema. Joining
is anonymous; a viewer id works as the capability to drive that viewer.
"""

from __future__ import annotations

from typing import Any

from flask import current_app, json, request
from flask_smorest import Blueprint

from common.db import db
from common.errors import ApiError
from module2_session.schemas import MAX_CANDIDATES_PER_REQUEST, CandidateSchema, CompletedSchema, load_trickle
from module3_watch import schemas, service
from module3_watch.worker import get_worker

blp = Blueprint("viewers", __name__, description="Viewers: watch a live stream through Janus")

# The candidates body has four shapes; load_trickle (module 2) checks them all.
_TRICKLE_BODY = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "oneOf": [
                    CandidateSchema,
                    {"type": "array", "items": CandidateSchema, "maxItems": MAX_CANDIDATES_PER_REQUEST},
                    {"type": "object", "properties": {"candidates": {"type": "array", "items": CandidateSchema}}},
                    CompletedSchema,
                ]
            }
        }
    },
}


def _janus() -> Any:
    """Return the started Janus client (ApiError janus_unavailable when Janus is unreachable)."""
    from module2_session.service import get_janus

    return get_janus(current_app._get_current_object())


def _bus() -> Any:
    return current_app.extensions["events"]


@blp.route("/api/v1/streams/<stream_id>/viewers", methods=["POST"])
@blp.arguments(schemas.JoinSchema, required=False)
@blp.response(201, schemas.JoinedViewerSchema)
@blp.alt_response(404, description="No such stream")
@blp.alt_response(409, description="stream_not_live (not LIVE or no publisher) or viewer_limit_reached")
@blp.alt_response(503, description="janus_unavailable")
@blp.alt_response(504, description="janus_timeout")
def join(_body: dict[str, Any], stream_id: str):
    """Join a live stream as a viewer. The response carries Janus's SDP offer to answer."""
    worker = get_worker(current_app)

    viewer, offer_sdp = service.join_stream(db.session, _bus(), _janus, stream_id, worker.listener_for)
    worker.viewer_joined(viewer.id)

    viewer.offer = {"type": "offer", "sdp": offer_sdp}
    return viewer, 201, {"Location": f"/api/v1/viewers/{viewer.id}"}


@blp.route("/api/v1/viewers/<viewer_id>", methods=["GET"])
@blp.response(200, schemas.ViewerSchema)
@blp.alt_response(404, description="No such viewer")
def get_viewer(viewer_id: str):
    """Read a viewer's state."""
    return service.get_viewer(db.session, viewer_id)


@blp.route("/api/v1/viewers/<viewer_id>/answer", methods=["POST"])
@blp.arguments(schemas.ViewerAnswerSchema)
@blp.response(200, schemas.ViewerSchema)
@blp.alt_response(404, description="No such viewer")
@blp.alt_response(400, description="invalid_sdp: Janus rejected the answer")
@blp.alt_response(409, description="conflict (already answered) or viewer_closed (left or failed)")
def answer(body: dict[str, Any], viewer_id: str):
    """Send the viewer's SDP answer; media starts once ICE and DTLS complete."""
    worker = get_worker(current_app)

    viewer = service.answer_viewer(db.session, _bus(), _janus, viewer_id, body["sdp"])
    worker.viewer_answered(viewer.id)
    return viewer


@blp.route("/api/v1/viewers/<viewer_id>/candidates", methods=["POST"])
@blp.doc(requestBody=_TRICKLE_BODY)
@blp.response(204)
@blp.alt_response(400, description="validation_error naming the invalid field")
@blp.alt_response(404, description="No such viewer")
@blp.alt_response(409, description="viewer_closed: the viewer has left or failed; join again")
def candidates(viewer_id: str):
    """Trickle ICE candidates: one object, a list of them, or {"completed": true}."""
    if not request.is_json:
        raise ApiError("unsupported_media_type")
    try:
        # json.loads rather than get_json: JSON null must reach the validation as a value.
        payload = json.loads(request.get_data(cache=True))
    except ValueError:
        raise ApiError("malformed_json") from None
    found, completed = load_trickle(payload)

    service.trickle_viewer(db.session, _bus(), _janus, viewer_id, found, completed)
    return None


@blp.route("/api/v1/viewers/<viewer_id>", methods=["DELETE"])
@blp.response(204)
@blp.alt_response(404, description="No such viewer")
def leave(viewer_id: str):
    """Leave the stream; the viewer's slot is free at once. Leaving twice is not an error."""
    worker = get_worker(current_app)

    viewer = service.leave_viewer(db.session, _bus(), current_app.extensions.get("janus_client"), viewer_id)
    worker.viewer_finished(viewer.id)
    return None
