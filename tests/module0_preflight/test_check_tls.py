"""The check CLI's HTTPS checks against the app served over TLS with a test CA on 127.0.0.1."""

from __future__ import annotations

import io
import json
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from module0_preflight import check
from tests.module0_preflight.conftest import expired_certificate_pem

HOST = "127.0.0.1"
NO_ICE = {"STUN_URLS": [], "TURN_URLS": [], "TURN_SECRET": ""}


def _run(*arguments: str) -> tuple[int, dict[str, Any]]:
    stream = io.StringIO()
    exit_code = check.main(["--json", "--timeout", "5", *arguments], environ={}, stream=stream)
    return exit_code, json.loads(stream.getvalue())


def _check(document: dict[str, Any], name: str) -> dict[str, Any]:
    matching = [entry for entry in document["checks"] if entry["name"] == name]
    assert len(matching) == 1, document["checks"]
    return matching[0]


@pytest.fixture
def app(make_app):
    """The module 0 app without STUN/TURN, so only the HTTPS and HTTP checks matter."""
    return make_app(**NO_ICE)


def test_tls_valid_with_ca_file(app, https_server_factory, test_ca, ca_file: str) -> None:
    leaf = test_ca.issue_cert(HOST)
    server = https_server_factory(app, leaf.private_key_and_cert_chain_pem.bytes(), leaf.private_key_pem.bytes())

    exit_code, document = _run("--backend", server.url, "--ca-file", ca_file)
    tls = _check(document, "tls")

    assert exit_code == 0
    assert tls["status"] == "ok"
    assert tls["code"] == "tls_ok"
    assert tls["data"]["days"] > 300
    assert HOST in tls["data"]["names"]
    assert tls["data"]["protocol"].startswith("TLS")
    assert _check(document, "health")["code"] == "health_ok"


def test_tls_untrusted_without_ca_file(app, https_server_factory, test_ca) -> None:
    leaf = test_ca.issue_cert(HOST)
    server = https_server_factory(app, leaf.private_key_and_cert_chain_pem.bytes(), leaf.private_key_pem.bytes())

    exit_code, document = _run("--backend", server.url)
    tls = _check(document, "tls")

    assert exit_code == 1
    assert tls["status"] == "fail"
    assert tls["code"] == "tls_untrusted"
    assert tls["cause"]
    assert tls["data"]["days"] > 300
    assert _check(document, "health")["status"] == "skip"
    assert _check(document, "ice_servers")["status"] == "skip"


@pytest.mark.parametrize("trusted", [True, False], ids=["with-ca-file", "without-ca-file"])
def test_tls_expired_reported_as_expired(app, https_server_factory, test_ca, ca_file: str, trusted: bool) -> None:
    certificate_pem, key_pem = expired_certificate_pem(test_ca, HOST)
    server = https_server_factory(app, certificate_pem + test_ca.cert_pem.bytes(), key_pem)
    arguments = ["--ca-file", ca_file] if trusted else []

    exit_code, document = _run("--backend", server.url, *arguments)
    tls = _check(document, "tls")

    assert exit_code == 1
    assert tls["status"] == "fail"
    assert tls["code"] == "tls_expired"
    assert tls["data"]["days"] < 0
    assert tls["nextStep"]


def test_tls_hostname_mismatch(app, https_server_factory, test_ca, ca_file: str) -> None:
    leaf = test_ca.issue_cert("stream.course.test")
    server = https_server_factory(app, leaf.private_key_and_cert_chain_pem.bytes(), leaf.private_key_pem.bytes())

    exit_code, document = _run("--backend", server.url, "--ca-file", ca_file)
    tls = _check(document, "tls")

    assert exit_code == 1
    assert tls["code"] == "tls_hostname_mismatch"
    assert tls["data"]["names"] == ["stream.course.test"]


def test_tls_expiring_soon_warns(app, https_server_factory, test_ca, ca_file: str) -> None:
    now = datetime.now(timezone.utc)
    leaf = test_ca.issue_cert(HOST, not_before=now - timedelta(days=80), not_after=now + timedelta(days=5))
    server = https_server_factory(app, leaf.private_key_and_cert_chain_pem.bytes(), leaf.private_key_pem.bytes())

    exit_code, document = _run("--backend", server.url, "--ca-file", ca_file)
    tls = _check(document, "tls")

    assert exit_code == 0
    assert tls["status"] == "warn"
    assert tls["code"] == "tls_expiring"
    assert tls["data"]["days"] in (4, 5)


def test_tls_on_plain_http_port(app, live_server_factory) -> None:
    server = live_server_factory(app)
    url = server.url.replace("http://", "https://")

    exit_code, document = _run("--backend", url)
    tls = _check(document, "tls")

    assert exit_code == 1
    assert tls["code"] == "tls_handshake_failed"
    assert _check(document, "health")["status"] == "skip"


def test_tls_connection_refused(app) -> None:
    exit_code, document = _run("--backend", f"https://{HOST}:9")

    assert exit_code == 1
    assert _check(document, "tls")["code"] == "tcp_refused"
