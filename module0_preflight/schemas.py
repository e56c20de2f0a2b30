"""Response schemas of module 0 (they document the OpenAPI and shape the JSON)."""

from marshmallow import Schema, fields


class HealthSchema(Schema):
    status = fields.String(metadata={"example": "ok"})


class CheckSchema(Schema):
    name = fields.String()
    ok = fields.Boolean()
    required = fields.Boolean()
    detail = fields.String()
    data = fields.Dict()


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
    status = fields.String()
    serverTime = fields.String()
    checks = fields.List(fields.Nested(CheckSchema))
