"""Marshmallow schemas: what the stream endpoints accept (strictly) and what they return."""

from __future__ import annotations

import unicodedata
from datetime import datetime, timezone
from typing import Any

from flask_babel import lazy_gettext as _l
from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from module1_streammeta.models import DESCRIPTION_MAX_LENGTH, MAX_VIEWERS_LIMIT, OWNER_NAME_MAX_LENGTH, TITLE_MAX_LENGTH
from module1_streammeta.state import STATUSES

SORT_KEYS = ("createdAt", "-createdAt", "title", "-title")
DEFAULT_SORT = "-createdAt"
DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
SEARCH_MAX_LENGTH = 200

# Field messages are translated when the error is rendered (lazy), so the API
# returns them in the request's language, like the problem's detail.
_REQUIRED = _l("Missing data for required field.")
_NULL = _l("Field may not be null.")


class StrictSchema(Schema):
    """A schema that rejects fields it does not declare."""

    class Meta:
        unknown = RAISE

    error_messages = {
        "unknown": _l("Unknown field."),
        "type": _l("Invalid input type: send a JSON object."),
    }


class CleanString(fields.String):
    """A string trimmed of surrounding whitespace, free of control characters and encodable as UTF-8.

    ``allow_newlines`` keeps line breaks and tabs (descriptions); other control
    characters are always invalid. Lone surrogates (e.g. JSON "\\ud800") cannot
    be stored in utf8mb4 and are rejected here rather than failing in the database.
    """

    default_error_messages = {
        "required": _REQUIRED,
        "null": _NULL,
        "invalid": _l("Not a valid string."),
        "invalid_utf8": _l("Not valid Unicode text."),
        "control_character": _l("Control characters are not allowed."),
    }

    def __init__(self, *args: Any, allow_newlines: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.allow_newlines = allow_newlines

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs).strip()
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise self.make_error("invalid_utf8") from None
        allowed = {"\n", "\r", "\t"} if self.allow_newlines else set()
        if any(unicodedata.category(char) == "Cc" and char not in allowed for char in text):
            raise self.make_error("control_character")
        return text


class StrictInteger(fields.Integer):
    """An integer given as a JSON number: no strings, no fractions, no booleans."""

    default_error_messages = {
        "required": _REQUIRED,
        "null": _NULL,
        "invalid": _l("Not a valid integer."),
    }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, strict=True, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        # bool is a subclass of int in Python, so True would otherwise load as 1.
        if isinstance(value, bool):
            raise self.make_error("invalid")
        return super()._deserialize(value, attr, data, **kwargs)


class QueryInteger(fields.Integer):
    """An integer from the query string, where every value arrives as text."""

    default_error_messages = {"invalid": _l("Not a valid integer.")}


# One value of the status parameter as the list accepts it: statuses in any letter
# case, separated by commas, with blanks and empty parts ignored.
_STATUS_WORD = "|".join("".join(f"[{letter.upper()}{letter.lower()}]" for letter in status) for status in STATUSES)
STATUS_PARAMETER_PATTERN = rf"^[\s,]*(?:(?:{_STATUS_WORD})\s*(?:,[\s,]*|$))*$"


def _validate_status(value: str) -> None:
    """Reject a value that is not a status.

    A function rather than validate.OneOf, whose choices would appear in the OpenAPI
    document as an enum, stricter than what StatusList accepts.
    """
    if value not in STATUSES:
        raise ValidationError(_l("Must be one of: {choices}.").format(choices=", ".join(STATUSES)))


class StatusList(fields.List):
    """One or several statuses: repeated (?status=LIVE&status=ENDED) or comma-separated (?status=LIVE,ENDED)."""

    default_error_messages = {"invalid": _l("Not a valid list of statuses.")}

    def __init__(self, **kwargs: Any) -> None:
        inner = fields.String(
            validate=_validate_status,
            error_messages={"invalid": _l("Not a valid string.")},
            metadata={"pattern": STATUS_PARAMETER_PATTERN},
        )
        super().__init__(inner, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> list[str]:
        values = value if isinstance(value, list) else [value]
        if not all(isinstance(item, str) for item in values):
            raise self.make_error("invalid")
        parts = [part.strip().upper() for item in values for part in item.split(",") if part.strip()]
        statuses = super()._deserialize(parts, attr, data, **kwargs)
        # Keep the first occurrence of each status, in the caller's order.
        return list(dict.fromkeys(statuses))


class StreamCreateSchema(StrictSchema):
    """Body of POST /api/v1/streams."""

    title = CleanString(
        required=True,
        validate=validate.Length(min=1, max=TITLE_MAX_LENGTH, error=_l("Must be between {min} and {max} characters long.")),
        metadata={"description": "1-120 characters after trimming surrounding whitespace.", "example": "Clase 1: WebRTC"},
    )
    description = CleanString(
        allow_newlines=True,
        load_default="",
        validate=validate.Length(max=DESCRIPTION_MAX_LENGTH, error=_l("Must be at most {max} characters long.")),
        metadata={"description": "Up to 2000 characters after trimming surrounding whitespace; line breaks allowed."},
    )
    ownerName = CleanString(
        attribute="owner_name",
        allow_none=True,
        load_default=None,
        validate=validate.Length(max=OWNER_NAME_MAX_LENGTH, error=_l("Must be at most {max} characters long.")),
        metadata={"description": "Optional display name of the owner, up to 80 characters after trimming surrounding whitespace."},
    )
    maxViewers = StrictInteger(
        attribute="max_viewers",
        load_default=None,
        validate=validate.Range(min=1, max=MAX_VIEWERS_LIMIT, error=_l("Must be between {min} and {max}.")),
        metadata={"description": "Viewer limit, 1-10000. Default: the DEFAULT_MAX_VIEWERS setting."},
    )


class StreamUpdateSchema(StrictSchema):
    """Body of PATCH /api/v1/streams/{id}: a new title, description or both."""

    title = CleanString(
        validate=validate.Length(min=1, max=TITLE_MAX_LENGTH, error=_l("Must be between {min} and {max} characters long.")),
        metadata={"description": "1-120 characters after trimming surrounding whitespace."},
    )
    description = CleanString(
        allow_newlines=True,
        validate=validate.Length(max=DESCRIPTION_MAX_LENGTH, error=_l("Must be at most {max} characters long.")),
        metadata={"description": "Up to 2000 characters after trimming surrounding whitespace; line breaks allowed."},
    )

    @validates_schema
    def _require_a_field(self, data: dict[str, Any], **kwargs: Any) -> None:
        if not data:
            raise ValidationError(_l("Send title, description or both."), "_schema")


class StreamListQuerySchema(StrictSchema):
    """Query parameters of GET /api/v1/streams."""

    status = StatusList(metadata={"description": "CREATED, LIVE or ENDED; repeat the parameter or separate values with commas."})
    q = CleanString(
        load_default="",
        validate=validate.Length(max=SEARCH_MAX_LENGTH, error=_l("Must be at most {max} characters long.")),
        metadata={"description": "Case-insensitive text contained in the title or the description."},
    )
    sort = fields.String(
        load_default=DEFAULT_SORT,
        validate=validate.OneOf(SORT_KEYS, error=_l("Must be one of: {choices}.")),
        metadata={"description": "createdAt, -createdAt (newest first, the default), title or -title."},
    )
    page = QueryInteger(
        load_default=1,
        validate=validate.Range(min=1, error=_l("Must be at least {min}.")),
        metadata={"description": "Page number, from 1. A page past the end has no items."},
    )
    pageSize = QueryInteger(
        attribute="page_size",
        load_default=DEFAULT_PAGE_SIZE,
        validate=validate.Range(min=1, max=MAX_PAGE_SIZE, error=_l("Must be between {min} and {max}.")),
        metadata={"description": "Items per page, 1-100 (default 20)."},
    )
    # Read by the i18n locale selector; declared so the strict schema accepts it.
    lang = fields.String(metadata={"description": "Response language: es or en (default: Accept-Language)."})


class UtcDateTime(fields.DateTime):
    """An ISO-8601 UTC time with millisecond precision and a Z suffix."""

    def _serialize(self, value: datetime | None, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        if value is None:
            return None
        return value.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class StreamSchema(Schema):
    """A stream as the API returns it."""

    id = fields.String(dump_only=True)
    title = fields.String(dump_only=True)
    description = fields.String(dump_only=True)
    ownerName = fields.String(attribute="owner_name", allow_none=True, dump_only=True)
    status = fields.String(dump_only=True, metadata={"enum": list(STATUSES)})
    createdAt = UtcDateTime(attribute="created_at", dump_only=True)
    updatedAt = UtcDateTime(attribute="updated_at", dump_only=True)
    startedAt = UtcDateTime(attribute="started_at", allow_none=True, dump_only=True)
    endedAt = UtcDateTime(attribute="ended_at", allow_none=True, dump_only=True)
    maxViewers = fields.Integer(attribute="max_viewers", dump_only=True)
    version = fields.Integer(dump_only=True, metadata={"description": "Starts at 1 and grows by 1 on every change; the ETag carries it."})
    viewerCount = fields.Integer(attribute="viewer_count", dump_only=True)


class StreamCreatedSchema(StreamSchema):
    """The created stream plus its publish token, which is shown only this once."""

    publishToken = fields.String(
        attribute="publish_token",
        dump_only=True,
        metadata={"description": "Send it as Authorization: Bearer <publishToken> to change the stream. Only its hash is stored."},
    )


class PageLinksSchema(Schema):
    """Relative links to this page and its neighbours; null where there is none."""

    self = fields.String(dump_only=True)
    next = fields.String(allow_none=True, dump_only=True)
    prev = fields.String(allow_none=True, dump_only=True)


class StreamPageSchema(Schema):
    """One page of the stream list."""

    items = fields.List(fields.Nested(StreamSchema), dump_only=True)
    page = fields.Integer(dump_only=True)
    pageSize = fields.Integer(attribute="page_size", dump_only=True)
    total = fields.Integer(dump_only=True)
    totalPages = fields.Integer(attribute="total_pages", dump_only=True)
    links = fields.Nested(PageLinksSchema, dump_only=True)
