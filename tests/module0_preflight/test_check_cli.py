"""`python -m module0_preflight check` against a live app, a real coturn and a Janus /info stand-in."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import pytest
from babel.support import Translations

from module0_preflight import check
from module0_preflight.check import TRANSLATIONS_DIR
from tests.module0_preflight.conftest import JANUS_INFO
from tests.services.availability import require_hermetic_netns
from tests.services.coturn import Coturn

REPO = Path(__file__).resolve().parents[2]


@dataclass
class CliRun:
    """Exit status and standard output of one run of the check CLI."""

    exit_code: int
    output: str

    def document(self) -> dict[str, Any]:
        return json.loads(self.output)

    def checks(self, name: str) -> list[dict[str, Any]]:
        return [entry for entry in self.document()["checks"] if entry["name"] == name]


@pytest.fixture
def run_check() -> Callable[..., CliRun]:
    """Run the CLI in-process with the given arguments and environment (no LANG by default)."""

    def run(*arguments: str, environ: dict[str, str] | None = None) -> CliRun:
        stream = io.StringIO()
        exit_code = check.main(["--timeout", "5", *arguments], environ=environ or {}, stream=stream)
        return CliRun(exit_code, stream.getvalue())

    return run


@pytest.fixture
def backend(make_app, live_server_factory) -> Callable[..., str]:
    """Serve a module 0 app with the given settings on 127.0.0.1 and return its URL."""

    def start(**settings: Any) -> str:
        return live_server_factory(make_app(**settings)).url

    return start


# --- Against a real coturn ---


@pytest.mark.coturn
def test_check_passes_with_coturn(run_check, backend, coturn: Coturn) -> None:
    url = backend(**coturn.app_settings())

    result = run_check("--backend", url, "--json")
    turn_checks = result.checks("turn")

    assert result.exit_code == 0
    assert result.document()["ok"] is True
    assert [entry["code"] for entry in result.checks("stun")] == ["stun_ok"]
    assert sorted(entry["data"]["transport"] for entry in turn_checks) == ["tcp", "udp"]
    for entry in turn_checks:
        assert entry["status"] == "ok"
        assert entry["code"] == "turn_ok"
        assert entry["data"]["relayed"].startswith(coturn.relay_ip + ":")


@pytest.mark.coturn
def test_check_stun_reports_mapped_address(run_check, backend, coturn: Coturn) -> None:
    url = backend(**coturn.app_settings())

    stun = run_check("--backend", url, "--json").checks("stun")[0]

    assert stun["data"]["url"] == coturn.stun_url
    assert stun["data"]["mapped"].startswith("127.0.0.1:")


@pytest.mark.coturn
def test_check_wrong_secret_fails(run_check, backend, coturn: Coturn) -> None:
    url = backend(**{**coturn.app_settings(), "TURN_SECRET": "not-the-coturn-secret"})

    result = run_check("--backend", url, "--json")
    turn_checks = result.checks("turn")

    assert result.exit_code == 1
    assert result.document()["ok"] is False
    assert len(turn_checks) == 2
    for entry in turn_checks:
        assert entry["status"] == "fail"
        assert entry["code"] == "turn_unauthorized"
        assert entry["required"] is True
        assert entry["cause"]
        assert entry["nextStep"]
    assert coturn.secret not in result.output
    assert "not-the-coturn-secret" not in result.output


@pytest.mark.coturn
def test_check_wrong_secret_checklist_text(run_check, backend, coturn: Coturn) -> None:
    url = backend(**{**coturn.app_settings(), "TURN_SECRET": "not-the-coturn-secret"})
    spanish = Translations.load(str(TRANSLATIONS_DIR), ["es"], domain="messages")

    result = run_check("--backend", url)

    assert result.exit_code == 1
    assert spanish.gettext("Checklist") in result.output
    assert spanish.gettext(check.messages.TEXTS["turn_unauthorized"].cause) in result.output
    assert spanish.gettext(check.messages.TEXTS["turn_unauthorized"].next_step) in result.output


@pytest.mark.coturn
def test_check_turn_down_times_out(run_check, backend, coturn_factory) -> None:
    server = coturn_factory()
    url = backend(**server.app_settings())
    from tests.services.coturn import stop_coturn

    stop_coturn(server)
    result = run_check("--backend", url, "--json", "--timeout", "1")
    codes = {entry["data"]["transport"]: entry["code"] for entry in result.checks("turn")}

    assert result.exit_code == 1
    assert codes == {"udp": "turn_timeout", "tcp": "tcp_refused"}
    assert [entry["code"] for entry in result.checks("stun")] == ["stun_refused"]


@pytest.mark.coturn
@pytest.mark.parametrize(("trusted", "exit_code", "code"), [(True, 0, "turn_ok"), (False, 1, "turn_tls_failed")], ids=["with-ca-file", "without-ca-file"])
def test_check_turn_over_tls(run_check, backend, coturn_factory, test_ca, ca_file: str, tmp_path: Path, trusted: bool, exit_code: int, code: str) -> None:
    leaf = test_ca.issue_cert("127.0.0.1")
    certificate, key = tmp_path / "turn-cert.pem", tmp_path / "turn-key.pem"
    leaf.private_key_and_cert_chain_pem.write_to_path(str(certificate))
    leaf.private_key_pem.write_to_path(str(key))
    server = coturn_factory(tls_certificate=certificate, tls_key=key)
    url = backend(STUN_URLS=[], TURN_URLS=[server.turns_url], TURN_SECRET=server.secret)
    arguments = ["--ca-file", ca_file] if trusted else []

    result = run_check("--backend", url, "--json", *arguments)
    turn_checks = result.checks("turn")

    assert result.exit_code == exit_code
    assert [entry["code"] for entry in turn_checks] == [code]
    assert turn_checks[0]["data"]["transport"] == "tls"


# --- Backend problems ---


@pytest.mark.media
def test_check_dns_failure(run_check) -> None:
    # Only in the hermetic namespace: there the resolver is unreachable, so the lookup fails
    # without a packet leaving the machine.
    require_hermetic_netns()

    result = run_check("--backend", "https://stream.course.invalid", "--json")

    assert result.exit_code == 1
    assert [entry["code"] for entry in result.checks("dns")] == ["dns_failed"]
    assert [entry["status"] for entry in result.checks("tls")] == ["skip"]
    assert [entry["status"] for entry in result.checks("health")] == ["skip"]


def test_check_backend_down(run_check) -> None:
    result = run_check("--backend", "http://127.0.0.1:9", "--json")

    assert result.exit_code == 1
    assert [entry["code"] for entry in result.checks("dns")] == ["dns_ok"]
    assert [entry["code"] for entry in result.checks("tls")] == ["tls_not_used"]
    assert [entry["code"] for entry in result.checks("health")] == ["tcp_refused"]
    assert [entry["status"] for entry in result.checks("ice_servers")] == ["skip"]


def test_check_without_turn_warns(run_check, backend) -> None:
    url = backend(STUN_URLS=[], TURN_URLS=[], TURN_SECRET="")

    result = run_check("--backend", url, "--json")
    ice = result.checks("ice_servers")

    assert result.exit_code == 0
    assert [entry["code"] for entry in ice] == ["ice_ok_without_turn", "ice_no_turn"]
    assert ice[1]["status"] == "warn"
    assert ice[1]["required"] is False


def test_check_not_a_backend(run_check, janus_info_stub) -> None:
    # The Janus test double returns 404 for /health, like any web server that is not this backend.
    janus_url = janus_info_stub(JANUS_INFO)
    other_server = janus_url.removesuffix("/janus")

    result = run_check("--backend", other_server, "--json")

    assert result.exit_code == 1
    assert [entry["code"] for entry in result.checks("health")] == ["http_status"]
    assert result.checks("health")[0]["data"]["status"] == 404


# --- Janus ---


@pytest.mark.parametrize(("janus", "exit_code", "code"), [("up", 0, "janus_ok"), ("down", 1, "janus_unreachable")])
def test_check_janus_info(run_check, backend, janus_info_stub, janus: str, exit_code: int, code: str) -> None:
    url = backend(STUN_URLS=[], TURN_URLS=[], TURN_SECRET="")
    janus_url = janus_info_stub(JANUS_INFO) if janus == "up" else "http://127.0.0.1:9/janus"

    result = run_check("--backend", url, "--janus", janus_url, "--json")

    assert result.exit_code == exit_code
    assert [entry["code"] for entry in result.checks("janus")] == [code]


# --- Language and output ---


@pytest.mark.parametrize(
    ("arguments", "environ", "language"),
    [
        ((), {}, "es"),
        ((), {"LANG": "en_US.UTF-8"}, "en"),
        ((), {"LANG": "es_ES.UTF-8"}, "es"),
        ((), {"LANG": "C.UTF-8"}, "es"),
        ((), {"LANG": "en_US.UTF-8", "LC_ALL": "es_MX.UTF-8"}, "es"),
        (("--lang", "en"), {"LANG": "es_ES.UTF-8"}, "en"),
        (("--lang=es",), {"LANG": "en_US.UTF-8"}, "es"),
    ],
)
def test_check_picks_language(run_check, arguments: tuple, environ: dict, language: str) -> None:
    result = run_check("--backend", "http://127.0.0.1:9", "--json", *arguments, environ=environ)

    assert result.document()["language"] == language


def test_check_text_spanish_by_default(run_check) -> None:
    spanish = Translations.load(str(TRANSLATIONS_DIR), ["es"], domain="messages")

    default = run_check("--backend", "http://127.0.0.1:9")
    english = run_check("--backend", "http://127.0.0.1:9", "--lang", "en")

    assert spanish.gettext("Checklist") != "Checklist"
    assert spanish.gettext("Checklist") in default.output
    assert spanish.gettext("Probable cause:") in default.output
    assert "Checklist" in english.output
    assert "Probable cause:" in english.output
    assert default.exit_code == english.exit_code == 1


def test_check_json_has_one_document(run_check) -> None:
    result = run_check("--backend", "http://127.0.0.1:9", "--json", "--lang", "en")
    document = result.document()

    assert set(document) >= {"backend", "language", "ok", "exitCode", "summary", "checks"}
    assert document["exitCode"] == result.exit_code
    assert sum(document["summary"].values()) == len(document["checks"])
    for entry in document["checks"]:
        assert {"name", "title", "status", "required", "code", "detail", "data"} <= set(entry)


@pytest.mark.parametrize(
    "arguments",
    [
        (),
        ("--backend", "ftp://127.0.0.1"),
        ("--backend", "127.0.0.1:5000"),
        ("--backend", "http://127.0.0.1", "--timeout", "0"),
        ("--backend", "http://127.0.0.1", "--timeout", "soon"),
        ("--backend", "http://127.0.0.1", "--lang", "fr"),
        ("--backend", "http://127.0.0.1", "--ca-file", "/nonexistent/ca.pem"),
    ],
)
def test_check_usage_errors_exit_2(arguments: tuple, capsys: pytest.CaptureFixture) -> None:
    exit_code = check.main(list(arguments), environ={}, stream=io.StringIO())

    assert exit_code == 2
    assert capsys.readouterr().err


def test_check_help_exits_0(capsys: pytest.CaptureFixture) -> None:
    exit_code = check.main(["--help"], environ={"LANG": "en_US.UTF-8"}, stream=io.StringIO())

    assert exit_code == 0
    assert "--backend" in capsys.readouterr().out


@pytest.mark.coturn
def test_check_module_entry_point(backend, coturn: Coturn) -> None:
    url = backend(**coturn.app_settings())

    completed = subprocess.run(
        [sys.executable, "-m", "module0_preflight", "check", "--backend", url, "--json", "--lang", "en"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
        check=False,
    )
    document = json.loads(completed.stdout)

    assert completed.returncode == 0
    assert document["ok"] is True
    assert document["language"] == "en"
