"""Readiness and server-side preflight checks; no Flask imports, so they run anywhere."""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import requests

logger = logging.getLogger(__name__)


@dataclass
class CheckResult:
    """One check: its name, outcome and what it found."""

    name: str
    ok: bool
    detail: str
    required: bool = True
    data: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def check_janus(janus_url: str, timeout: float, api_secret: str = "") -> CheckResult:
    """Ask Janus for GET /info; report its version and whether the videoroom plugin is loaded."""
    started = time.perf_counter()
    params = {"apisecret": api_secret} if api_secret else None
    try:
        response = requests.get(janus_url.rstrip("/") + "/info", params=params, timeout=timeout)
        body = response.json()
    except requests.Timeout:
        return CheckResult("janus", False, f"timed out after {timeout:g} s at {janus_url}")
    except requests.RequestException as exc:
        return CheckResult("janus", False, f"unreachable at {janus_url}: {exc.__class__.__name__}")
    except ValueError:
        return CheckResult("janus", False, f"{janus_url}/info did not return JSON")

    elapsed_ms = (time.perf_counter() - started) * 1000
    if body.get("janus") != "server_info":
        reason = (body.get("error") or {}).get("reason", "unexpected reply")
        return CheckResult("janus", False, f"Janus rejected /info: {reason}")

    plugins = body.get("plugins") or {}
    has_videoroom = "janus.plugin.videoroom" in plugins
    data = {"version": body.get("version_string", ""), "videoroom": has_videoroom, "elapsedMs": round(elapsed_ms, 1)}
    if not has_videoroom:
        return CheckResult("janus", False, "Janus is up but the videoroom plugin is not loaded", data=data)
    return CheckResult("janus", True, f"Janus {data['version']} with videoroom", data=data)


def check_ice_settings(stun_urls: list[str], turn_urls: list[str], turn_secret: str) -> list[CheckResult]:
    """Check that STUN and TURN are configured consistently."""
    results = [
        CheckResult("stun_configured", bool(stun_urls), ", ".join(stun_urls) or "STUN_URLS is empty", required=False),
    ]
    if turn_urls and not turn_secret:
        results.append(CheckResult("turn_configured", False, "TURN_URLS is set but TURN_SECRET is empty", required=False))
    elif turn_urls:
        results.append(CheckResult("turn_configured", True, ", ".join(turn_urls), required=False))
    else:
        results.append(CheckResult("turn_configured", False, "TURN_URLS is empty: clients behind strict NATs will fail", required=False))
    return results
