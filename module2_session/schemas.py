"""Marshmallow schemas: the offer, trickled ICE candidates and the session as the API returns it."""

from __future__ import annotations

import re
from typing import Any

from flask_babel import lazy_gettext as _l
from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate, validates_schema

from common.errors import ApiError, validation_errors_from_webargs
from module1_streammeta.schemas import StrictInteger, StrictSchema, UtcDateTime
from module2_session.state import STATES

SDP_MAX_LENGTH = 100_000
CANDIDATE_MAX_LENGTH = 1024
SDP_MID_MAX_LENGTH = 64
MAX_CANDIDATES_PER_REQUEST = 100

_REQUIRED = _l("Missing data for required field.")
_NULL = _l("Field may not be null.")
_NOT_A_STRING = _l("Not a valid string.")

# "candidate:<foundation> <component> <transport> <priority> <address> <port> typ <type> ...",
# the candidate attribute of RFC 8839 without its "a=" prefix (which is also accepted).
_CANDIDATE_LINE = re.compile(r"^(a=)?candidate:\S+ \d+ \S+ \d+ \S+ \d+ typ \S+( .*)?$")


class StrictString(fields.String):
    """A JSON string, with translated messages; null is rejected unless allowed."""

    default_error_messages = {"required": _REQUIRED, "null": _NULL, "invalid": _NOT_A_STRING}


class OfferSchema(StrictSchema):
    """Body of POST /api/v1/streams/{id}/sessions: the publisher's SDP offer."""

    type = StrictString(
        required=True,
        validate=validate.Equal("offer", error=_l("Must be \"offer\".")),
        metadata={"example": "offer"},
    )
    sdp = StrictString(
        required=True,
        validate=validate.Length(min=1, max=SDP_MAX_LENGTH, error=_l("Must be between {min} and {max} characters long.")),
        metadata={"description": "The offer's SDP, with the candidates gathered so far (more may follow by trickle)."},
    )


class CandidateSchema(Schema):
    """One ICE candidate as RTCPeerConnection's icecandidate event gives it.

    The rules are those of janus_ice_trickle_parse in Janus 1.x: ``candidate``
    is a string, ``sdpMid`` when present is a string, ``sdpMLineIndex`` when
    present is a non-negative integer, and at least one of the two is present.
    Janus only logs a candidate line it cannot parse and still answers "ack",
    so the line's shape is checked here. An empty ``candidate`` is the browsers' end of
    candidates and is forwarded as ``completed``.
    """

    class Meta:
        # Browsers also send usernameFragment; Janus ignores it, so it is accepted and dropped.
        unknown = EXCLUDE

    candidate = StrictString(
        required=True,
        validate=validate.Length(max=CANDIDATE_MAX_LENGTH, error=_l("Must be at most {max} characters long.")),
        metadata={"example": "candidate:1 1 udp 2130706431 192.0.2.10 50000 typ host"},
    )
    sdpMid = StrictString(
        validate=validate.Length(max=SDP_MID_MAX_LENGTH, error=_l("Must be at most {max} characters long.")),
        metadata={"example": "0"},
    )
    sdpMLineIndex = StrictInteger(
        validate=validate.Range(min=0, max=255, error=_l("Must be between {min} and {max}.")),
        metadata={"example": 0},
    )

    @validates_schema
    def _check_candidate(self, data: dict[str, Any], **kwargs: Any) -> None:
        if "sdpMid" not in data and "sdpMLineIndex" not in data:
            message = _l("Send sdpMid (a string) or sdpMLineIndex (an integer).")
            raise ValidationError({"sdpMid": [message], "sdpMLineIndex": [message]})
        line = data["candidate"]
        if line and not _CANDIDATE_LINE.match(line):
            raise ValidationError(
                _l("Not an ICE candidate line: expected \"candidate:<foundation> <component> <transport> <priority> <address> <port> typ <type>\"."),
                "candidate",
            )


class StrictBoolean(fields.Boolean):
    """A JSON true or false; strings and numbers such as "yes" or 1 are invalid."""

    default_error_messages = {"required": _REQUIRED, "null": _NULL, "invalid": _l("Not a valid boolean.")}

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise self.make_error("invalid")
        return value


class CompletedSchema(StrictSchema):
    """``{"completed": true}``: the client has sent every candidate."""

    completed = StrictBoolean(required=True, validate=validate.Equal(True, error=_l("Must be true.")))


def _list_errors(messages: dict[int, Any], prefix: str) -> dict[str, list[Any]]:
    flat = validation_errors_from_webargs({str(index): item for index, item in messages.items()})
    return {f"{prefix}{name}": value for name, value in flat.items()}


def _load_list(items: Any, prefix: str) -> list[dict[str, Any]]:
    field = prefix.rstrip(".") or "_body"
    if not isinstance(items, list):
        raise ApiError("validation_error", errors={field: [_l("Must be a list of candidates.")]})
    if not items:
        raise ApiError("validation_error", errors={field: [_l("Send at least one candidate.")]})
    if len(items) > MAX_CANDIDATES_PER_REQUEST:
        raise ApiError("validation_error", errors={field: [_l("Send at most %(max)d candidates per request.", max=MAX_CANDIDATES_PER_REQUEST)]})

    not_objects = {index: [_l("Must be a JSON object.")] for index, item in enumerate(items) if not isinstance(item, dict)}
    if not_objects:
        raise ApiError("validation_error", errors=_list_errors(not_objects, prefix))
    try:
        return CandidateSchema(many=True).load(items)
    except ValidationError as error:
        raise ApiError("validation_error", errors=_list_errors(error.messages, prefix)) from None


def load_trickle(payload: Any) -> tuple[list[dict[str, Any]], bool]:
    """Validate a trickle body; return (candidates, completed).

    Accepts one candidate object, a JSON array of them, ``{"candidates": [...]}``
    or ``{"completed": true}``. Raises ApiError validation_error (400) naming
    each invalid field by its path: ``sdpMLineIndex`` for one candidate,
    ``1.sdpMLineIndex`` for the second item of an array and
    ``candidates.1.sdpMLineIndex`` inside ``{"candidates": [...]}``.
    """
    if isinstance(payload, list):
        candidates = _load_list(payload, "")
    elif isinstance(payload, dict) and "candidates" in payload:
        extra = sorted(set(payload) - {"candidates"})
        if extra:
            raise ApiError("validation_error", errors={name: [_l("Unknown field.")] for name in extra})
        candidates = _load_list(payload["candidates"], "candidates.")
    elif isinstance(payload, dict) and "completed" in payload and "candidate" not in payload:
        try:
            CompletedSchema().load(payload)
        except ValidationError as error:
            raise ApiError("validation_error", errors=validation_errors_from_webargs(error.messages)) from None
        return [], True
    elif isinstance(payload, dict):
        try:
            candidates = [CandidateSchema().load(payload)]
        except ValidationError as error:
            raise ApiError("validation_error", errors=validation_errors_from_webargs(error.messages)) from None
    else:
        raise ApiError("validation_error", errors={"_body": [_l("Send a candidate object, a list of them or {\"completed\": true}.")]})

    # An empty candidate line marks the end of candidates, which Janus takes as "completed".
    completed = any(item["candidate"] == "" for item in candidates)
    forwarded = [item for item in candidates if item["candidate"] != ""]
    return forwarded, completed


class AnswerSchema(Schema):
    """The SDP answer from Janus."""

    type = fields.String(dump_only=True, metadata={"example": "answer"})
    sdp = fields.String(dump_only=True)


class LastEventSchema(Schema):
    """The latest event Janus sent about the session's handle."""

    kind = fields.String(dump_only=True, metadata={"description": "webrtcup, media, slowlink, hangup, detached, handle_lost or event"})
    at = fields.String(dump_only=True, metadata={"description": "When the backend received it (ISO-8601 UTC)."})
    data = fields.Dict(dump_only=True)


class MediaSchema(Schema):
    """Whether Janus last reported receiving each kind of media from the publisher."""

    audio = fields.Boolean(dump_only=True)
    video = fields.Boolean(dump_only=True)


def _media_of(session: Any) -> dict[str, bool]:
    media = session.media or {}
    return {"audio": bool(media.get("audio")), "video": bool(media.get("video"))}


class SessionSchema(Schema):
    """A publisher session as the API returns it (no Janus session, handle or room secret)."""

    id = fields.String(dump_only=True)
    streamId = fields.String(attribute="stream_id", dump_only=True)
    role = fields.String(dump_only=True)
    state = fields.String(dump_only=True, metadata={"enum": list(STATES)})
    reason = fields.String(attribute="failure_reason", allow_none=True, dump_only=True, metadata={"description": "Why the session is CLOSED or FAILED."})
    roomId = fields.Integer(attribute="room_id", allow_none=True, dump_only=True, metadata={"description": "The stream's Janus videoroom room."})
    feedId = fields.Integer(attribute="feed_id", allow_none=True, dump_only=True, metadata={"description": "The publisher's feed id in that room."})
    media = fields.Function(_media_of, dump_only=True, metadata={"description": "{audio, video}: whether Janus receives each kind."})
    lastEvent = fields.Nested(LastEventSchema, attribute="last_event", allow_none=True, dump_only=True)
    createdAt = UtcDateTime(attribute="created_at", dump_only=True)
    updatedAt = UtcDateTime(attribute="updated_at", dump_only=True)
    connectedAt = UtcDateTime(attribute="connected_at", allow_none=True, dump_only=True)
    closedAt = UtcDateTime(attribute="closed_at", allow_none=True, dump_only=True)


class SessionCreatedSchema(SessionSchema):
    """The new session with Janus's SDP answer."""

    answer = fields.Nested(AnswerSchema, dump_only=True)
