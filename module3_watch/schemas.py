"""Request and response schemas of module 3 (they validate input and document the OpenAPI)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from marshmallow import Schema, fields, validate

from module1_streammeta.schemas import StrictSchema, UtcDateTime
from module2_session.schemas import SDP_MAX_LENGTH, StrictString


class JoinSchema(StrictSchema):
    """Body of POST /api/v1/streams/{id}/viewers: empty today, kept so clients can send {}."""


class ViewerAnswerSchema(StrictSchema):
    """Body of POST /api/v1/viewers/{vid}/answer: the viewer's SDP answer to Janus's offer."""

    type = StrictString(
        required=True,
        validate=validate.Equal("answer", error=_l("Must be \"answer\".")),
        metadata={"example": "answer"},
    )
    sdp = StrictString(
        required=True,
        validate=validate.Length(min=1, max=SDP_MAX_LENGTH, error=_l("Must be between {min} and {max} characters long.")),
        metadata={"description": "The answer's SDP; Janus checks it and a rejected one gives 400 invalid_sdp."},
    )


class ViewerSchema(Schema):
    """A viewer as the API returns it."""

    id = fields.String(metadata={"description": "Viewer id (UUID)"})
    streamId = fields.String(attribute="stream_id")
    state = fields.String(metadata={"description": "JOINING, CONNECTING, WATCHING, LEFT or FAILED"})
    reason = fields.String(allow_none=True, metadata={"description": "Why the viewer reached LEFT or FAILED"})
    createdAt = UtcDateTime(attribute="created_at")
    updatedAt = UtcDateTime(attribute="updated_at")
    answeredAt = UtcDateTime(attribute="answered_at", allow_none=True)
    connectedAt = UtcDateTime(attribute="connected_at", allow_none=True)
    leftAt = UtcDateTime(attribute="left_at", allow_none=True)


class ViewerOfferSchema(Schema):
    """Janus's SDP offer for a new viewer."""

    type = fields.String(metadata={"example": "offer"})
    sdp = fields.String()


class JoinedViewerSchema(ViewerSchema):
    """A new viewer with the Janus offer it must answer."""

    offer = fields.Nested(ViewerOfferSchema)
