"""GET /health and GET /ready: liveness, and readiness with one entry per dependency."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from babel.support import Translations

from common.db import db
from module0_preflight import messages
from module0_preflight.check import TRANSLATIONS_DIR
from tests.module0_preflight.conftest import JANUS_INFO
from tests.services.api_client import ApiClient

STATUSES = {"ok", "warn", "fail", "skip"}


@pytest.mark.grade(module=0, es="GET /health responde 200 con {\"status\": \"ok\"}")
def test_health_ok(api: ApiClient) -> None:
    """GET /health returns 200 with {"status": "ok"}."""
    response = api.get("/health")

    assert response.status_code == 200
    assert response.content_type.startswith("application/json")
    assert response.json() == {"status": "ok"}


@pytest.mark.grade(module=0, es="GET /ready lista base de datos y Janus con estado, código y detalle")
def test_ready_lists_database_and_janus(api: ApiClient) -> None:
    """GET /ready lists the database and Janus with status, code and detail."""
    response = api.get("/ready")
    body = response.json()

    assert response.status_code in (200, 503)
    assert body["status"] == ("ready" if response.status_code == 200 else "not_ready")
    assert [check["name"] for check in body["checks"]] == ["database", "janus"]
    for check in body["checks"]:
        assert check["status"] in STATUSES
        assert check["ok"] == (check["status"] == "ok")
        assert check["code"]
        assert check["detail"]
        assert isinstance(check["data"], dict)


@pytest.mark.grade(module=0, es="GET /ready da causa y siguiente paso de cada fallo o aviso")
def test_ready_names_problem_cause_and_next_step(api: ApiClient) -> None:
    """GET /ready gives a cause and a next step for each failure or warning."""
    body = api.get("/ready").json()

    for check in body["checks"]:
        if check["status"] in ("fail", "warn"):
            assert check["cause"]
            assert check["nextStep"]
        else:
            assert "cause" not in check


# (server at JANUS_URL, JANUS_REQUIRED, status, janus status, janus code)
JANUS_ROWS = [
    ("nothing", True, 503, "fail", "janus_unreachable"),
    ("nothing", False, 200, "fail", "janus_unreachable"),
    ("janus", True, 200, "ok", "janus_ok"),
    ("janus without videoroom", True, 503, "fail", "janus_no_videoroom"),
    ("janus rejecting", True, 503, "fail", "janus_rejected"),
    ("not json", True, 503, "fail", "janus_not_json"),
]


@pytest.mark.parametrize(("janus", "required", "status", "janus_status", "janus_code"), JANUS_ROWS)
def test_ready_follows_janus(make_app, janus_info_stub, tmp_path: Path, janus: str, required: bool, status: int, janus_status: str, janus_code: str) -> None:
    replies = {
        "janus": JANUS_INFO,
        "janus without videoroom": {**JANUS_INFO, "plugins": {"janus.plugin.echotest": {}}},
        "janus rejecting": {"janus": "error", "error": {"code": 403, "reason": "Unauthorized request (wrong or missing secret/token)"}},
        "not json": ["a list, not an object"],
    }
    janus_url = janus_info_stub(replies[janus]) if janus in replies else "http://127.0.0.1:9/janus"
    api = ApiClient(app=make_app(JANUS_URL=janus_url, JANUS_REQUIRED=required))

    response = api.get("/ready")
    checks = {check["name"]: check for check in response.json()["checks"]}

    assert response.status_code == status
    assert checks["database"]["code"] == "database_ok"
    assert checks["janus"]["status"] == janus_status
    assert checks["janus"]["code"] == janus_code
    assert checks["janus"]["required"] is required


def test_ready_database_down_is_503(make_app, janus_info_stub, app_config: dict) -> None:
    app = make_app(JANUS_URL=janus_info_stub(JANUS_INFO))
    database_path = Path(app_config["DATABASE_URL"].removeprefix("sqlite:///"))
    # Put a directory where the SQLite file was, so every new connection fails to open it.
    with app.app_context():
        db.engine.dispose()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{database_path}{suffix}").unlink(missing_ok=True)
    database_path.mkdir()

    response = ApiClient(app=app).get("/ready")
    checks = {check["name"]: check for check in response.json()["checks"]}

    assert response.status_code == 503
    assert response.json()["status"] == "not_ready"
    assert checks["database"]["status"] == "fail"
    assert checks["database"]["code"] == "database_unreachable"
    assert checks["janus"]["code"] == "janus_ok"
    shutil.rmtree(database_path)


@pytest.mark.janus
def test_ready_with_real_janus(make_app, request: pytest.FixtureRequest) -> None:
    janus = request.getfixturevalue("janus_server")
    api = ApiClient(app=make_app(JANUS_URL=janus.url))

    response = api.get("/ready")
    checks = {check["name"]: check for check in response.json()["checks"]}

    assert response.status_code == 200
    assert response.json()["status"] == "ready"
    assert checks["janus"]["code"] == "janus_ok"
    assert checks["janus"]["data"]["videoroom"] is True
    assert checks["janus"]["data"]["version"]


def test_ready_detail_spanish_by_default(make_app) -> None:
    api = ApiClient(app=make_app())
    spanish = Translations.load(str(TRANSLATIONS_DIR), ["es"], domain="messages")

    default = {check["name"]: check for check in api.get("/ready").json()["checks"]}["janus"]
    english = {check["name"]: check for check in api.get("/ready", headers={"Accept-Language": "en"}).json()["checks"]}["janus"]
    text = messages.TEXTS["janus_unreachable"]

    assert english["detail"] == messages.format_text(text.summary, english["data"])
    assert default["detail"] == messages.format_text(spanish.gettext(text.summary), default["data"])
    assert default["detail"] != english["detail"]
    assert default["cause"] == spanish.gettext(text.cause)
    assert english["nextStep"] == text.next_step


def test_ready_english_by_query(make_app) -> None:
    api = ApiClient(app=make_app())

    by_query = api.get("/ready?lang=en").json()["checks"][1]
    by_header = api.get("/ready", headers={"Accept-Language": "en-GB,en;q=0.8"}).json()["checks"][1]

    assert by_query["detail"] == by_header["detail"]
    assert by_query["detail"] == messages.format_text(messages.TEXTS["janus_unreachable"].summary, by_query["data"])


def test_ready_hides_janus_api_secret(make_app, janus_info_stub) -> None:
    secret = "janus-api-secret-" + os.urandom(4).hex()
    api = ApiClient(app=make_app(JANUS_URL=janus_info_stub(JANUS_INFO), JANUS_API_SECRET=secret))

    response = api.get("/ready")

    assert response.status_code == 200
    assert secret not in response.text
