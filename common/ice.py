"""ICE server list with short-lived TURN credentials (the TURN REST API scheme of coturn's use-auth-secret)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from typing import Any


def turn_credentials(secret: str, user: str, ttl: int, now: float | None = None) -> tuple[str, str]:
    """Return (username, credential) valid for ``ttl`` seconds.

    The username is "<expiry unix time>:<user>" and the credential is
    base64(HMAC-SHA1(secret, username)), which coturn checks with use-auth-secret.
    """
    expiry = int(now if now is not None else time.time()) + ttl
    username = f"{expiry}:{user}"
    digest = hmac.new(secret.encode("utf-8"), username.encode("utf-8"), hashlib.sha1).digest()
    return username, base64.b64encode(digest).decode("ascii")


def ice_servers(stun_urls: list[str], turn_urls: list[str], turn_secret: str, ttl: int, user: str) -> dict[str, Any]:
    """Build the ``{"iceServers": [...], "ttl": s}`` document clients pass to RTCPeerConnection.

    Each entry has only ``urls``, ``username`` and ``credential``: flutter_webrtc and
    browsers ignore other keys, and a ``password`` key would leave TURN unauthenticated.
    """
    servers: list[dict[str, Any]] = []
    if stun_urls:
        servers.append({"urls": list(stun_urls)})
    if turn_urls and turn_secret:
        username, credential = turn_credentials(turn_secret, user, ttl)
        servers.append({"urls": list(turn_urls), "username": username, "credential": credential})
    return {"iceServers": servers, "ttl": ttl}
