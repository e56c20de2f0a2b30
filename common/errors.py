"""RFC 9457 problem details: one error shape for every failure, with stable codes."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from flask import Flask, Response, json, request
from flask_babel import gettext, lazy_gettext as _l
from flask_smorest import Blueprint as FlaskSmorestBlueprint
from sqlalchemy.exc import DBAPIError, DisconnectionError, InterfaceError, OperationalError
from werkzeug.exceptions import HTTPException

logger = logging.getLogger(__name__)

PROBLEM_MIME = "application/problem+json"

# Validation failures are 400 in this API. flask-smorest reads this status when it
# aborts and when it documents the error response, so the OpenAPI says 400 too.
FlaskSmorestBlueprint.ARGUMENTS_PARSER.DEFAULT_VALIDATION_STATUS = 400
TYPE_BASE = "https://streaming-course.invalid/problems/"


@dataclass(frozen=True)
class ProblemKind:
    """A registered error code: its HTTP status, English title and default localized detail."""

    status: int
    title: str
    detail: Any


# The stable codes clients may match on. Titles stay English; details are translated.
PROBLEMS: dict[str, ProblemKind] = {
    "bad_request": ProblemKind(400, "Bad request", _l("The request is invalid.")),
    "malformed_json": ProblemKind(400, "Malformed JSON", _l("The request body is not valid JSON.")),
    "validation_error": ProblemKind(400, "Validation error", _l("One or more fields are invalid.")),
    "invalid_sdp": ProblemKind(400, "Invalid SDP", _l("Janus rejected the SDP offer.")),
    "unauthorized": ProblemKind(401, "Unauthorized", _l("This action needs an Authorization: Bearer token.")),
    "forbidden": ProblemKind(403, "Forbidden", _l("The token does not allow this action.")),
    "not_found": ProblemKind(404, "Not found", _l("The requested resource does not exist.")),
    "method_not_allowed": ProblemKind(405, "Method not allowed", _l("This method is not allowed on this resource.")),
    "not_acceptable": ProblemKind(406, "Not acceptable", _l("The requested representation is not available.")),
    "conflict": ProblemKind(409, "Conflict", _l("The request conflicts with the current state.")),
    "invalid_transition": ProblemKind(409, "Invalid transition", _l("The stream cannot change to that state.")),
    "stream_not_live": ProblemKind(409, "Stream not live", _l("The stream is not live or has no connected publisher.")),
    "viewer_limit_reached": ProblemKind(409, "Viewer limit reached", _l("The stream has reached its viewer limit.")),
    "publisher_active": ProblemKind(409, "Publisher already active", _l("The stream already has an active publisher.")),
    "session_closed": ProblemKind(409, "Session closed", _l("The session is closed; publish again to start a new one.")),
    "viewer_closed": ProblemKind(409, "Viewer closed", _l("This viewer has left or failed; join the stream again.")),
    "precondition_failed": ProblemKind(412, "Precondition failed", _l("The resource changed since you read it; read it again and retry.")),
    "payload_too_large": ProblemKind(413, "Payload too large", _l("The request body is too large.")),
    "unsupported_media_type": ProblemKind(415, "Unsupported media type", _l("Send the body as application/json.")),
    "internal_error": ProblemKind(500, "Internal server error", _l("An unexpected error occurred; the request id identifies it in the logs.")),
    "janus_error": ProblemKind(502, "Janus error", _l("The media server (Janus) rejected the request.")),
    "janus_unavailable": ProblemKind(503, "Janus unavailable", _l("The media server (Janus) is not reachable.")),
    "database_unavailable": ProblemKind(503, "Database unavailable", _l("The database is not reachable; try again in a few seconds.")),
    "service_unavailable": ProblemKind(503, "Service unavailable", _l("The service is temporarily unavailable.")),
    "janus_timeout": ProblemKind(504, "Janus timeout", _l("The media server (Janus) did not answer in time.")),
}

_STATUS_TO_CODE = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    412: "precondition_failed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    503: "service_unavailable",
}


class ApiError(Exception):
    """An error answered as problem+json.

    ``code`` must be a key of PROBLEMS. ``detail`` overrides the default localized text;
    ``errors`` maps field names to lists of messages; ``extra`` adds members to the body.
    """

    def __init__(
        self,
        code: str,
        detail: Any = None,
        *,
        errors: dict[str, list[Any]] | None = None,
        status: int | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        if code not in PROBLEMS:
            raise ValueError(f"unknown problem code {code!r}; add it to common.errors.PROBLEMS")
        super().__init__(code)
        self.code = code
        self.detail = detail
        self.errors = errors
        self.status = status or PROBLEMS[code].status
        self.headers = headers or {}
        self.extra = extra


def field_error(field: str, message: Any) -> ApiError:
    """Build a validation_error naming one field."""
    return ApiError("validation_error", errors={field: [message]})


def problem_response(
    code: str,
    detail: Any = None,
    *,
    status: int | None = None,
    errors: dict[str, list[Any]] | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> Response:
    """Build the problem+json response for ``code``."""
    kind = PROBLEMS[code]
    status = status or kind.status
    body: dict[str, Any] = {
        "type": TYPE_BASE + code.replace("_", "-"),
        "title": kind.title,
        "status": status,
        "detail": str(detail if detail is not None else kind.detail),
        "code": code,
    }
    if errors:
        body["errors"] = [
            {"field": field, "messages": [str(message) for message in messages]}
            for field, messages in sorted(errors.items())
        ]
    try:
        body["instance"] = request.path
        request_id = getattr(request, "request_id", None)
        if request_id:
            body["requestId"] = request_id
    except RuntimeError:
        # Outside a request (a CLI command); the body is complete without them.
        pass
    body.update(extra)

    response = Response(json.dumps(body), status=status, mimetype=PROBLEM_MIME)
    response.headers["Content-Language"] = _current_locale()
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _current_locale() -> str:
    from flask_babel import get_locale

    locale = get_locale()
    return str(locale.language) if locale else "es"


def _flatten_messages(messages: Any, prefix: str = "") -> dict[str, list[Any]]:
    """Turn marshmallow's nested message dicts into {"a.b": [...]} pairs."""
    flat: dict[str, list[Any]] = {}
    if isinstance(messages, dict):
        for key, value in messages.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            if isinstance(value, (dict, list)) and not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
                flat.update(_flatten_messages(value, name))
            else:
                flat[name] = value if isinstance(value, list) else [value]
    elif isinstance(messages, list):
        flat[prefix or "_body"] = [str(m) for m in messages]
    else:
        flat[prefix or "_body"] = [str(messages)]
    return flat


def validation_errors_from_webargs(messages: Any) -> dict[str, list[Any]]:
    """Map webargs/marshmallow error messages ({location: {field: [..]}}) to {field: [..]}."""
    if isinstance(messages, dict) and set(messages) <= {"json", "query", "querystring", "form", "headers", "files", "path", "view_args"}:
        merged: dict[str, list[Any]] = {}
        for location_messages in messages.values():
            merged.update(_flatten_messages(location_messages))
        return merged
    return _flatten_messages(messages)


def _handle_api_error(error: ApiError) -> Response:
    return problem_response(error.code, error.detail, status=error.status, errors=error.errors, headers=error.headers, **error.extra)


def _handle_http_exception(error: HTTPException) -> Response:
    status = error.code or 500

    # webargs reports an unparsable JSON body as 400 "Invalid JSON body."
    data = getattr(error, "data", None) or {}
    messages = data.get("messages") if isinstance(data, dict) else None
    if status == 400 and _is_malformed_json(error, messages):
        return problem_response("malformed_json")

    # flask-smorest aborts with the parser's validation status and the
    # marshmallow messages in error.data.
    if status in (400, 422) and messages is not None:
        return problem_response("validation_error", errors=validation_errors_from_webargs(messages))

    if status == 413:
        return problem_response("payload_too_large", gettext("The request body is larger than %(limit)s bytes.", limit=_max_content_length()))

    if status == 405:
        allowed = ", ".join(sorted(getattr(error, "valid_methods", None) or []))
        headers = {"Allow": allowed} if allowed else None
        return problem_response("method_not_allowed", headers=headers)

    if status == 404:
        return problem_response("not_found", gettext("No resource at %(path)s.", path=request.path))

    code = _STATUS_TO_CODE.get(status)
    if code is None:
        code = "internal_error" if status >= 500 else "bad_request"
    return problem_response(code, status=status)


def _is_malformed_json(error: HTTPException, messages: Any) -> bool:
    if isinstance(messages, dict):
        json_messages = messages.get("json")
        if isinstance(json_messages, dict) and any("Invalid JSON" in str(m) for m in json_messages.get("_schema", [])):
            return True
        # webargs 8 FlaskParser aborts with {"json": ["Invalid JSON body."]}.
        if isinstance(json_messages, list) and any("Invalid JSON" in str(m) for m in json_messages):
            return True
    description = str(getattr(error, "description", "") or "")
    return "JSON" in description and ("decode" in description.lower() or "invalid" in description.lower())


def _max_content_length() -> int | None:
    from flask import current_app

    return current_app.config.get("MAX_CONTENT_LENGTH")


def _handle_unexpected(error: Exception) -> Response:
    logger.exception(
        "unhandled error on %s %s (request %s)",
        request.method,
        request.path,
        getattr(request, "request_id", "-"),
    )
    return problem_response("internal_error")


def is_database_unavailable(error: BaseException) -> bool:
    """Return whether a SQLAlchemy error means a lost or refused database connection, not a bug."""
    return isinstance(error, (OperationalError, InterfaceError, DisconnectionError)) or bool(getattr(error, "connection_invalidated", False))


def _handle_database_error(error: Exception) -> Response:
    """Respond to a lost or refused database connection with 503 database_unavailable; other driver errors are 500."""
    if not is_database_unavailable(error):
        return _handle_unexpected(error)
    cause = getattr(error, "orig", None) or error
    logger.warning(
        "database unavailable on %s %s (request %s): %s %s",
        request.method,
        request.path,
        getattr(request, "request_id", "-"),
        cause.__class__.__name__,
        cause.args[:1],
    )
    return problem_response("database_unavailable")


_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


def _require_json_body() -> None:
    """Reject a non-JSON request body on /api/ routes with 415.

    webargs reads only JSON bodies and would treat a form or text body as empty,
    which turns a wrong Content-Type into misleading "missing field" errors.
    """
    if request.method not in _BODY_METHODS or not request.path.startswith("/api/"):
        return
    has_body = bool(request.content_length) or "chunked" in request.headers.get("Transfer-Encoding", "").lower()
    if has_body and not request.is_json:
        raise ApiError("unsupported_media_type")


def init_errors(app: Flask) -> None:
    """Answer every error raised in a request as problem+json, and reject non-JSON API bodies."""
    app.before_request(_require_json_body)
    app.register_error_handler(ApiError, _handle_api_error)
    app.register_error_handler(HTTPException, _handle_http_exception)
    app.register_error_handler(DBAPIError, _handle_database_error)
    app.register_error_handler(DisconnectionError, _handle_database_error)
    app.register_error_handler(Exception, _handle_unexpected)
