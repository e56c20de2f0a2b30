"""Values the Janus client passes to its callers: handle events and plugin replies."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Janus core events addressed to one handle, and "event" for plugin events.
HANDLE_EVENT_KINDS = frozenset({"webrtcup", "media", "slowlink", "hangup", "detached", "trickle", "event"})

# The client's own kind: Janus lost the session (restart or expiry), so the handle is gone.
HANDLE_LOST = "handle_lost"

# Envelope members of the Janus API that callers never need.
_ENVELOPE_KEYS = frozenset({"janus", "session_id", "sender", "transaction", "plugindata", "jsep", "opaque_id"})


@dataclass(frozen=True)
class JanusEvent:
    """An event for one handle, passed to the listener given to ``JanusClient.attach``.

    ``kind`` is one of webrtcup, media, slowlink, hangup, detached, trickle,
    event (a plugin event, ``data`` is the plugin's data) or handle_lost.
    For core events ``data`` contains the event's own members, for example
    ``{"reason": "DTLS alert"}`` for hangup or ``{"mid": "0", "type": "video",
    "receiving": True}`` for media.
    """

    kind: str
    handle_id: int
    data: dict[str, Any] = field(default_factory=dict)
    jsep: dict[str, Any] | None = None


@dataclass(frozen=True)
class JanusReply:
    """A plugin's reply to a message: its data and, for offers and answers, the JSEP."""

    data: dict[str, Any]
    jsep: dict[str, Any] | None = None


def event_from_message(message: dict[str, Any]) -> JanusEvent:
    """Build the JanusEvent for a Janus handle event as it arrives on the long-poll."""
    kind = message["janus"]
    if kind == "event":
        plugindata = message.get("plugindata") or {}
        data = dict(plugindata.get("data") or {})
    else:
        data = {key: value for key, value in message.items() if key not in _ENVELOPE_KEYS}
    return JanusEvent(kind=kind, handle_id=int(message["sender"]), data=data, jsep=message.get("jsep"))
