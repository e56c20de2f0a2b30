"""The grader's command line: usage errors, servers it refuses, the output language, reasons and warnings."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.grade import MESSAGES
from tests.grading.conftest import REPO
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


# (body of GET /health, content type)
OTHER_HEALTH_ROWS = [
    ("hola", "text/plain"),
    ('{"status": "down"}', "application/json"),
    ("[]", "application/json"),
]


@pytest.mark.parametrize(("body", "content_type"), OTHER_HEALTH_ROWS)
def test_health_200_without_course_json_refused(run_grade, live_server_factory, body: str, content_type: str) -> None:
    from flask import Flask

    app = Flask("plain_file")
    app.add_url_rule("/health", "health", lambda: (body, 200, {"Content-Type": content_type}))
    server = live_server_factory(app)

    result = run_grade("--module", "0", "--base-url", server.url)

    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.strip() == f'{server.url}/health respondió 200 pero no con el JSON {{"status": "ok"}} del curso; ¿es el servidor del curso?'


# (arguments, exit code, start of the last stderr line)
USAGE_ROWS = [
    (["--module", "9"], 2, "python -m tests.grade: error: --module debe estar entre 0 y 3, no 9"),
    (["--module", "-1"], 2, "python -m tests.grade: error: --module debe estar entre 0 y 3, no -1"),
    (["--module", "1", "--base-url", "ftp://example.org"], 2, "python -m tests.grade: error: --base-url debe ser una URL http:// o https:// con host"),
    (["--module", "1", "--base-url", "127.0.0.1:5000"], 2, "python -m tests.grade: error: --base-url debe ser una URL http:// o https:// con host"),
    (["--module", "1", "--lang", "en", "--base-url", "nope"], 2, "python -m tests.grade: error: --base-url must be an http:// or https:// URL with a host"),
    (["--module", "0", "--json", "/nonexistent-folder/ana.json"], 2,
     "python -m tests.grade: error: --json: no se puede escribir en /nonexistent-folder/ana.json: No such file or directory"),
    (["--module", "0", "--json", "/"], 2, "python -m tests.grade: error: --json: no se puede escribir en /: Is a directory"),
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


# (language option, warning line)
TURN_WARNING_ROWS = [
    ([], "Aviso: sin secreto TURN se omiten las comprobaciones que lo necesitan; pásalo con --turn-secret o COURSE_TURN_SECRET."),
    (["--lang", "en"], "Warning: without the TURN secret the checks that need it are skipped; give it with --turn-secret or COURSE_TURN_SECRET."),
]


@pytest.mark.parametrize(("arguments", "warning"), TURN_WARNING_ROWS)
def test_missing_turn_secret_skips_checks(run_grade, live_server_factory, app_config: dict, arguments: list[str], warning: str) -> None:
    from module0_preflight import create_app
    from tests.module0_preflight.conftest import DEFAULT_ICE_SETTINGS

    server = live_server_factory(create_app({**app_config, **DEFAULT_ICE_SETTINGS}))

    result = run_grade("--module", "0", "--base-url", server.url, *arguments)

    lines = result.stdout.splitlines()
    skipped = [line for line in lines if " omitida " in line or " skipped " in line]
    assert result.exit_code == 1
    assert len(skipped) == 3
    assert lines.count(warning) == 1
    assert lines.index(warning) < min(lines.index(line) for line in skipped)
    assert not any("Aviso" in line or "Warning" in line for line in lines if line != warning)
    sentence = MESSAGES["en" if arguments else "es"]["skip_codes"]["needs_turn_secret"]
    for line in skipped:
        assert line.endswith(sentence)


def test_json_skip_reasons_whole(run_grade, live_server_factory, app_config: dict) -> None:
    from module1_streammeta import create_app
    from tests.module0_preflight.conftest import DEFAULT_ICE_SETTINGS

    server = live_server_factory(create_app({**app_config, **DEFAULT_ICE_SETTINGS}))

    result = run_grade("--module", "1", "--base-url", server.url, "--json")

    reasons = {check["reason"] for check in result.document()["checks"] if check["outcome"] == "skipped"}
    assert reasons == {MESSAGES["es"]["skip_codes"]["needs_turn_secret"], MESSAGES["es"]["skip_codes"]["needs_admin_token"]}
    assert result.stderr.splitlines() == [MESSAGES["es"]["warn_admin_token"], MESSAGES["es"]["warn_turn_secret"]]


def test_wrong_secrets_get_hints(run_grade, live_server_factory, app_config: dict) -> None:
    from module1_streammeta import create_app
    from tests.module0_preflight.conftest import DEFAULT_ICE_SETTINGS

    server = live_server_factory(create_app({**app_config, **DEFAULT_ICE_SETTINGS}))
    environ = {"COURSE_ADMIN_TOKEN": "not-the-admin-token", "COURSE_TURN_SECRET": "not-the-turn-secret"}

    result = run_grade("--module", "1", "--base-url", server.url, "--json", environ=environ)

    failed = {check["id"]: check["reason"] for check in result.document()["checks"] if check["outcome"] == "failed"}
    assert failed["m0.turn_credential_is_hmac_of_username"].startswith(MESSAGES["es"]["hint_turn_secret"] + "; no se cumple lo esperado: ")
    admin_failures = [reason for check, reason in failed.items() if check.startswith("m1.")]
    assert admin_failures
    assert all(reason.startswith(MESSAGES["es"]["hint_admin_token"] + "; ") for reason in admin_failures), admin_failures
    assert "not-the-admin-token" not in result.stdout
    assert "not-the-turn-secret" not in result.stdout


def test_server_without_turn_entry_says_so(run_grade, live_server_factory, app_config: dict) -> None:
    from module0_preflight import create_app
    from tests.module0_preflight.conftest import DEFAULT_ICE_SETTINGS

    server = live_server_factory(create_app({**app_config, **DEFAULT_ICE_SETTINGS, "TURN_URLS": []}))

    result = run_grade("--module", "0", "--base-url", server.url, "--json", environ={"COURSE_TURN_SECRET": DEFAULT_ICE_SETTINGS["TURN_SECRET"]})

    reasons = {check["id"]: check["reason"] for check in result.document()["checks"]}
    assert reasons["m0.turn_usernames_differ_per_request"].startswith("no se cumple lo esperado: the server serves no TURN entry; configure TURN_URLS and TURN_SECRET")


def test_json_folder_missing_is_refused_before_grading(run_grade, tmp_path) -> None:
    path = tmp_path / "grades" / "ana.json"

    result = run_grade("--module", "0", "--json", str(path))

    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.strip().splitlines()[-1] == f"python -m tests.grade: error: --json: no se puede escribir en {path}: No such file or directory"
    assert not path.parent.exists()


# (language option, words of the help about the default language)
HELP_ROWS = [
    ([], "por defecto, el de LC_ALL, LC_MESSAGES o LANG, la primera que esté definida"),
    (["--lang", "en"], "default: from LC_ALL, LC_MESSAGES or LANG, the first one set"),
]


@pytest.mark.parametrize(("arguments", "words"), HELP_ROWS)
def test_help_names_language_variables(run_grade, arguments: list[str], words: str) -> None:
    result = run_grade("--help", *arguments)

    assert result.exit_code == 0
    assert words in " ".join(result.stdout.split())


def test_closed_pipe_no_traceback() -> None:
    # The reader closes the pipe at once, as `python -m tests.grade ... | head -0` would.
    process = subprocess.Popen([sys.executable, "-m", "tests.grade", "--module", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO)
    process.stdout.close()
    _, error = process.communicate(timeout=300)

    assert b"Traceback" not in error
    assert b"BrokenPipeError" not in error
    assert process.returncode == 1
