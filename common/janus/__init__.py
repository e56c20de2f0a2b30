"""Janus HTTP client used by modules 2 and 3: sessions, handles, events and videoroom requests."""

from common.janus.client import JanusClient
from common.janus.events import HANDLE_LOST, JanusEvent, JanusReply
from common.janus.videoroom import PLUGIN as VIDEOROOM_PLUGIN
from common.janus.videoroom import VideoRoom

__all__ = ["HANDLE_LOST", "VIDEOROOM_PLUGIN", "JanusClient", "JanusEvent", "JanusReply", "VideoRoom"]
