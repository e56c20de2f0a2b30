"""The OpenAPI document: every error response is documented as problem+json with its status.

flask-smorest documents errors as ``application/json`` with its own ``Error`` shape and
adds a catch-all ``default`` response. This API returns errors as RFC 9457 problem+json,
so ``CourseApi`` documents that shape instead. ``ProblemResponsesPlugin`` lists the
statuses every operation can return, so a client (or a fuzzer) can check each response.
"""

from __future__ import annotations

import http
from typing import Any

from apispec import BasePlugin
from flask_smorest import Api
from flask_smorest.utils import prepare_response
from marshmallow import INCLUDE, Schema, fields

from common.errors import PROBLEM_MIME

_BODY_METHODS = frozenset({"post", "put", "patch"})
# Routes of the resources stored in the database. Each returns 503 database_unavailable
# while the database cannot be reached.
_DATABASE_PATH_PREFIXES = ("/api/v1/streams", "/api/v1/sessions", "/api/v1/viewers")


class ProblemFieldErrorSchema(Schema):
    """One invalid field of a validation_error and its messages."""

    field = fields.String(required=True)
    messages = fields.List(fields.String(), required=True)


class ProblemSchema(Schema):
    """An RFC 9457 problem; some codes add members (e.g. currentVersion, sessionId)."""

    class Meta:
        # Documents additionalProperties as allowed, for those extra members.
        unknown = INCLUDE

    type = fields.String(required=True)
    title = fields.String(required=True)
    status = fields.Integer(required=True)
    detail = fields.String(required=True)
    code = fields.String(required=True, metadata={"description": "Stable English error code, e.g. validation_error"})
    instance = fields.String()
    requestId = fields.String()
    errors = fields.List(fields.Nested(ProblemFieldErrorSchema))


class ProblemResponsesPlugin(BasePlugin):
    """Document the problem responses of each operation and drop the catch-all ``default``.

    Every error status an operation documents gets the problem+json body. The plugin also
    adds the statuses that the common code returns for any route. POST, PUT and PATCH get
    413 and 415, because the body is checked before the view runs. A documented request
    body or query parameters add 400, path parameters add 404, and the stream, session and
    viewer routes add 503 for a database that cannot be reached.
    """

    def operation_helper(self, path: str | None = None, operations: dict[str, Any] | None = None, **kwargs: Any) -> None:
        for method, operation in (operations or {}).items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses = operation["responses"]
            responses.pop("default", None)

            generic: set[int] = set()
            if method in _BODY_METHODS:
                generic |= {413, 415}
            if "requestBody" in operation or any(parameter.get("in") == "query" for parameter in operation.get("parameters", []) if isinstance(parameter, dict)):
                generic.add(400)
            if path and "{" in path:
                generic.add(404)
            if path and path.startswith(_DATABASE_PATH_PREFIXES):
                generic.add(503)
            for status in generic:
                responses.setdefault(str(status), http.HTTPStatus(status).name)

            for status, response in responses.items():
                if isinstance(response, dict) and int(status) >= 400 and "content" not in response:
                    response["content"] = {PROBLEM_MIME: {"schema": "Problem"}}


class CourseApi(Api):
    """flask-smorest's Api with problem+json error responses and no ``default`` response."""

    ERROR_SCHEMA = ProblemSchema
    DEFAULT_ERROR_RESPONSE_NAME = None

    def _register_responses(self) -> None:
        """Register a problem+json response component per error status (BAD_REQUEST, NOT_FOUND, ...)."""
        self.spec.components.schema("Problem", schema=ProblemSchema)
        for status in http.HTTPStatus:
            response: dict[str, Any] = {"description": status.phrase}
            if status >= 400:
                response["schema"] = "Problem"
            prepare_response(response, self.spec, PROBLEM_MIME)
            self.spec.components.response(status.name, response, lazy=True)
