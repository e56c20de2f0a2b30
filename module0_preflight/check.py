"""`python -m module0_preflight check`: connectivity checks run from a student's computer.

It checks, in order: DNS of the backend host and HTTPS (handshake, certificate validity,
days to expiry, host name). Then GET /health and GET /api/v1/ice-servers, a STUN binding
per STUN url and a TURN allocation per TURN url with the served credentials. Last comes
Janus's /info when --janus is given. Each check prints as it finishes, and a checklist
with the probable cause and next step of every problem ends the run. Exit status: 0 when
every required check passed, 1 when one failed, 2 for invalid arguments. It sends traffic
only to the URLs it is given, to the STUN/TURN urls the backend serves and to the system's
DNS resolver.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Mapping, TextIO
from urllib.parse import urlsplit

from common.cli import LANGUAGES, LocalizedArgumentParser, language_in_argv, load_translations, pick_language
from module0_preflight import messages, probes, service
from module0_preflight.messages import N_
from module0_preflight.service import FAIL, OK, SKIP, WARN, CheckResult

TRANSLATIONS_DIR = Path(__file__).resolve().parent / "translations"
DEFAULT_TIMEOUT = 5.0
# A certificate that expires within this many days gets a warning.
EXPIRY_WARNING_DAYS = 14

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


# --- Arguments ---


def _positive_float(translate: Callable[[str], str]) -> Callable[[str], float]:
    """Return an argparse type that accepts numbers above 0 and explains a bad value in the chosen language."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(translate(N_("%(value)s is not a number")) % {"value": repr(text)}) from None
        if value <= 0:
            raise argparse.ArgumentTypeError(translate(N_("%(value)s must be greater than 0")) % {"value": repr(text)})
        return value

    return parse


def build_parser(translate: Callable[[str], str], language: str) -> argparse.ArgumentParser:
    """Build the argument parser with help texts and argparse's own words in ``language``."""
    parser = LocalizedArgumentParser(
        language=language,
        prog="python -m module0_preflight check",
        description=translate(N_("Check DNS, HTTPS, the backend, STUN, TURN and Janus from this computer.")),
    )
    parser.add_argument("--backend", required=True, metavar="URL", help=translate(N_("Base URL of the backend, e.g. https://stream.example.org")))
    parser.add_argument("--janus", metavar="URL", help=translate(N_("Janus HTTP API URL, e.g. http://127.0.0.1:8088/janus (GET /info)")))
    parser.add_argument("--json", action="store_true", help=translate(N_("Print one JSON document instead of text")))
    parser.add_argument("--lang", choices=LANGUAGES, help=translate(N_("Output language (default: from LANG, else es)")))
    parser.add_argument("--timeout", type=_positive_float(translate), default=DEFAULT_TIMEOUT, metavar="S", help=translate(N_("Seconds each check may take (default: 5)")))
    parser.add_argument("--ca-file", metavar="PATH", help=translate(N_("PEM file of CA certificates to trust instead of the system's")))
    return parser


def _backend_parts(url: str) -> tuple[str, str, int] | None:
    split = urlsplit(url)
    if split.scheme not in ("http", "https") or not split.hostname:
        return None
    try:
        port = split.port or (443 if split.scheme == "https" else 80)
    except ValueError:
        return None
    return split.scheme, split.hostname, port


# --- Output ---


class Reporter:
    """Render results for people (as they arrive, then a checklist) or as one JSON document."""

    def __init__(self, translate: Callable[[str], str], stream: TextIO, as_json: bool) -> None:
        self.translate = translate
        self.stream = stream
        self.as_json = as_json
        tags = {status: translate(text) for status, text in messages.STATUS_LABELS.items()}
        width = max(len(tag) for tag in tags.values())
        self.tags = {status: tag.center(width) for status, tag in tags.items()}

    def title(self, check: CheckResult) -> str:
        name = messages.label(check.name, self.translate)
        url = check.data.get("url") if check.name in ("stun", "turn") else None
        return f"{name} {url}" if url else name

    def present(self, check: CheckResult) -> dict[str, Any]:
        texts = messages.describe(check.code, check.data, self.translate)
        body: dict[str, Any] = {
            "name": check.name,
            "title": self.title(check),
            "status": check.status,
            "required": check.required,
            "code": check.code,
            "detail": texts["detail"],
        }
        if check.status in (FAIL, WARN):
            body["cause"] = texts["cause"]
            body["nextStep"] = texts["nextStep"]
        body["data"] = check.data
        return body

    def heading(self, backend: str) -> None:
        if not self.as_json:
            self._write(messages.format_text(self.translate(N_("Preflight check of %(url)s")), {"url": backend}))
            self._write("")

    def show(self, check: CheckResult) -> None:
        """Print one result as soon as it is known."""
        if self.as_json:
            return
        detail = messages.describe(check.code, check.data, self.translate)["detail"]
        self._write(f"[{self.tags[check.status]}] {self.title(check)}: {detail}")

    def finish(self, results: list[CheckResult], context: dict[str, Any], exit_code: int) -> None:
        counts = Counter(check.status for check in results)
        summary = {status: counts.get(status, 0) for status in (OK, WARN, FAIL, SKIP)}
        if self.as_json:
            document = {
                **context,
                "ok": exit_code == EXIT_OK,
                "exitCode": exit_code,
                "summary": summary,
                "checks": [self.present(check) for check in results],
            }
            self._write(json.dumps(document, ensure_ascii=False, indent=2))
            return

        self._write("")
        self._write(self.translate(N_("Checklist")))
        for check in results:
            texts = self.present(check)
            line = f"  [{self.tags[check.status]}] {texts['title']}"
            if check.status in (FAIL, WARN):
                line += f": {texts['detail']}"
            self._write(line)
            if check.status in (FAIL, WARN):
                if texts["cause"]:
                    self._write("      " + self.translate(N_("Probable cause:")) + " " + texts["cause"])
                if texts["nextStep"]:
                    self._write("      " + self.translate(N_("Next step:")) + " " + texts["nextStep"])
        self._write("")
        required_failures = sum(1 for check in results if check.blocking)
        if required_failures:
            text = N_("Result: FAILED. Required checks failed: %(failed)s. Warnings: %(warnings)s. Fix the failures in order, because later checks depend on earlier ones.")
        else:
            text = N_("Result: PASSED. Every required check passed. Warnings: %(warnings)s.")
        self._write(messages.format_text(self.translate(text), {"failed": required_failures, "warnings": summary[WARN]}))

    def _write(self, text: str) -> None:
        self.stream.write(text + "\n")
        self.stream.flush()


# --- The checks ---


class Run:
    """One run of the checks, in order, each shown as it finishes."""

    def __init__(self, options: argparse.Namespace, reporter: Reporter) -> None:
        self.options = options
        self.reporter = reporter
        self.results: list[CheckResult] = []
        self.backend = options.backend.rstrip("/")
        self.timeout = options.timeout
        self.ca_file = options.ca_file

    def add(self, *checks: CheckResult) -> None:
        for check in checks:
            self.results.append(check)
            self.reporter.show(check)

    def execute(self, scheme: str, host: str, port: int) -> list[CheckResult]:
        """Run every check against the backend at ``scheme://host:port``, then Janus."""
        if self._check_dns(host, port) and self._check_tls(scheme, host, port) and self._check_health():
            self._check_ice_servers()
        if self.options.janus:
            self.add(service.check_janus(self.options.janus, self.timeout, verify=self.ca_file or True))
        return self.results

    def _skip_rest(self, after: str) -> None:
        self.add(service.skipped("health", after))
        self.add(service.skipped("ice_servers", after))

    def _check_dns(self, host: str, port: int) -> bool:
        try:
            addresses = probes.resolve_host(host, port)
        except probes.ProbeError as error:
            self.add(service.from_error("dns", error))
            if self.backend.startswith("https:"):
                self.add(service.skipped("tls", "dns"))
            self._skip_rest("dns")
            return False
        self.add(CheckResult("dns", OK, "dns_ok", {"host": host, "addresses": addresses}))
        return True

    def _check_tls(self, scheme: str, host: str, port: int) -> bool:
        if scheme == "http":
            if probes.is_loopback_host(host):
                self.add(CheckResult("tls", SKIP, "tls_not_used", {"host": host}, required=False))
            else:
                self.add(CheckResult("tls", WARN, "tls_plain_http", {"host": host}, required=False))
            return True

        try:
            certificate = probes.probe_tls(host, port, self.timeout, ca_file=self.ca_file)
        except probes.ProbeError as error:
            self.add(service.from_error("tls", error, host=host, port=port))
            self._skip_rest("tls")
            return False

        now = datetime.now(timezone.utc)
        data = {"host": host, "port": port, **certificate.to_params(now)}
        if certificate.days_left(now) < EXPIRY_WARNING_DAYS:
            self.add(CheckResult("tls", WARN, "tls_expiring", data, required=False))
        else:
            self.add(CheckResult("tls", OK, "tls_ok", data))
        return True

    def _check_health(self) -> bool:
        url = self.backend + "/health"
        try:
            reply = probes.http_get_json(url, self.timeout, ca_file=self.ca_file)
        except probes.ProbeError as error:
            self.add(service.from_error("health", error, url=url))
            self.add(service.skipped("ice_servers", "health"))
            return False
        data = {"url": url, "status": reply.status, "elapsed_ms": reply.elapsed_ms}
        if reply.status != 200:
            self.add(CheckResult("health", FAIL, "http_status", data))
        elif not isinstance(reply.body, dict) or reply.body.get("status") != "ok":
            self.add(CheckResult("health", FAIL, "http_unexpected_body", data))
        else:
            self.add(CheckResult("health", OK, "health_ok", data))
            return True
        self.add(service.skipped("ice_servers", "health"))
        return False

    def _check_ice_servers(self) -> None:
        url = self.backend + "/api/v1/ice-servers"
        try:
            reply = probes.http_get_json(url, self.timeout, ca_file=self.ca_file)
        except probes.ProbeError as error:
            self.add(service.from_error("ice_servers", error, url=url))
            return
        if reply.status != 200:
            self.add(CheckResult("ice_servers", FAIL, "http_status", {"url": url, "status": reply.status}))
            return

        document = service.validate_ice_document(reply.body)
        self.add(*document.results)
        for stun_url in document.stun_urls:
            self.add(asyncio.run(service.check_stun(stun_url, self.timeout)))
        for turn_url, username, credential in document.turn_servers:
            self.add(asyncio.run(service.check_turn(turn_url, username, credential, self.timeout, ca_file=self.ca_file)))


def main(argv: list[str] | None = None, environ: Mapping[str, str] | None = None, stream: TextIO | None = None) -> int:
    """Run the checks; return the exit status (0 passed, 1 a required check failed, 2 usage error)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    environ = os.environ if environ is None else environ
    stream = stream or sys.stdout

    language = pick_language(language_in_argv(argv), environ)
    translate = load_translations(TRANSLATIONS_DIR, language).gettext
    parser = build_parser(translate, language)
    try:
        options = parser.parse_args(argv)
    except SystemExit as exit_request:
        # argparse exits with 0 after --help and with 2 after printing a usage error.
        return EXIT_USAGE if exit_request.code else EXIT_OK
    language = pick_language(options.lang, environ)

    backend_parts = _backend_parts(options.backend)
    if backend_parts is None:
        parser.print_usage(sys.stderr)
        sys.stderr.write(messages.format_text(translate(N_("--backend must be an http:// or https:// URL with a host, not %(url)s")), {"url": options.backend}) + "\n")
        return EXIT_USAGE
    if options.ca_file and not Path(options.ca_file).is_file():
        parser.print_usage(sys.stderr)
        sys.stderr.write(messages.format_text(translate(N_("--ca-file %(path)s is not a readable file")), {"path": options.ca_file}) + "\n")
        return EXIT_USAGE

    reporter = Reporter(translate, stream, options.json)
    reporter.heading(options.backend)
    results = Run(options, reporter).execute(*backend_parts)

    exit_code = EXIT_OK if service.all_passed(results) else EXIT_FAILED
    context = {"backend": options.backend, "janus": options.janus, "language": language, "timeout": options.timeout}
    reporter.finish(results, context, exit_code)
    return exit_code
