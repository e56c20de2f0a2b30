"""Module 3 web pages: publish from the camera, watch a stream, and the instructor's dashboard.

Plain HTML and JavaScript with no build step. Every text is rendered on the
server in the request's language (Spanish by default, English with ?lang=en or
Accept-Language); the texts the scripts need travel in a JSON block of the page.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template
from flask_babel import get_locale
from flask_babel import gettext as _

from common.db import db
from common.errors import ApiError

pages_blp = Blueprint(
    "watch_pages",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/static/watch",
)


@pages_blp.context_processor
def _page_language() -> dict[str, str]:
    """Give the templates the request's language for <html lang>."""
    locale = get_locale()
    return {"page_lang": locale.language if locale else "es"}


def script_messages() -> dict[str, str]:
    """Return the translated texts the page scripts show, keyed by a stable name."""
    return {
        "status.CREATED": _("Not started yet"),
        "status.LIVE": _("Live"),
        "status.ENDED": _("Ended"),
        "session.none": _("No publisher"),
        "session.NEW": _("Publisher preparing"),
        "session.NEGOTIATING": _("Publisher connecting"),
        "session.CONNECTED": _("Publisher connected"),
        "session.CLOSED": _("Publisher disconnected"),
        "session.FAILED": _("Publisher connection failed"),
        "publish.idle": _("Camera off"),
        "publish.camera": _("Camera ready: paste the token and publish"),
        "publish.connecting": _("Connecting to the server…"),
        "publish.publishing": _("Publishing"),
        "publish.stopped": _("Stopped"),
        "publish.failed": _("Publishing failed"),
        "watch.idle": _("Not watching"),
        "watch.waiting": _("Waiting for the publisher…"),
        "watch.joining": _("Joining…"),
        "watch.connecting": _("Connecting to the video…"),
        "watch.playing": _("Playing"),
        "watch.full": _("The stream is full; you will join when a place frees up."),
        "watch.ended": _("The stream has ended."),
        "watch.failed": _("The video connection failed."),
        "ws.connecting": _("Connecting to live updates…"),
        "ws.open": _("Live updates on"),
        "ws.closed": _("Live updates off; reconnecting…"),
        "ws.notFound": _("This stream does not exist."),
        "error.camera": _("Camera or microphone not available: %(reason)s"),
        "error.tokenMissing": _("Paste the stream's publish token first."),
        "error.network": _("The server could not be reached."),
        "dashboard.empty": _("No streams yet."),
        "dashboard.watch": _("Watch"),
        "dashboard.publish": _("Publish"),
    }


def _stream_or_404(stream_id: str) -> Any:
    """Return the stream with its live viewer count, or None when it does not exist."""
    from module1_streammeta.service import get_stream
    from module3_watch.service import viewer_counts

    try:
        stream = get_stream(db.session, stream_id)
    except ApiError as error:
        if error.code != "not_found":
            raise
        return None
    stream.viewer_count = viewer_counts(db.session, [stream.id])[stream.id]
    return stream


def _not_found_page(stream_id: str) -> tuple[str, int]:
    return render_template("watch/stream_not_found.html", stream_id=stream_id, messages=script_messages()), 404


@pages_blp.route("/publish/<stream_id>")
def publish_page(stream_id: str):
    """Publish a stream from this browser's camera and microphone with the owner's token."""
    stream = _stream_or_404(stream_id)
    if stream is None:
        return _not_found_page(stream_id)
    return render_template("watch/publish.html", stream=stream, messages=script_messages())


@pages_blp.route("/watch/<stream_id>")
def watch_page(stream_id: str):
    """Watch a stream, with its status and viewer count updated live."""
    stream = _stream_or_404(stream_id)
    if stream is None:
        return _not_found_page(stream_id)
    return render_template("watch/watch.html", stream=stream, messages=script_messages())


@pages_blp.route("/dashboard")
def dashboard_page():
    """Show the instructor's view: every stream with its status and viewer count, updated live."""
    return render_template("watch/dashboard.html", messages=script_messages())
