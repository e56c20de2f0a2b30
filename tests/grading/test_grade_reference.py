"""The reference server scores 100 % in every module, started by the test or by `make run`.

Grading modules 2 and 3 publishes and watches real media, so these tests run only inside
the hermetic network namespace (scripts/hermetic-run), with a real Janus and coturn.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.grading.conftest import ADMIN_TOKEN, REPO, GradeRun, ServerProcess, server_environment
from tests.services.availability import free_port, require_binary, require_hermetic_netns

pytestmark = [pytest.mark.media, pytest.mark.janus, pytest.mark.coturn]

LAST_MODULE = 3


def assert_full_marks(result: GradeRun, server: ServerProcess) -> None:
    """Check that a JSON grading of modules 0..3 passed every check, with every module scored."""
    document = result.document()
    failures = [f"{check['id']} {check['outcome']}: {check['reason']}" for check in document["checks"] if check["outcome"] != "passed"]
    assert failures == [], server.log_tail(80)
    assert result.exit_code == 0, result.stderr
    assert document["passed"] is True
    assert document["module"] == LAST_MODULE
    assert document["baseUrl"] == server.url
    assert [score["module"] for score in document["scores"]] == list(range(LAST_MODULE + 1))
    for score in document["scores"]:
        assert score["required"] > 0, score
        assert score["passed"] == score["required"], score
        assert score["percent"] == 100.0
    assert document["total"]["percent"] == 100.0
    assert {check["module"] for check in document["checks"]} == set(range(LAST_MODULE + 1))


def grader_environment(settings: dict[str, Any]) -> dict[str, str]:
    """Return the grader's view of the server's secrets."""
    return {"COURSE_ADMIN_TOKEN": ADMIN_TOKEN, "COURSE_TURN_SECRET": str(settings["TURN_SECRET"])}


def test_gunicorn_reference_scores_100(run_grade, server_process, tmp_path: Path, janus_server, coturn) -> None:
    """The complete server under gunicorn.conf.py, with the test Janus and coturn, grades 100 % in every module."""
    require_hermetic_netns()
    port = free_port()
    settings = {"JANUS_URL": janus_server.url, **coturn.app_settings()}
    env = server_environment(tmp_path, {**settings, "BIND": f"127.0.0.1:{port}"})
    command = [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "--no-control-socket"]
    server = server_process(command, env, f"http://127.0.0.1:{port}")

    result = run_grade("--module", str(LAST_MODULE), "--base-url", server.url, "--json", environ=grader_environment(settings))

    assert_full_marks(result, server)


def test_make_run_scores_100(run_grade, server_process, tmp_path: Path, coturn) -> None:
    """`make run` with its own Janus (scripts/janus-local) on free ports grades 100 % in every module."""
    require_hermetic_netns()
    require_binary("janus", "janus")
    require_binary("make", "make")
    port, janus_port = free_port(), free_port()
    settings = {
        **coturn.app_settings(),
        "PORT": str(port),
        "JANUS_HTTP_PORT": str(janus_port),
        "JANUS_RUN_DIR": str(tmp_path / "janus-run"),
        "JANUS_URL": f"http://127.0.0.1:{janus_port}/janus",
    }
    env = server_environment(tmp_path, settings)
    try:
        server = server_process(["make", "run"], env, f"http://127.0.0.1:{port}")

        result = run_grade("--module", str(LAST_MODULE), "--base-url", server.url, "--json", environ=grader_environment(settings))
    finally:
        # janus-local starts Janus in its own session, so stopping `make run` leaves it running.
        subprocess.run([str(REPO / "scripts" / "janus-local"), "stop"], cwd=REPO, env=env, capture_output=True, timeout=60, check=False)

    assert_full_marks(result, server)
