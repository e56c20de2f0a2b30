"""The grader's command line: usage errors, an unreachable server, and the output language."""

from __future__ import annotations

import pytest

from tests.services.availability import free_port


def test_unreachable_server_one_line(run_grade) -> None:
    url = f"http://127.0.0.1:{free_port()}"

    result = run_grade("--module", "1", "--base-url", url)

    assert result.exit_code == 1
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    assert result.stderr.splitlines() == [result.stderr.strip()]
    assert result.stderr.startswith(f"No se puede conectar con {url}: ConnectionError")


def test_unreachable_server_in_english(run_grade) -> None:
    url = f"http://127.0.0.1:{free_port()}"

    result = run_grade("--module", "0", "--base-url", url, "--lang", "en")

    assert result.exit_code == 1
    assert result.stderr.startswith(f"Cannot connect to {url}: ")


def test_not_the_course_server(run_grade, live_server_factory) -> None:
    from flask import Flask

    server = live_server_factory(Flask("not_the_backend"))

    result = run_grade("--module", "0", "--base-url", server.url)

    assert result.exit_code == 1
    assert result.stderr.strip() == f"{server.url}/health respondió 404 en lugar de 200; ¿es el servidor del curso?"


# (arguments, exit code, start of the last stderr line)
USAGE_ROWS = [
    (["--module", "9"], 2, "--module debe estar entre 0 y 3, no 9"),
    (["--module", "-1"], 2, "--module debe estar entre 0 y 3, no -1"),
    (["--module", "1", "--base-url", "ftp://example.org"], 2, "--base-url debe ser una URL http:// o https:// con host"),
    (["--module", "1", "--base-url", "127.0.0.1:5000"], 2, "--base-url debe ser una URL http:// o https:// con host"),
    (["--module", "1", "--lang", "en", "--base-url", "nope"], 2, "--base-url must be an http:// or https:// URL with a host"),
    (["--module", "x"], 2, "python -m tests.grade: error:"),
    ([], 2, "python -m tests.grade: error:"),
]


@pytest.mark.parametrize(("arguments", "exit_code", "message"), USAGE_ROWS)
def test_usage_errors_exit_2(run_grade, arguments: list[str], exit_code: int, message: str) -> None:
    result = run_grade(*arguments)

    assert result.exit_code == exit_code
    assert result.stdout == ""
    assert result.stderr.strip().splitlines()[-1].startswith(message), result.stderr


# (arguments, environment, words that must appear, words that must not)
LANGUAGE_ROWS = [
    ([], {}, ["Calificación del módulo 0", "pasó", "obligatorias (100 %)", "Comprobación"], ["passed", "Check"]),
    (["--lang", "en"], {"LANG": "es_ES.UTF-8"}, ["Grading module 0", "passed", "required (100 %)", "GET /health returns 200"], ["pasó"]),
    ([], {"LANG": "en_US.UTF-8"}, ["Grading module 0", "passed", "Result: every required check passed."], ["pasó"]),
    (["--lang", "es"], {"LC_ALL": "en_US.UTF-8"}, ["Calificación del módulo 0", "GET /health responde 200"], ["passed"]),
]


@pytest.mark.parametrize(("arguments", "environ", "present", "absent"), LANGUAGE_ROWS)
def test_output_language(run_grade, arguments: list[str], environ: dict, present: list[str], absent: list[str]) -> None:
    result = run_grade("--module", "0", *arguments, environ=environ)

    assert result.exit_code == 0, result.stdout + result.stderr
    for word in present:
        assert word in result.stdout
    for word in absent:
        assert word not in result.stdout


def test_json_to_stdout_in_process(run_grade) -> None:
    result = run_grade("--module", "0", "--json", "--lang", "en")

    document = result.document()
    assert result.exit_code == 0, result.stderr
    assert set(document) == {"module", "baseUrl", "lang", "startedAt", "durationSeconds", "checks", "scores", "total", "passed"}
    assert document["baseUrl"] is None
    assert document["lang"] == "en"
    assert document["passed"] is True
    [score] = document["scores"]
    assert score["module"] == 0
    assert score["passed"] == score["required"] == len(document["checks"])
    assert score["percent"] == 100.0
    assert {check["outcome"] for check in document["checks"]} == {"passed"}
    health = next(check for check in document["checks"] if check["id"] == "m0.health_ok")
    assert health == {"id": "m0.health_ok", "module": 0, "required": True, "outcome": "passed", "description": 'GET /health returns 200 with {"status": "ok"}.', "reason": ""}


def test_missing_turn_secret_skips_checks(run_grade, live_server_factory, app_config: dict) -> None:
    from module0_preflight import create_app
    from tests.module0_preflight.conftest import DEFAULT_ICE_SETTINGS

    server = live_server_factory(create_app({**app_config, **DEFAULT_ICE_SETTINGS}))

    result = run_grade("--module", "0", "--base-url", server.url)

    skipped = [line for line in result.stdout.splitlines() if " omitida " in line]
    assert result.exit_code == 1
    assert len(skipped) == 3
    for line in skipped:
        assert "Falta el secreto TURN: pásalo con --turn-secret o COURSE_TURN_SECRET." in line
    assert "Resultado: hay comprobaciones obligatorias que no pasaron." in result.stdout


def test_json_file_not_writable(run_grade, tmp_path) -> None:
    path = tmp_path / "missing-folder" / "grade.json"

    result = run_grade("--module", "0", "--json", str(path))

    assert result.exit_code == 1
    assert result.stderr.strip() == f"No se pudo escribir el JSON en {path}: No such file or directory"
