"""Grade a server module by module: run the graded module tests against it and score them.

    python -m tests.grade --module N [--base-url URL] [--admin-token T] [--turn-secret S]
                          [--json [FILE]] [--lang es|en]

The checks are the tests marked ``@pytest.mark.grade`` in tests/module0_preflight up to
tests/module<N>_*. With --base-url they run against that server over HTTP, WebSocket and
WebRTC. Without it they run against this repository's code in-process, as `make test` does,
so a student can grade a module before deploying it. The output is a table of checks, a
score per module and overall, and optionally a JSON document. Exit status: 0 when every
required check of modules 0..N passed, 1 when one did not (or the server is unreachable),
2 for a usage error.
"""

from __future__ import annotations

import contextlib
import errno
import io
import json
import os
import re
import sys
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping, TextIO

import pytest
import requests

from common.cli import LANGUAGES, LocalizedArgumentParser, language_in_argv, pick_language
from tests.grading.marker import check_id, english_description, grade_marker

REPO = Path(__file__).resolve().parent.parent
TESTS = REPO / "tests"
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
HEALTH_TIMEOUT = 10.0
# The table shortens longer descriptions and reasons and ends them with "…"; check ids and the
# JSON document are never shortened.
DESCRIPTION_WIDTH = 50
REASON_WIDTH = 90
ELLIPSIS = "…"
ADMIN_TOKEN_VARIABLE = "COURSE_ADMIN_TOKEN"
TURN_SECRET_VARIABLE = "COURSE_TURN_SECRET"
# A skip the grader explains starts with its code in brackets: "[needs_admin_token] detail".
# (skip code, warning key): a run with a check skipped for that code prints the warning above the table.
WARNINGS = [("needs_admin_token", "warn_admin_token"), ("needs_turn_secret", "warn_turn_secret")]
SKIP_CODE = re.compile(r"^\[(?P<code>[a-z_]+)\]\s*(?P<detail>.*)$", re.DOTALL)
# Skip codes whose localized sentence is complete. The others keep the test's detail after the sentence.
SELF_EXPLAINED_SKIPS = {"needs_admin_token", "needs_turn_secret"}
# A failure's first line is "<exception type>: <detail>"; the type may be qualified (requests.exceptions.X).
FAILURE_LINE = re.compile(r"^(?P<type>[A-Za-z_][\w.]*(?:Error|Exception|Timeout|timeout)): ?(?P<detail>.*)$", re.DOTALL)
# (exception class names, message key): the first row naming the failure's class gives its sentence.
FAILURE_KINDS = [
    (("ConnectTimeout", "ReadTimeout", "Timeout", "TimeoutError", "timeout", "WebSocketTimeoutException"), "failure_timeout"),
    (("ConnectionError", "ConnectionRefusedError", "ConnectionResetError", "ConnectionAbortedError",
      "RemoteDisconnected", "WebSocketConnectionClosedException", "WebSocketBadStatusException"), "failure_connection"),
    (("JSONDecodeError",), "failure_not_json"),
    (("AssertionError",), "failure_assertion"),
]
# A detail that starts like an HTML page, because the server returned HTML where the check expected JSON.
HTML_START = re.compile(r"^\s*(?:assert\s+)?(?:[\w.]+\()?['\"]?\s*<(?:!doctype|html)", re.IGNORECASE)
# The operating system's reason inside a connection error: "[Errno 111] Connection refused".
ERRNO_TEXT = re.compile(r"\[Errno -?\d+\] [^'\")]+")
# urllib3's prefix naming the connection pool, which repeats the URL the check already names.
POOL_PREFIX = re.compile(r"^\w*ConnectionPool\([^)]*\): ")
# (fixtures of the check, check ids, pattern its failure must match, hint key): a failure of a check
# that used the server's secret, with the response a wrong secret gets, gets the hint.
HINT_ROWS = [
    ({"admin_token", "admin"}, None, re.compile(r"\b40[13]\b"), "hint_admin_token"),
    (None, {"m0.turn_credential_is_hmac_of_username"}, re.compile(r"^AssertionError"), "hint_turn_secret"),
]

MESSAGES = {
    "es": {
        "description": "Califica un servidor del curso: ejecuta las comprobaciones de los módulos 0 a N contra él.",
        "help_module": "Último módulo que se califica (0 a 3); se incluyen los anteriores",
        "help_base_url": "URL del servidor, p. ej. https://alumno.example.org; sin ella se califica el código de este repositorio en proceso",
        "help_admin_token": f"ADMIN_TOKEN del servidor (por defecto, la variable {ADMIN_TOKEN_VARIABLE})",
        "help_turn_secret": f"TURN_SECRET del servidor, para comprobar las credenciales TURN (por defecto, {TURN_SECRET_VARIABLE})",
        "help_json": "Escribe el resultado en JSON en FILE; sin FILE, lo escribe en la salida en lugar de la tabla",
        "help_lang": "Idioma de la salida (por defecto, el de LC_ALL, LC_MESSAGES o LANG, la primera que esté definida; si no, es)",
        "bad_module": "--module debe estar entre 0 y {last}, no {module}",
        "bad_url": "--base-url debe ser una URL http:// o https:// con host, no {url}",
        "json_not_writable": "--json: no se puede escribir en {path}: {error}",
        "unreachable": "No se puede conectar con {url}: {error}",
        "not_healthy": "{url}/health respondió {status} en lugar de 200; ¿es el servidor del curso?",
        "not_course_health": '{url}/health respondió 200 pero no con el JSON {{"status": "ok"}} del curso; ¿es el servidor del curso?',
        "warn_admin_token": f"Aviso: sin token de instructor se omiten las comprobaciones que lo necesitan; pásalo con --admin-token o {ADMIN_TOKEN_VARIABLE}.",
        "warn_turn_secret": f"Aviso: sin secreto TURN se omiten las comprobaciones que lo necesitan; pásalo con --turn-secret o {TURN_SECRET_VARIABLE}.",
        "failure_timeout": "el servidor no respondió a tiempo",
        "failure_connection": "no se pudo conectar con el servidor",
        "failure_not_json": "la respuesta no es JSON",
        "failure_html": "la respuesta es una página HTML en lugar de JSON",
        "failure_assertion": "no se cumple lo esperado",
        "hint_admin_token": "el servidor rechazó el token de instructor: revisa --admin-token / " + ADMIN_TOKEN_VARIABLE,
        "hint_turn_secret": "las credenciales TURN no están firmadas con el secreto dado: revisa --turn-secret / " + TURN_SECRET_VARIABLE,
        "pytest_failed": "pytest terminó con el código {code} sin ejecutar las comprobaciones; su salida:",
        "no_checks": "No se encontró ninguna comprobación calificable en los módulos 0 a {module}.",
        "json_not_written": "No se pudo escribir el JSON en {path}: {error}",
        "not_run": "No se ejecutó: la ejecución se detuvo antes.",
        "heading": "Calificación del módulo {module}: {target}",
        "in_process": "código de este repositorio, en proceso",
        "columns": ("Módulo", "Comprobación", "Resultado", "Descripción", "Motivo"),
        "passed": "pasó",
        "failed": "falló",
        "skipped": "omitida",
        "optional": " (opcional)",
        "module_score": "Módulo {module}: {passed}/{required} obligatorias ({percent:.0f} %)",
        "total_score": "Total: {passed}/{required} obligatorias ({percent:.0f} %)",
        "verdict_ok": "Resultado: todas las comprobaciones obligatorias pasaron.",
        "verdict_failed": "Resultado: hay comprobaciones obligatorias que no pasaron.",
        "skip_codes": {
            "needs_admin_token": f"Falta el token de instructor: pásalo con --admin-token o {ADMIN_TOKEN_VARIABLE}.",
            "needs_turn_secret": f"Falta el secreto TURN: pásalo con --turn-secret o {TURN_SECRET_VARIABLE}.",
            "media_unreachable": "El par WebRTC del calificador no llega al medio del servidor (UDP a Janus o a su TURN).",
        },
    },
    "en": {
        "description": "Grade a course server: run the checks of modules 0 to N against it.",
        "help_module": "Last module to grade (0 to 3); the earlier ones are included",
        "help_base_url": "URL of the server, e.g. https://student.example.org; without it this repository's code is graded in-process",
        "help_admin_token": f"The server's ADMIN_TOKEN (default: the {ADMIN_TOKEN_VARIABLE} variable)",
        "help_turn_secret": f"The server's TURN_SECRET, to verify TURN credentials (default: {TURN_SECRET_VARIABLE})",
        "help_json": "Write the result as JSON to FILE; without FILE, write it to the output instead of the table",
        "help_lang": "Output language (default: from LC_ALL, LC_MESSAGES or LANG, the first one set; else es)",
        "bad_module": "--module must be between 0 and {last}, not {module}",
        "bad_url": "--base-url must be an http:// or https:// URL with a host, not {url}",
        "json_not_writable": "--json: cannot write to {path}: {error}",
        "unreachable": "Cannot connect to {url}: {error}",
        "not_healthy": "{url}/health returned {status} instead of 200; is it the course server?",
        "not_course_health": '{url}/health returned 200 but not the course\'s {{"status": "ok"}} JSON; is it the course server?',
        "warn_admin_token": f"Warning: without the instructor token the checks that need it are skipped; give it with --admin-token or {ADMIN_TOKEN_VARIABLE}.",
        "warn_turn_secret": f"Warning: without the TURN secret the checks that need it are skipped; give it with --turn-secret or {TURN_SECRET_VARIABLE}.",
        "failure_timeout": "the server did not answer in time",
        "failure_connection": "could not connect to the server",
        "failure_not_json": "the response is not JSON",
        "failure_html": "the response is an HTML page instead of JSON",
        "failure_assertion": "expectation not met",
        "hint_admin_token": "the server refused the instructor token: check --admin-token / " + ADMIN_TOKEN_VARIABLE,
        "hint_turn_secret": "the TURN credentials are not signed with the given secret: check --turn-secret / " + TURN_SECRET_VARIABLE,
        "pytest_failed": "pytest exited with code {code} without running the checks; its output:",
        "no_checks": "No graded check found in modules 0 to {module}.",
        "json_not_written": "Could not write the JSON to {path}: {error}",
        "not_run": "Not run: the run stopped before it.",
        "heading": "Grading module {module}: {target}",
        "in_process": "this repository's code, in-process",
        "columns": ("Module", "Check", "Result", "Description", "Reason"),
        "passed": "passed",
        "failed": "failed",
        "skipped": "skipped",
        "optional": " (optional)",
        "module_score": "Module {module}: {passed}/{required} required ({percent:.0f} %)",
        "total_score": "Total: {passed}/{required} required ({percent:.0f} %)",
        "verdict_ok": "Result: every required check passed.",
        "verdict_failed": "Result: some required checks did not pass.",
        "skip_codes": {
            "needs_admin_token": f"The instructor token is missing: give it with --admin-token or {ADMIN_TOKEN_VARIABLE}.",
            "needs_turn_secret": f"The TURN secret is missing: give it with --turn-secret or {TURN_SECRET_VARIABLE}.",
            "media_unreachable": "The grader's WebRTC peer cannot reach the server's media (UDP to Janus or to its TURN).",
        },
    },
}


@dataclass
class Check:
    """One graded test and its result."""

    id: str
    module: int
    required: bool
    outcome: str
    description: str
    reason: str


def module_folders(last: int) -> list[Path]:
    """Return the test folders of modules 0..last, in order (one per module that exists)."""
    folders = []
    for number in range(last + 1):
        folders.extend(sorted(TESTS.glob(f"module{number}_*")))
    return folders


def last_module() -> int:
    """Return the highest module number that has a test folder."""
    return max(int(re.match(r"module(\d+)_", path.name).group(1)) for path in TESTS.glob("module*_*"))


def first_line(text: str) -> str:
    """Return the first non-blank line of ``text``, whole."""
    return next((line.strip() for line in text.splitlines() if line.strip()), "")


def shorten(text: str, width: int) -> str:
    """Return ``text`` cut to ``width`` characters, ending with "…" when it was cut (table cells only)."""
    return text if len(text) <= width else text[: width - 1].rstrip() + ELLIPSIS


def skip_reason(message: str, text: Mapping[str, Any]) -> tuple[str, str]:
    """Return the skip code of a skip message ("" without one) and its reason in the language of ``text``."""
    match = SKIP_CODE.match(message)
    if match is None:
        return "", first_line(message)
    code, detail = match.group("code"), first_line(match.group("detail"))
    sentence = text["skip_codes"].get(code)
    if sentence is None:
        return code, f"[{code}] {detail}".strip()
    if code in SELF_EXPLAINED_SKIPS or not detail:
        return code, sentence
    return code, f"{sentence} {detail}"


def failure_reason(message: str, text: Mapping[str, Any]) -> str:
    """Return a failure's first line as a localized sentence followed by its technical detail.

    ``message`` is pytest's "<exception type>: <detail>"; an exception FAILURE_KINDS does not
    name keeps its text unchanged.
    """
    line = first_line(message)
    match = FAILURE_LINE.match(line)
    if match is None:
        return line
    name, detail = match.group("type").rsplit(".", 1)[-1], match.group("detail").strip()
    if HTML_START.match(detail):
        return f"{text['failure_html']}: {detail}"
    key = next((key for names, key in FAILURE_KINDS if name in names), None)
    if key is None:
        return line
    if key == "failure_connection":
        errno_text = ERRNO_TEXT.search(detail)
        detail = errno_text.group(0).strip() if errno_text else detail
    detail = POOL_PREFIX.sub("", detail)
    if key != "failure_assertion":
        detail = f"{name}: {detail}" if detail else name
    return f"{text[key]}: {detail}" if detail else text[key]


def failure_hint(check_id: str, fixtures: set[str], message: str, text: Mapping[str, Any]) -> str:
    """Return the hint of the first HINT_ROWS row that matches a failed check, or ""."""
    for row_fixtures, row_ids, pattern, key in HINT_ROWS:
        if row_fixtures is not None and not row_fixtures & fixtures:
            continue
        if row_ids is not None and check_id not in row_ids:
            continue
        if pattern.search(message):
            return text[key]
    return ""


def without_secrets(text: str, secrets: list[str]) -> str:
    """Return ``text`` with every non-empty secret replaced by "***"."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


class Collector:
    """A pytest plugin that records the outcome and reason of every graded test it runs."""

    def __init__(self, language: str, secrets: list[str] | None = None) -> None:
        self.language = language
        self.checks: dict[str, Check] = {}
        # The skip code of each skipped check, for the warnings above the table.
        self.skip_codes: dict[str, str] = {}
        self._secrets = list(secrets or [])
        self._by_nodeid: dict[str, Check] = {}
        self._fixtures: dict[str, set[str]] = {}

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        for item in session.items:
            marker = grade_marker(item)
            if marker is None:
                continue
            description = marker.kwargs["es"] if self.language == "es" else english_description(item)
            check = Check(check_id(item), marker.kwargs["module"], marker.kwargs.get("required", True), "", description, "")
            self.checks[check.id] = check
            self._by_nodeid[item.nodeid] = check

    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> None:
        # The fixtures the test used, including those it asked for with request.getfixturevalue(),
        # which only the test's request (a private attribute) lists.
        request = getattr(item, "_request", None)
        names = getattr(request, "fixturenames", None) or getattr(item, "fixturenames", ())
        self._fixtures.setdefault(item.nodeid, set()).update(names)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        check = self._by_nodeid.get(report.nodeid)
        if check is None:
            return
        if report.failed:
            # A teardown error after a passed call still fails the check; keep the first failure.
            if check.outcome != "failed":
                check.outcome, check.reason = "failed", self._failure_reason(report, check.id)
                self.skip_codes.pop(check.id, None)
        elif report.skipped and check.outcome != "failed":
            check.outcome, check.reason = "skipped", self._skip_reason(report, check.id)
        elif report.when == "call" and report.passed and not check.outcome:
            check.outcome = "passed"

    def _failure_reason(self, report: pytest.TestReport, check_id: str) -> str:
        text = MESSAGES[self.language]
        crash = getattr(report.longrepr, "reprcrash", None)
        message = without_secrets(crash.message if crash is not None else str(report.longrepr), self._secrets)
        reason = failure_reason(message, text)
        hint = failure_hint(check_id, self._fixtures.get(report.nodeid, set()), first_line(message), text)
        return f"{hint}; {reason}" if hint else reason

    def _skip_reason(self, report: pytest.TestReport, check_id: str) -> str:
        longrepr = report.longrepr
        message = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
        code, reason = skip_reason(message.removeprefix("Skipped: "), MESSAGES[self.language])
        if code:
            self.skip_codes[check_id] = code
        return without_secrets(reason, self._secrets)


def pytest_arguments(options: Any) -> list[str]:
    """Return the pytest command line that runs the graded tests of modules 0..module."""
    arguments = [str(folder) for folder in module_folders(options.module)]
    # In-process runs would repeat every database test on MariaDB; one backend is enough to grade.
    selection = "grade" if options.base_url else "grade and not mariadb"
    arguments += ["-m", selection, "-p", "no:cacheprovider", "-q", "--no-header", "--rootdir", str(REPO), "-c", str(REPO / "pyproject.toml")]
    if options.base_url:
        arguments += ["--base-url", options.base_url]
    return arguments


def run_checks(options: Any, language: str, quiet: bool) -> tuple[int, list[Check], str, set[str]]:
    """Run pytest in this process; return its exit code, the checks in run order, its output and the skip codes seen."""
    collector = Collector(language, [options.admin_token, options.turn_secret])
    output = io.StringIO()
    redirect = contextlib.redirect_stdout(output) if quiet else contextlib.nullcontext()
    with redirect:
        exit_code = pytest.main(pytest_arguments(options), plugins=[collector])
    for check in collector.checks.values():
        # A collected test without a report (the run stopped early) was not checked.
        if not check.outcome:
            check.outcome, check.reason = "skipped", MESSAGES[language]["not_run"]
    return int(exit_code), list(collector.checks.values()), output.getvalue(), set(collector.skip_codes.values())


def scores(checks: list[Check], last: int) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Return the score of each module 0..last and the overall score (passed required / required)."""

    def score(selected: list[Check]) -> dict[str, Any]:
        required = [check for check in selected if check.required]
        passed = sum(check.outcome == "passed" for check in required)
        return {"passed": passed, "required": len(required), "percent": round(100.0 * passed / len(required), 1) if required else 0.0}

    per_module = [{"module": number, **score([check for check in checks if check.module == number])} for number in range(last + 1)]
    return per_module, score(checks)


def check_health(base_url: str, text: Mapping[str, Any]) -> str | None:
    """Return why the server at ``base_url`` cannot be graded, or None when GET /health returns 200 with {"status": "ok"}."""
    try:
        response = requests.get(base_url + "/health", timeout=HEALTH_TIMEOUT)
    except requests.RequestException as error:
        return text["unreachable"].format(url=base_url, error=type(error).__name__ + describe_error(error))
    if response.status_code != 200:
        return text["not_healthy"].format(url=base_url, status=response.status_code)
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict) or body.get("status") != "ok":
        return text["not_course_health"].format(url=base_url)
    return None


def json_path_problem(path: str) -> str | None:
    """Return why the grader cannot write its JSON document to ``path``, or None when it can."""
    target = Path(path)
    parent = target.parent
    if target.is_dir():
        return os.strerror(errno.EISDIR)
    if not parent.is_dir():
        return os.strerror(errno.ENOENT if not parent.exists() else errno.ENOTDIR)
    if not os.access(target if target.exists() else parent, os.W_OK):
        return os.strerror(errno.EACCES)
    return None


def describe_error(error: Exception) -> str:
    """Return the innermost cause of a requests error as ": <text>", without the URL pool noise."""
    cause: BaseException = error
    while cause.__cause__ is not None or cause.__context__ is not None:
        cause = cause.__cause__ or cause.__context__
    detail = str(cause).split(": ", 1)[-1] if ": " in str(cause) else str(cause)
    return f" ({shorten(first_line(detail), REASON_WIDTH)})" if detail else ""


def write_table(stream: TextIO, text: Mapping[str, Any], checks: list[Check], per_module: list[dict[str, Any]], total: dict[str, Any], passed: bool) -> None:
    """Write the checks as a table, then the scores and the verdict."""
    rows = []
    for check in checks:
        result = text[check.outcome] + ("" if check.required else text["optional"])
        rows.append((str(check.module), check.id, result, shorten(check.description, DESCRIPTION_WIDTH), shorten(check.reason, REASON_WIDTH)))
    headers = text["columns"]
    widths = [max([len(header)] + [len(row[index]) for row in rows]) for index, header in enumerate(headers[:4])]

    def line(cells: tuple[str, ...]) -> str:
        padded = [cell.ljust(width) for cell, width in zip(cells[:4], widths)]
        return "  ".join(padded + [cells[4]]).rstrip()

    stream.write(line(headers) + "\n")
    stream.write(line(tuple("-" * width for width in widths) + ("-" * len(headers[4]),)) + "\n")
    for row in rows:
        stream.write(line(row) + "\n")
    stream.write("\n")
    for score in per_module:
        stream.write(text["module_score"].format(**score) + "\n")
    stream.write(text["total_score"].format(**total) + "\n")
    stream.write((text["verdict_ok"] if passed else text["verdict_failed"]) + "\n")


def build_parser(language: str) -> LocalizedArgumentParser:
    """Build the argument parser with help texts in ``language``."""
    text = MESSAGES[language]
    parser = LocalizedArgumentParser(language=language, prog="python -m tests.grade", description=text["description"])
    parser.add_argument("--module", type=int, required=True, metavar="N", help=text["help_module"])
    parser.add_argument("--base-url", default="", metavar="URL", help=text["help_base_url"])
    parser.add_argument("--admin-token", default="", metavar="T", help=text["help_admin_token"])
    parser.add_argument("--turn-secret", default="", metavar="S", help=text["help_turn_secret"])
    parser.add_argument("--json", nargs="?", const="-", default=None, metavar="FILE", help=text["help_json"])
    parser.add_argument("--lang", choices=LANGUAGES, help=text["help_lang"])
    return parser


def main(argv: list[str] | None = None, environ: Mapping[str, str] | None = None, stream: TextIO | None = None) -> int:
    """Grade modules 0..N; return 0 when every required check passed, 1 when not, 2 for a usage error."""
    argv = list(sys.argv[1:] if argv is None else argv)
    environ = os.environ if environ is None else environ
    stream = stream or sys.stdout

    parser = build_parser(pick_language(language_in_argv(argv), environ))
    try:
        options = parser.parse_args(argv)
        language = pick_language(options.lang, environ)
        text = MESSAGES[language]
        last = last_module()
        if not 0 <= options.module <= last:
            parser.error(text["bad_module"].format(last=last, module=options.module))
        options.base_url = options.base_url.rstrip("/")
        if options.base_url and not re.match(r"^https?://[^/\s]+", options.base_url):
            parser.error(text["bad_url"].format(url=options.base_url))
        # Checked before grading, which can take minutes, rather than after it.
        problem = json_path_problem(options.json) if options.json not in (None, "-") else None
        if problem:
            parser.error(text["json_not_writable"].format(path=options.json, error=problem))
    except SystemExit as exit_request:
        return EXIT_USAGE if exit_request.code else EXIT_OK

    if options.base_url:
        problem = check_health(options.base_url, text)
        if problem:
            sys.stderr.write(problem + "\n")
            return EXIT_FAILED
    # The fixtures of the checks read the server's secrets from these variables.
    for variable, value in ((ADMIN_TOKEN_VARIABLE, options.admin_token), (TURN_SECRET_VARIABLE, options.turn_secret)):
        if value:
            os.environ[variable] = value

    json_only = options.json == "-"
    if not json_only:
        stream.write(text["heading"].format(module=options.module, target=options.base_url or text["in_process"]) + "\n\n")
        stream.flush()
    started = datetime.now(timezone.utc)
    clock = time.monotonic()
    pytest_code, checks, output, skip_codes = run_checks(options, language, quiet=True)
    duration = time.monotonic() - clock

    if pytest_code not in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED, pytest.ExitCode.NO_TESTS_COLLECTED):
        sys.stderr.write(text["pytest_failed"].format(code=pytest_code) + "\n" + output)
        return EXIT_FAILED
    if not checks:
        sys.stderr.write(text["no_checks"].format(module=options.module) + "\n")
        return EXIT_FAILED

    per_module, total = scores(checks, options.module)
    passed = total["required"] > 0 and total["passed"] == total["required"]
    document = {
        "module": options.module,
        "baseUrl": options.base_url or None,
        "lang": language,
        "startedAt": started.isoformat(timespec="seconds").replace("+00:00", "Z"),
        "durationSeconds": round(duration, 1),
        "checks": [asdict(check) for check in checks],
        "scores": per_module,
        "total": total,
        "passed": passed,
    }
    warnings = [text[key] for code, key in WARNINGS if code in skip_codes]
    if json_only:
        for warning in warnings:
            sys.stderr.write(warning + "\n")
        stream.write(json.dumps(document, ensure_ascii=False, indent=2) + "\n")
    else:
        for warning in warnings:
            stream.write(warning + "\n")
        if warnings:
            stream.write("\n")
        write_table(stream, text, checks, per_module, total, passed)
        if options.json:
            try:
                Path(options.json).write_text(json.dumps(document, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
            except OSError as error:
                sys.stderr.write(text["json_not_written"].format(path=options.json, error=error.strerror or error) + "\n")
                return EXIT_FAILED
    return EXIT_OK if passed else EXIT_FAILED


if __name__ == "__main__":
    from common.cli import exit_quietly_on_broken_pipe

    try:
        exit_code = main()
        sys.stdout.flush()
    except BrokenPipeError:
        exit_quietly_on_broken_pipe()
    sys.exit(exit_code)
