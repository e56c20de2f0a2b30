"""Response schemas of module 0 (they document the OpenAPI and shape the JSON)."""

from marshmallow import Schema, fields


class HealthSchema(Schema):
    status = fields.String(metadata={"example": "ok"})


class CheckSchema(Schema):
    name = fields.String(metadata={"description": "Check name: database, janus, stun_configured, turn_configured, stun, turn"})
    status = fields.String(metadata={"description": "ok, warn, fail or skip"})
    ok = fields.Boolean(metadata={"description": "True when status is ok"})
    required = fields.Boolean(metadata={"description": "Whether a failure makes the whole report fail"})
    code = fields.String(metadata={"description": "Stable result code, e.g. janus_unreachable"})
    detail = fields.String(metadata={"description": "What the check found, in the request's language"})
    cause = fields.String(metadata={"description": "Probable cause of a failure or warning"})
    nextStep = fields.String(metadata={"description": "What to do about a failure or warning"})
    data = fields.Dict(metadata={"description": "Values the check found (never a secret)"})


class ReadySchema(Schema):
    status = fields.String(metadata={"description": "ready or not_ready"})
    checks = fields.List(fields.Nested(CheckSchema))


class IceServerSchema(Schema):
    urls = fields.List(fields.String())
    username = fields.String()
    credential = fields.String()


class IceServersSchema(Schema):
    iceServers = fields.List(fields.Nested(IceServerSchema))
    ttl = fields.Integer(metadata={"description": "Seconds the TURN credentials stay valid"})


class PreflightSchema(Schema):
    status = fields.String(metadata={"description": "ok, or failed when a required check failed"})
    serverTime = fields.String(metadata={"description": "The server's clock (UTC), to compare with the client's"})
    checks = fields.List(fields.Nested(CheckSchema))
