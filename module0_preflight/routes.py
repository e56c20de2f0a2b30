"""Module 0 routes: /health, /ready, /api/v1/ice-servers, /api/v1/preflight and the /preflight page."""

from __future__ import annotations

import secrets
from datetime import datetime, timezone
from typing import Any

from flask import Blueprint as PageBlueprint
from flask import current_app, render_template
from flask_babel import get_locale, gettext
from flask_smorest import Blueprint

from common.db import ping_database
from common.ice import ice_servers
from module0_preflight import messages, schemas, service

api_blp = Blueprint("preflight", __name__, description="Health, readiness and connectivity checks")
pages_blp = PageBlueprint("preflight_pages", __name__, template_folder="templates", static_folder="static", static_url_path="/static/preflight")

# /ready is polled by load balancers and systemd: it waits less for Janus than a request would.
READY_JANUS_TIMEOUT = 2.0
# Seconds each server-side STUN binding or TURN allocation of /api/v1/preflight may take.
PREFLIGHT_PROBE_TIMEOUT = 3.0


def _present(result: service.CheckResult) -> dict[str, Any]:
    """Turn a check result into its JSON shape, with texts in the request's language."""
    texts = messages.describe(result.code, result.data, gettext)
    body: dict[str, Any] = {
        "name": result.name,
        "status": result.status,
        "ok": result.ok,
        "required": result.required,
        "code": result.code,
        "detail": texts["detail"],
    }
    if result.status in (service.FAIL, service.WARN):
        body["cause"] = texts["cause"]
        body["nextStep"] = texts["nextStep"]
    body["data"] = result.data
    return body


def _readiness_checks() -> list[service.CheckResult]:
    config = current_app.config
    database = service.check_database(*ping_database())
    janus = service.check_janus(config["JANUS_URL"], timeout=READY_JANUS_TIMEOUT, api_secret=config["JANUS_API_SECRET"])
    janus.required = bool(config["JANUS_REQUIRED"])
    return [database, janus]


def _served_ice_servers() -> dict[str, Any]:
    config = current_app.config
    user = "course-" + secrets.token_hex(4)
    return ice_servers(config["STUN_URLS"], config["TURN_URLS"], config["TURN_SECRET"], config["TURN_TTL"], user)


@api_blp.route("/health")
@api_blp.response(200, schemas.HealthSchema)
def health():
    """Liveness: the process serves requests."""
    return {"status": "ok"}


@api_blp.route("/ready")
@api_blp.response(200, schemas.ReadySchema)
@api_blp.alt_response(503, schema=schemas.ReadySchema, description="A required dependency is down")
def ready():
    """Readiness: database and Janus status; 503 while a required one is down."""
    checks = _readiness_checks()
    is_ready = service.all_passed(checks)

    body = {"status": "ready" if is_ready else "not_ready", "checks": [_present(check) for check in checks]}
    return body, (200 if is_ready else 503)


@api_blp.route("/api/v1/ice-servers")
@api_blp.response(200, schemas.IceServersSchema)
def get_ice_servers():
    """ICE servers for RTCPeerConnection, with TURN credentials valid for `ttl` seconds."""
    return _served_ice_servers()


@api_blp.route("/api/v1/preflight")
@api_blp.response(200, schemas.PreflightSchema)
def preflight():
    """Server-side report: database, Janus, STUN/TURN settings, the server's own STUN/TURN view and clock.

    The STUN bindings and TURN allocations run from the server with the credentials it
    serves, so a TURN_SECRET that differs from coturn's shows up here as turn_unauthorized.
    """
    config = current_app.config
    checks = _readiness_checks()
    checks += service.check_ice_settings(config["STUN_URLS"], config["TURN_URLS"], config["TURN_SECRET"])

    served = _served_ice_servers()
    turn_entry = next((entry for entry in served["iceServers"] if "credential" in entry), None)
    checks += service.probe_ice_servers(
        config["STUN_URLS"],
        config["TURN_URLS"] if turn_entry else [],
        turn_entry["username"] if turn_entry else "",
        turn_entry["credential"] if turn_entry else "",
        timeout=PREFLIGHT_PROBE_TIMEOUT,
    )

    return {
        "status": "ok" if service.all_passed(checks) else "failed",
        "serverTime": datetime.now(timezone.utc).isoformat().replace("+00:00", "Z"),
        "checks": [_present(check) for check in checks],
    }


@pages_blp.route("/preflight")
def preflight_page():
    """Browser preflight: backend reachability, camera/microphone permission and ICE gathering per server."""
    locale = str(get_locale() or current_app.config["DEFAULT_LOCALE"])
    return render_template("preflight.html", lang=locale, page_strings=_page_strings())


def _page_strings() -> dict[str, str]:
    """Texts the page's script shows, translated here so the script needs no catalog."""
    return {
        "ok": gettext("OK"),
        "warn": gettext("WARN"),
        "fail": gettext("FAIL"),
        "skip": gettext("SKIP"),
        "running": gettext("Running…"),
        "backendOk": gettext("The backend answers at %(url)s (%(ms)s ms)."),
        "backendFailed": gettext("The backend does not answer at %(url)s: %(error)s."),
        "iceServersOk": gettext("%(count)s ICE server entries received."),
        "iceServersFailed": gettext("Could not load the ICE servers: %(error)s."),
        "mediaOk": gettext("Permission granted: %(tracks)s."),
        "mediaDenied": gettext("Permission denied. Allow camera and microphone for this site in the browser and reload the page."),
        "mediaNotFound": gettext("No camera or microphone found. Connect one and reload the page."),
        "mediaBusy": gettext("The camera or microphone is in use by another application. Close it and reload the page."),
        "mediaInsecure": gettext("This page is not a secure context, so the browser hides the camera. Open it over HTTPS (or on localhost)."),
        "mediaFailed": gettext("The camera or microphone failed: %(error)s."),
        "noServer": gettext("No ICE server (host candidates only)"),
        "candidatesFound": gettext("%(host)s host, %(srflx)s srflx, %(relay)s relay candidates."),
        "expectedRelay": gettext("No relay candidate: the TURN server did not allocate. Check its address, port, transport and credentials (run the check CLI for the reason)."),
        "expectedSrflx": gettext("No srflx candidate: the STUN server did not answer (UDP blocked?), or this computer has a public address, so its srflx candidate equals a host one."),
        "expectedHost": gettext("No host candidate: the browser found no network interface."),
        "iceFailed": gettext("ICE gathering failed: %(error)s."),
        "iceErrors": gettext("Errors reported by the browser: %(errors)s."),
        "skipped": gettext("Skipped because the backend did not answer."),
        "done": gettext("Done: %(failed)s of %(total)s checks failed."),
    }
