"""GET /api/v1/preflight: the server-side report, including the server's own STUN/TURN view."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from tests.module0_preflight.conftest import JANUS_INFO
from tests.services.api_client import ApiClient
from tests.services.coturn import Coturn

STATUSES = {"ok", "warn", "fail", "skip"}


def _checks_by_code(body: dict) -> dict[str, list[dict]]:
    found: dict[str, list[dict]] = {}
    for check in body["checks"]:
        found.setdefault(check["code"], []).append(check)
    return found


@pytest.mark.grade(module=0, es="GET /api/v1/preflight informa de base de datos, Janus, STUN y TURN")
def test_preflight_report_shape(api: ApiClient) -> None:
    """GET /api/v1/preflight reports the database, Janus, STUN and TURN."""
    response = api.get("/api/v1/preflight")
    body = response.json()

    assert response.status_code == 200
    assert body["status"] in ("ok", "failed")
    assert {"database", "janus", "stun_configured", "turn_configured"} <= {check["name"] for check in body["checks"]}
    for check in body["checks"]:
        assert check["status"] in STATUSES
        assert check["code"]
        assert check["detail"]
        if check["status"] in ("fail", "warn"):
            assert check["cause"]
            assert check["nextStep"]


@pytest.mark.grade(module=0, es="El preflight da failed solo si falla una comprobación obligatoria")
def test_preflight_status_follows_required_checks(api: ApiClient) -> None:
    """The preflight status is failed only when a required check fails."""
    body = api.get("/api/v1/preflight").json()

    required_failed = any(check["required"] and check["status"] == "fail" for check in body["checks"])
    assert body["status"] == ("failed" if required_failed else "ok")


@pytest.mark.grade(module=0, es="serverTime del preflight es la hora UTC actual")
def test_preflight_server_time_is_current_utc(api: ApiClient) -> None:
    """The preflight serverTime is the current UTC time."""
    body = api.get("/api/v1/preflight").json()

    server_time = datetime.fromisoformat(body["serverTime"].replace("Z", "+00:00"))
    assert server_time.tzinfo is not None
    assert abs(server_time - datetime.now(timezone.utc)) < timedelta(minutes=5)


@pytest.mark.grade(module=0, es="GET /api/v1/preflight no contiene nunca el secreto TURN")
def test_preflight_never_contains_turn_secret(api: ApiClient, turn_secret: str) -> None:
    """GET /api/v1/preflight never contains the TURN secret."""
    response = api.get("/api/v1/preflight")

    assert turn_secret not in response.text


@pytest.mark.coturn
def test_preflight_allocates_on_own_coturn(make_app, coturn: Coturn, janus_info_stub) -> None:
    api = ApiClient(app=make_app(JANUS_URL=janus_info_stub(JANUS_INFO), **coturn.app_settings()))

    body = api.get("/api/v1/preflight").json()
    codes = _checks_by_code(body)

    assert body["status"] == "ok"
    assert [check["data"]["url"] for check in codes["stun_ok"]] == [coturn.stun_url]
    assert sorted(check["data"]["transport"] for check in codes["turn_ok"]) == ["tcp", "udp"]
    for check in codes["turn_ok"]:
        assert check["data"]["relayed"].startswith(coturn.relay_ip + ":")
    assert coturn.secret not in str(body)


@pytest.mark.coturn
def test_preflight_reports_wrong_turn_secret(make_app, coturn: Coturn, janus_info_stub) -> None:
    settings = {**coturn.app_settings(), "TURN_SECRET": "not-the-coturn-secret"}
    api = ApiClient(app=make_app(JANUS_URL=janus_info_stub(JANUS_INFO), **settings))

    body = api.get("/api/v1/preflight").json()
    turn_checks = [check for check in body["checks"] if check["name"] == "turn"]

    assert len(turn_checks) == 2
    for check in turn_checks:
        assert check["status"] == "fail"
        assert check["code"] == "turn_unauthorized"
        assert check["required"] is False
        assert check["cause"]
    # TURN is the server's own view, so it does not fail the report.
    assert body["status"] == "ok"


# (settings, name, status, code)
SETTINGS_ROWS = [
    ({"STUN_URLS": [], "TURN_URLS": [], "TURN_SECRET": ""}, "stun_configured", "warn", "stun_not_configured"),
    ({"STUN_URLS": [], "TURN_URLS": [], "TURN_SECRET": ""}, "turn_configured", "warn", "turn_not_configured"),
    ({"STUN_URLS": [], "TURN_URLS": ["turn:127.0.0.1:9?transport=tcp"], "TURN_SECRET": ""}, "turn_configured", "fail", "turn_secret_missing"),
    ({"STUN_URLS": ["stun:127.0.0.1:9"], "TURN_URLS": [], "TURN_SECRET": ""}, "stun", "fail", "stun_refused"),
    ({"STUN_URLS": ["stun:127.0.0.1:9:9"], "TURN_URLS": [], "TURN_SECRET": ""}, "stun_configured", "fail", "ice_url_invalid"),
    ({"STUN_URLS": [], "TURN_URLS": ["turn:127.0.0.1:9?transport=tcp"], "TURN_SECRET": "s"}, "turn", "fail", "tcp_refused"),
    ({"STUN_URLS": [], "TURN_URLS": ["turn:127.0.0.1:9?transport=sctp"], "TURN_SECRET": "s"}, "turn_configured", "fail", "ice_url_invalid"),
]


@pytest.mark.parametrize(("settings", "name", "status", "code"), SETTINGS_ROWS)
def test_preflight_reports_settings(make_app, janus_info_stub, settings: dict, name: str, status: str, code: str) -> None:
    api = ApiClient(app=make_app(JANUS_URL=janus_info_stub(JANUS_INFO), **settings))

    body = api.get("/api/v1/preflight").json()
    matching = [check for check in body["checks"] if check["name"] == name and check["code"] == code]

    assert len(matching) == 1, body["checks"]
    assert matching[0]["status"] == status
    assert matching[0]["required"] is False
    assert body["status"] == "ok"
