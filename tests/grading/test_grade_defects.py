"""A server with one deliberate defect loses exactly the checks that cover it."""

from __future__ import annotations

from typing import Any, Callable

import pytest
from flask import Flask

from common.db import db
from module1_streammeta import create_app
from tests.module0_preflight.conftest import DEFAULT_ICE_SETTINGS


def answer_404(path: str) -> Callable[[Flask], None]:
    """Return a defect that makes ``path`` return the app's own 404, as if the route were missing."""

    def apply(app: Flask) -> None:
        wsgi_app = app.wsgi_app

        def without_route(environ: dict[str, Any], start_response: Any) -> Any:
            if environ.get("PATH_INFO") == path:
                environ = {**environ, "PATH_INFO": path + "-removed"}
            return wsgi_app(environ, start_response)

        app.wsgi_app = without_route

    return apply


def no_defect(app: Flask) -> None:
    pass


# (defect in the code, settings switch, check ids that must fail and no others)
DEFECT_ROWS = [
    pytest.param(
        answer_404("/api/v1/preflight"), {},
        # preflight_never_contains_turn_secret still passes: a 404 contains no secret either.
        {"m0.preflight_report_shape", "m0.preflight_status_follows_required_checks", "m0.preflight_server_time_is_current_utc"},
        id="preflight-route-missing",
    ),
    pytest.param(
        no_defect, {"TURN_URLS": []},
        {"m0.ice_servers_turn_entry_has_credentials", "m0.turn_usernames_differ_per_request"},
        id="turn-not-configured",
    ),
    pytest.param(
        answer_404("/api/openapi.json"), {},
        {"m1.openapi_lists_stream_routes"},
        id="openapi-missing",
    ),
]


@pytest.mark.parametrize(("defect", "settings", "expected_failures"), DEFECT_ROWS)
def test_defect_fails_matching_checks(run_grade, live_server_factory, app_config: dict, defect, settings: dict, expected_failures: set[str]) -> None:
    app = create_app({**app_config, **DEFAULT_ICE_SETTINGS, **settings})
    defect(app)
    server = live_server_factory(app)
    environ = {"COURSE_ADMIN_TOKEN": app_config["ADMIN_TOKEN"], "COURSE_TURN_SECRET": DEFAULT_ICE_SETTINGS["TURN_SECRET"]}

    result = run_grade("--module", "1", "--base-url", server.url, "--json", environ=environ)
    with app.app_context():
        db.engine.dispose()

    outcomes = result.outcomes()
    assert result.exit_code == 1, result.stderr
    assert {check for check, outcome in outcomes.items() if outcome == "failed"} == expected_failures
    assert {outcome for check, outcome in outcomes.items() if check not in expected_failures} == {"passed"}
    assert result.document()["passed"] is False


def test_reference_module1_scores_100(run_grade, live_server_factory, app_config: dict) -> None:
    """The control case: the same app without a defect passes every check of modules 0 and 1."""
    app = create_app({**app_config, **DEFAULT_ICE_SETTINGS})
    server = live_server_factory(app)
    environ = {"COURSE_ADMIN_TOKEN": app_config["ADMIN_TOKEN"], "COURSE_TURN_SECRET": DEFAULT_ICE_SETTINGS["TURN_SECRET"]}

    result = run_grade("--module", "1", "--base-url", server.url, "--json", environ=environ)
    with app.app_context():
        db.engine.dispose()

    document = result.document()
    assert result.exit_code == 0, result.stderr
    assert document["passed"] is True
    assert [score["percent"] for score in document["scores"]] == [100.0, 100.0]
    assert set(result.outcomes().values()) == {"passed"}
