"""Module 1 routes: the /api/v1/streams resource.

Each view validates with a schema (flask-smorest does it before the view runs),
calls the service and returns what the response schema dumps. Changes check, in
this order: the stream exists (404), the token (401/403), If-Match (412), then
the status (409).
"""

from __future__ import annotations

from typing import Any

from flask import current_app, request, url_for
from flask_smorest import Blueprint
from marshmallow import RAISE

from common.db import db
from common.errors import ApiError
from module1_streammeta import schemas, service
from module1_streammeta.models import Stream
from module1_streammeta.state import END, START

blp = Blueprint("streams", __name__, url_prefix="/api/v1/streams", description="Streams: create, list, read, edit, delete, start and end")

def stream_etag(stream: Stream) -> str:
    """Return the ETag of a stream: its version as a quoted string, e.g. "3".

    The ETag covers the stored fields. viewerCount is live data from module 3
    and can change while the ETag stays the same.
    """
    return f'"{stream.version}"'


def _fill_viewer_counts(streams: list[Stream]) -> list[Stream]:
    """Set ``viewer_count`` on each stream from module 3's provider, or 0 without one."""
    provider = current_app.extensions.get("viewer_count_provider")
    counts: dict[str, int] = {}
    if provider is not None and streams:
        counts = provider(db.session, [stream.id for stream in streams])
    for stream in streams:
        stream.viewer_count = counts.get(stream.id, 0)
    return streams


def _load_for_change(stream_id: str) -> tuple[Stream, int | None]:
    """Read the stream, check the caller's token and If-Match; return it and the version a change must still find."""
    stream = service.get_stream(db.session, stream_id)
    service.authorize(stream, request.headers.get("Authorization"), current_app.config["ADMIN_TOKEN"])

    if "If-Match" not in request.headers:
        return stream, None
    # Weak comparison on purpose: proxies such as nginx with gzip turn "3" into W/"3".
    if not request.if_match.contains_weak(str(stream.version)):
        raise ApiError("precondition_failed", currentVersion=stream.version, headers={"ETag": stream_etag(stream)})
    return stream, stream.version


def _stream_response(stream: Stream, status: int = 200, headers: dict[str, str] | None = None) -> tuple[Stream, int, dict[str, str]]:
    _fill_viewer_counts([stream])
    return stream, status, {"ETag": stream_etag(stream), **(headers or {})}


def _page_url(args: dict[str, Any], page: int) -> str:
    """Return the relative URL of another page of the same list."""
    params: dict[str, Any] = {}
    if args.get("status"):
        params["status"] = ",".join(args["status"])
    if args.get("q"):
        params["q"] = args["q"]
    if args["sort"] != schemas.DEFAULT_SORT:
        params["sort"] = args["sort"]
    if args.get("lang"):
        params["lang"] = args["lang"]
    params["page"] = page
    params["pageSize"] = args["page_size"]
    return url_for("streams.list_streams", **params)


@blp.route("", methods=["GET"])
@blp.arguments(schemas.StreamListQuerySchema, location="query", unknown=RAISE)
@blp.response(200, schemas.StreamPageSchema)
def list_streams(args: dict[str, Any]):
    """List streams: filter by status and text, sort, and page through them."""
    page = service.list_streams(
        db.session,
        statuses=args.get("status") or (),
        query=args["q"],
        sort=args["sort"],
        page=args["page"],
        page_size=args["page_size"],
    )

    _fill_viewer_counts(page.items)
    last_page = page.total_pages
    next_page = page.page + 1 if page.page < last_page else None
    # From past the end, "prev" leads back to the last page that has items.
    prev_page = min(page.page - 1, last_page) if page.page > 1 and last_page >= 1 else None
    return {
        "items": page.items,
        "page": page.page,
        "page_size": page.page_size,
        "total": page.total,
        "total_pages": last_page,
        "links": {
            "self": _page_url(args, page.page),
            "next": _page_url(args, next_page) if next_page else None,
            "prev": _page_url(args, prev_page) if prev_page else None,
        },
    }


@blp.route("", methods=["POST"])
@blp.arguments(schemas.StreamCreateSchema)
@blp.response(201, schemas.StreamCreatedSchema)
@blp.alt_response(400, description="Invalid body: the problem lists each field")
def create_stream(data: dict[str, Any]):
    """Create a stream in status CREATED. The response carries its publishToken, shown only this once."""
    stream, token = service.create_stream(
        db.session,
        title=data["title"],
        description=data["description"],
        owner_name=data["owner_name"],
        max_viewers=data["max_viewers"] or current_app.config["DEFAULT_MAX_VIEWERS"],
    )

    stream.publish_token = token
    location = url_for("streams.get_stream", stream_id=stream.id)
    return _stream_response(stream, 201, {"Location": location})


@blp.route("/<stream_id>", methods=["GET"])
@blp.response(200, schemas.StreamSchema)
@blp.alt_response(404, description="No such stream")
def get_stream(stream_id: str):
    """Read one stream. The ETag header carries its version for If-Match."""
    stream = service.get_stream(db.session, stream_id)
    return _stream_response(stream)


@blp.route("/<stream_id>", methods=["PATCH"])
@blp.arguments(schemas.StreamUpdateSchema)
@blp.response(200, schemas.StreamSchema)
@blp.alt_response(409, description="The stream has ENDED")
@blp.alt_response(401, description="No Authorization: Bearer token")
@blp.alt_response(403, description="The token is neither the publish token nor ADMIN_TOKEN")
@blp.alt_response(404, description="No such stream")
@blp.alt_response(412, description="If-Match does not match the current version (ETag)")
def update_stream(changes: dict[str, Any], stream_id: str):
    """Change the title and/or description of a CREATED or LIVE stream."""
    _stream, expected_version = _load_for_change(stream_id)

    stream = service.update_stream(db.session, stream_id, changes, expected_version)
    return _stream_response(stream)


@blp.route("/<stream_id>", methods=["DELETE"])
@blp.response(204)
@blp.alt_response(409, description="The stream is LIVE")
@blp.alt_response(401, description="No Authorization: Bearer token")
@blp.alt_response(403, description="The token is neither the publish token nor ADMIN_TOKEN")
@blp.alt_response(404, description="No such stream")
@blp.alt_response(412, description="If-Match does not match the current version (ETag)")
def delete_stream(stream_id: str):
    """Delete a CREATED or ENDED stream."""
    _stream, expected_version = _load_for_change(stream_id)

    service.delete_stream(db.session, stream_id, expected_version)
    return None


def _transition(stream_id: str, action: str) -> tuple[Stream, int, dict[str, str]]:
    _stream, expected_version = _load_for_change(stream_id)

    stream = service.transition(db.session, current_app.extensions["events"], stream_id, action, expected_version)
    return _stream_response(stream)


@blp.route("/<stream_id>/start", methods=["POST"])
@blp.response(200, schemas.StreamSchema)
@blp.alt_response(409, description="invalid_transition: only a CREATED stream can start")
@blp.alt_response(401, description="No Authorization: Bearer token")
@blp.alt_response(403, description="The token is neither the publish token nor ADMIN_TOKEN")
@blp.alt_response(404, description="No such stream")
@blp.alt_response(412, description="If-Match does not match the current version (ETag)")
def start_stream(stream_id: str):
    """Move a CREATED stream to LIVE."""
    return _transition(stream_id, START)


@blp.route("/<stream_id>/end", methods=["POST"])
@blp.response(200, schemas.StreamSchema)
@blp.alt_response(409, description="invalid_transition: the stream has already ENDED")
@blp.alt_response(401, description="No Authorization: Bearer token")
@blp.alt_response(403, description="The token is neither the publish token nor ADMIN_TOKEN")
@blp.alt_response(404, description="No such stream")
@blp.alt_response(412, description="If-Match does not match the current version (ETag)")
def end_stream(stream_id: str):
    """Move a LIVE stream to ENDED, or cancel a CREATED one (CREATED -> ENDED)."""
    return _transition(stream_id, END)
