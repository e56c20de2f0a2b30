"""Module 0 routes: /health, /ready, /api/v1/ice-servers, /api/v1/preflight and the /preflight page."""

from __future__ import annotations

import secrets
from datetime import datetime, timezone

from flask import Blueprint as PageBlueprint
from flask import current_app, render_template
from flask_smorest import Blueprint

from common.db import ping_database
from common.ice import ice_servers
from module0_preflight import schemas, service

api_blp = Blueprint("preflight", __name__, description="Health, readiness and connectivity checks")
pages_blp = PageBlueprint("preflight_pages", __name__, template_folder="templates", static_folder="static", static_url_path="/static/preflight")


def _readiness_checks() -> list[service.CheckResult]:
    config = current_app.config
    db_ok, db_detail = ping_database()
    janus = service.check_janus(config["JANUS_URL"], timeout=2.0, api_secret=config["JANUS_API_SECRET"])
    janus.required = bool(config["JANUS_REQUIRED"])
    return [service.CheckResult("database", db_ok, db_detail), janus]


@api_blp.route("/health")
@api_blp.response(200, schemas.HealthSchema)
def health():
    """Liveness: the process answers."""
    return {"status": "ok"}


@api_blp.route("/ready")
@api_blp.response(200, schemas.ReadySchema)
@api_blp.alt_response(503, schema=schemas.ReadySchema, description="A required dependency is down")
def ready():
    """Readiness: database and Janus status; 503 while a required one is down."""
    checks = _readiness_checks()
    is_ready = all(check.ok for check in checks if check.required)

    body = {"status": "ready" if is_ready else "not_ready", "checks": [check.to_dict() for check in checks]}
    return body, (200 if is_ready else 503)


@api_blp.route("/api/v1/ice-servers")
@api_blp.response(200, schemas.IceServersSchema)
def get_ice_servers():
    """ICE servers for RTCPeerConnection, with TURN credentials valid for `ttl` seconds."""
    config = current_app.config
    user = "course-" + secrets.token_hex(4)
    return ice_servers(config["STUN_URLS"], config["TURN_URLS"], config["TURN_SECRET"], config["TURN_TTL"], user)


@api_blp.route("/api/v1/preflight")
@api_blp.response(200, schemas.PreflightSchema)
def preflight():
    """Server-side report: database, Janus, STUN/TURN settings and the server clock."""
    config = current_app.config
    checks = _readiness_checks()
    checks += service.check_ice_settings(config["STUN_URLS"], config["TURN_URLS"], config["TURN_SECRET"])
    is_ok = all(check.ok for check in checks if check.required)

    return {
        "status": "ok" if is_ok else "failed",
        "serverTime": datetime.now(timezone.utc).isoformat().replace("+00:00", "Z"),
        "checks": [check.to_dict() for check in checks],
    }


@pages_blp.route("/preflight")
def preflight_page():
    """Browser preflight: camera/microphone permission and ICE gathering per server."""
    return render_template("preflight.html")
