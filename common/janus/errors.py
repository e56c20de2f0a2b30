"""Exceptions of the Janus client, one class per Janus error code that callers handle.

    JanusError                  any failure talking to Janus (``code``, ``reason``)
    ├── JanusUnavailable        Janus cannot be reached (connection refused or reset)
    ├── JanusTimeout            no reply within the client's timeout
    ├── JanusProtocolError      a reply that is not the Janus API (bad JSON, HTTP 5xx)
    ├── JanusSessionLost        the Janus session is gone (restart, expiry)
    │   └── JanusSessionNotFound    458
    ├── JanusHandleNotFound     459
    ├── JanusUnauthorized       403, 405 (api_secret missing or wrong)
    ├── JanusInvalidRequest     452-457, 467 (the request is malformed)
    ├── JanusPluginError        460-463 (plugin missing, attach or message failed)
    ├── JanusInvalidJsep        464, 465, 469 (bad or unexpected SDP)
    ├── JanusInvalidTrickle     466
    ├── JanusWebrtcState        471
    ├── JanusNotAcceptingSessions  472
    └── VideoRoomError          any videoroom plugin error_code
        ├── NoSuchRoom          426
        ├── RoomExists          427
        ├── NoSuchFeed          428
        ├── PublishersFull      432
        ├── RoomUnauthorized    433 (wrong room secret)
        ├── AlreadyPublished    434
        ├── AlreadyJoined       425
        ├── JoinFirst           424
        ├── NotPublished        435
        ├── IdExists            436
        ├── InvalidSdp          437
        └── VideoRoomInvalidRequest  421-423, 429-431

Codes come from Janus 1.1.2: apierror.h for the core, the JANUS_VIDEOROOM_ERROR_*
defines in plugins/janus_videoroom.c for the videoroom.
"""

from __future__ import annotations


class JanusError(Exception):
    """A Janus request failed; ``code`` is the Janus error code when Janus sent one."""

    def __init__(self, reason: str, code: int | None = None) -> None:
        super().__init__(f"{reason} (Janus error {code})" if code is not None else reason)
        self.reason = reason
        self.code = code


class JanusUnavailable(JanusError):
    """Janus did not accept the connection, or dropped it."""


class JanusTimeout(JanusError):
    """Janus did not reply within the configured time."""


class JanusProtocolError(JanusError):
    """Janus (or whatever listens at the URL) replied with something that is not the Janus API."""


class JanusSessionLost(JanusError):
    """The Janus session no longer exists; the client opens a new one and handles are gone."""


class JanusSessionNotFound(JanusSessionLost):
    """Janus error 458: no such session."""


class JanusHandleNotFound(JanusError):
    """Janus error 459: no such handle in this session."""


class JanusUnauthorized(JanusError):
    """Janus error 403/405: the api_secret is missing or wrong, or the plugin is not allowed."""


class JanusInvalidRequest(JanusError):
    """Janus errors 452-457 and 467: the request is malformed."""


class JanusPluginError(JanusError):
    """Janus errors 460-463: the plugin is missing, or attaching, messaging or detaching failed."""


class JanusInvalidJsep(JanusError):
    """Janus errors 464, 465 and 469: the JSEP type or SDP is invalid, or an answer came unasked."""


class JanusInvalidTrickle(JanusError):
    """Janus error 466: the trickle candidate names a stream that does not exist."""


class JanusWebrtcState(JanusError):
    """Janus error 471: the PeerConnection is in the wrong state for this request."""


class JanusNotAcceptingSessions(JanusError):
    """Janus error 472: Janus is not accepting new sessions (it is shutting down, or the Admin API disabled them)."""


class VideoRoomError(JanusError):
    """The videoroom plugin replied with an ``error_code``."""


class VideoRoomInvalidRequest(VideoRoomError):
    """Videoroom errors 421-423 and 429-431: missing, malformed or invalid request fields."""


class JoinFirst(VideoRoomError):
    """Videoroom error 424: the handle has not joined a room."""


class AlreadyJoined(VideoRoomError):
    """Videoroom error 425: the handle already joined a room."""


class NoSuchRoom(VideoRoomError):
    """Videoroom error 426: no such room."""


class RoomExists(VideoRoomError):
    """Videoroom error 427: a room with this id exists."""


class NoSuchFeed(VideoRoomError):
    """Videoroom error 428: no such feed (the publisher is gone or not publishing yet)."""


class PublishersFull(VideoRoomError):
    """Videoroom error 432: the room has its maximum number of publishers."""


class RoomUnauthorized(VideoRoomError):
    """Videoroom error 433: the room secret (or pin) is missing or wrong."""


class AlreadyPublished(VideoRoomError):
    """Videoroom error 434: this publisher is already publishing."""


class NotPublished(VideoRoomError):
    """Videoroom error 435: this publisher is not publishing."""


class IdExists(VideoRoomError):
    """Videoroom error 436: a participant with this id is already in the room."""


class InvalidSdp(VideoRoomError):
    """Videoroom error 437: the SDP is invalid."""


CORE_ERRORS: dict[int, type[JanusError]] = {
    403: JanusUnauthorized,
    405: JanusUnauthorized,
    452: JanusInvalidRequest,
    453: JanusInvalidRequest,
    454: JanusInvalidRequest,
    455: JanusInvalidRequest,
    456: JanusInvalidRequest,
    457: JanusInvalidRequest,
    458: JanusSessionNotFound,
    459: JanusHandleNotFound,
    460: JanusPluginError,
    461: JanusPluginError,
    462: JanusPluginError,
    463: JanusPluginError,
    464: JanusInvalidJsep,
    465: JanusInvalidJsep,
    466: JanusInvalidTrickle,
    467: JanusInvalidRequest,
    469: JanusInvalidJsep,
    471: JanusWebrtcState,
    472: JanusNotAcceptingSessions,
}

VIDEOROOM_ERRORS: dict[int, type[VideoRoomError]] = {
    421: VideoRoomInvalidRequest,
    422: VideoRoomInvalidRequest,
    423: VideoRoomInvalidRequest,
    424: JoinFirst,
    425: AlreadyJoined,
    426: NoSuchRoom,
    427: RoomExists,
    428: NoSuchFeed,
    429: VideoRoomInvalidRequest,
    430: VideoRoomInvalidRequest,
    431: VideoRoomInvalidRequest,
    432: PublishersFull,
    433: RoomUnauthorized,
    434: AlreadyPublished,
    435: NotPublished,
    436: IdExists,
    437: InvalidSdp,
}

PLUGIN_ERRORS: dict[str, tuple[type[JanusError], dict[int, type[JanusError]]]] = {
    "janus.plugin.videoroom": (VideoRoomError, VIDEOROOM_ERRORS),
}


def core_error(code: int | None, reason: str) -> JanusError:
    """Build the exception for a Janus core error ``{"code", "reason"}``."""
    return CORE_ERRORS.get(code, JanusError)(reason, code)


def plugin_error(plugin: str, code: int | None, reason: str) -> JanusError:
    """Build the exception for a plugin reply carrying ``error_code`` and ``error``."""
    base, table = PLUGIN_ERRORS.get(plugin, (JanusError, {}))
    return table.get(code, base)(reason, code)
