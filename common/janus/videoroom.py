"""Videoroom plugin requests: rooms, publishers and subscribers, over a JanusClient."""

from __future__ import annotations

import logging
import secrets
import threading
from typing import Any

from common.janus.client import JanusClient
from common.janus.errors import JanusHandleNotFound, JanusProtocolError, JanusSessionLost
from common.janus.events import HANDLE_LOST, JanusEvent, JanusReply

logger = logging.getLogger(__name__)

PLUGIN = "janus.plugin.videoroom"

# Browsers offer VP8 and H.264; iOS publishers may offer H.264 only, so a
# VP8-only room would reject them.
VIDEO_CODECS = "vp8,h264"
AUDIO_CODECS = "opus"


class VideoRoom:
    """Helpers for the videoroom plugin.

    Room management (create, destroy, exists) goes through one control handle
    that this object attaches on first use and attaches again after a Janus
    restart. Publisher and subscriber requests take a handle the caller
    attached with ``client.attach(PLUGIN, listener)``.
    """

    def __init__(self, client: JanusClient) -> None:
        self.client = client
        self._lock = threading.Lock()
        self._control_handle: int | None = None

    # -- rooms ---------------------------------------------------------------

    def create_room(
        self, room_id: int | None = None, description: str = "", publishers: int = 1, secret: str | None = None
    ) -> tuple[int, str]:
        """Create a room and return ``(room_id, secret)``; Janus picks the id when ``room_id`` is None.

        The secret is generated when not given; Janus then requires it to
        destroy or change the room. Raises RoomExists when ``room_id`` is taken.
        """
        secret = secret or secrets.token_urlsafe(24)
        body: dict[str, Any] = {
            "request": "create",
            "description": description,
            "publishers": publishers,
            "secret": secret,
            "videocodec": VIDEO_CODECS,
            "audiocodec": AUDIO_CODECS,
            "is_private": True,
            "permanent": False,
        }
        if room_id is not None:
            body["room"] = room_id

        data = self._control_message(body).data
        _expect(data, "videoroom", "created", "create")
        room = data.get("room")
        if not isinstance(room, int):
            raise JanusProtocolError("reply to create has no integer room id")
        return room, secret

    def destroy_room(self, room_id: int, secret: str) -> None:
        """Destroy the room; raises NoSuchRoom when it does not exist, RoomUnauthorized on a wrong secret."""
        data = self._control_message({"request": "destroy", "room": room_id, "secret": secret, "permanent": False}).data
        _expect(data, "videoroom", "destroyed", "destroy")

    def exists(self, room_id: int) -> bool:
        """Return whether the room exists."""
        data = self._control_message({"request": "exists", "room": room_id}).data
        exists = data.get("exists")
        if not isinstance(exists, bool):
            raise JanusProtocolError("reply to exists has no boolean 'exists'")
        return exists

    # -- publishers ----------------------------------------------------------

    def join_publisher(self, handle_id: int, room_id: int, display: str = "") -> tuple[int, int]:
        """Join the room as a publisher and return ``(feed_id, private_id)``."""
        body: dict[str, Any] = {"request": "join", "ptype": "publisher", "room": room_id}
        if display:
            body["display"] = display
        data = self.client.message(handle_id, body).data
        _expect(data, "videoroom", "joined", "join")
        feed_id, private_id = data.get("id"), data.get("private_id")
        if not isinstance(feed_id, int) or not isinstance(private_id, int):
            raise JanusProtocolError("reply to join has no integer id and private_id")
        return feed_id, private_id

    def publish(self, handle_id: int, offer_sdp: str) -> str:
        """Publish with the peer's SDP offer and return Janus's SDP answer."""
        reply = self.client.message(handle_id, {"request": "publish"}, jsep={"type": "offer", "sdp": offer_sdp})
        _expect(reply.data, "configured", "ok", "publish")
        return _sdp(reply, "answer", "publish")

    # -- subscribers ---------------------------------------------------------

    def join_subscriber(self, handle_id: int, room_id: int, feed_id: int, private_id: int | None = None) -> str:
        """Subscribe to ``feed_id`` and return Janus's SDP offer; NoSuchFeed when it is not publishing."""
        body: dict[str, Any] = {"request": "join", "ptype": "subscriber", "room": room_id, "streams": [{"feed": feed_id}]}
        if private_id is not None:
            body["private_id"] = private_id
        reply = self.client.message(handle_id, body)
        _expect(reply.data, "videoroom", "attached", "join")
        return _sdp(reply, "offer", "join")

    def start(self, handle_id: int, answer_sdp: str) -> None:
        """Send the subscriber's SDP answer so Janus starts sending media."""
        reply = self.client.message(handle_id, {"request": "start"}, jsep={"type": "answer", "sdp": answer_sdp})
        _expect(reply.data, "started", "ok", "start")

    # -- both ----------------------------------------------------------------

    def leave(self, handle_id: int) -> None:
        """Leave the room (a publisher stops publishing, a subscriber stops receiving)."""
        self.client.message(handle_id, {"request": "leave"})

    def hangup(self, handle_id: int) -> None:
        """Close the handle's PeerConnection without leaving the room."""
        self.client.hangup(handle_id)

    # -- control handle ------------------------------------------------------

    def _control_message(self, body: dict[str, Any]) -> JanusReply:
        """Send ``body`` on the control handle, attaching it again once if Janus forgot it."""
        handle_id = self._control()
        try:
            return self.client.message(handle_id, body)
        except (JanusHandleNotFound, JanusSessionLost) as exc:
            logger.info("videoroom control handle %s gone (%s); attaching a new one", handle_id, type(exc).__name__)
            self._forget_control(handle_id)
            return self.client.message(self._control(), body)

    def _control(self) -> int:
        with self._lock:
            if self._control_handle is None:
                self._control_handle = self.client.attach(PLUGIN, listener=self._on_control_event, opaque_id="room-control")
            return self._control_handle

    def _forget_control(self, handle_id: int) -> None:
        with self._lock:
            if self._control_handle == handle_id:
                self._control_handle = None

    def _on_control_event(self, event: JanusEvent) -> None:
        if event.kind in (HANDLE_LOST, "detached"):
            self._forget_control(event.handle_id)


def _expect(data: dict[str, Any], member: str, value: str, request: str) -> None:
    if data.get(member) != value:
        raise JanusProtocolError(f"reply to videoroom {request} has {member}={data.get(member)!r}, expected {value!r}")


def _sdp(reply: JanusReply, sdp_type: str, request: str) -> str:
    jsep = reply.jsep
    if not isinstance(jsep, dict) or jsep.get("type") != sdp_type or not isinstance(jsep.get("sdp"), str):
        raise JanusProtocolError(f"reply to videoroom {request} carries no SDP {sdp_type}")
    return jsep["sdp"]
