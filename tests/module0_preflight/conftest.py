"""Fixtures of the module 0 tests: the app, one API client for it or for --base-url, and local servers.

Tests that take ``api`` run in-process by default and against a live server with
--base-url; tests that need a particular configuration take ``make_app`` and skip there.
"""

from __future__ import annotations

import json
import os
import ssl
import threading
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
from flask import Flask
from werkzeug.serving import make_server

from common.db import db
from module0_preflight import create_app
from tests.services.api_client import ApiClient

# With --base-url, tests that verify the TURN credential's HMAC read the server's secret here.
TURN_SECRET_VARIABLE = "COURSE_TURN_SECRET"

# STUN and TURN settings of the default in-process app. Nothing listens on port 9, so the
# server-side probes of /api/v1/preflight fail at once: UDP STUN gets "port unreachable"
# and TCP is refused. A TURN url over UDP would instead wait for the probe timeout.
DEFAULT_ICE_SETTINGS = {
    "STUN_URLS": ["stun:127.0.0.1:9"],
    "TURN_URLS": ["turn:127.0.0.1:9?transport=tcp", "turns:127.0.0.1:9?transport=tcp"],
    "TURN_SECRET": "test-turn-secret",
    "TURN_TTL": 600,
}


@pytest.fixture
def make_app(app_config: dict, base_url: str) -> Iterator[Callable[..., Flask]]:
    """Build module 0 apps in-process with extra settings; skips with --base-url."""
    if base_url:
        pytest.skip("needs the app in-process with its own settings; --base-url runs only the HTTP-level tests")
    apps: list[Flask] = []

    def build(**settings: Any) -> Flask:
        app = create_app({**app_config, **settings})
        apps.append(app)
        return app

    yield build
    for app in apps:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    """The module 0 app on SQLite, with STUN/TURN settings and no reachable Janus."""
    return make_app(**DEFAULT_ICE_SETTINGS)


@pytest.fixture
def api(base_url: str, request: pytest.FixtureRequest) -> ApiClient:
    """A client for the default app in-process, or for the live server given with --base-url."""
    if base_url:
        return ApiClient(base_url=base_url)
    return ApiClient(app=request.getfixturevalue("app"))


@pytest.fixture
def turn_secret(base_url: str) -> str:
    """The TURN secret the server signs with: the in-process one, or COURSE_TURN_SECRET with --base-url."""
    if not base_url:
        return DEFAULT_ICE_SETTINGS["TURN_SECRET"]
    secret = os.environ.get(TURN_SECRET_VARIABLE, "")
    if not secret:
        pytest.skip(f"[needs_turn_secret] set {TURN_SECRET_VARIABLE} to the server's TURN_SECRET to verify credentials against --base-url")
    return secret


# --- A stand-in for Janus's /info ---


class _JanusInfoHandler(BaseHTTPRequestHandler):
    """Return ``server.info_body`` as JSON for GET <path>/info, and 404 for any other path."""

    def do_GET(self) -> None:  # noqa: N802 (the http.server API names it so)
        body = json.dumps(self.server.info_body).encode()  # type: ignore[attr-defined]
        if not self.path.split("?")[0].endswith("/info"):
            self.send_response(404)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


JANUS_INFO = {
    "janus": "server_info",
    "name": "Janus WebRTC Server",
    "version_string": "1.1.2",
    "plugins": {"janus.plugin.videoroom": {"name": "JANUS VideoRoom plugin"}},
}


@pytest.fixture
def janus_info_stub() -> Iterator[Callable[[dict], str]]:
    """Serve a fixed GET /janus/info reply on 127.0.0.1 and return its Janus URL.

    A test double: it replaces Janus where a test needs a working /info, or a reply that a
    real Janus returns only when misconfigured (no videoroom plugin, an api_secret error).
    Readiness against a real Janus is tested with the janus_server fixture.
    """
    servers: list[ThreadingHTTPServer] = []

    def start(info_body: dict) -> str:
        server = ThreadingHTTPServer(("127.0.0.1", 0), _JanusInfoHandler)
        server.info_body = info_body  # type: ignore[attr-defined]
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_port}/janus"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


# --- HTTPS with a test CA ---


class HttpsServer:
    """A WSGI app served over TLS on 127.0.0.1 in a daemon thread."""

    def __init__(self, app: Any, context: ssl.SSLContext) -> None:
        self._server = make_server("127.0.0.1", 0, app, threaded=True, ssl_context=context)
        self.port = self._server.server_port
        self.url = f"https://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


@pytest.fixture
def test_ca() -> Any:
    """A throwaway certificate authority (trustme)."""
    import trustme

    return trustme.CA()


@pytest.fixture
def ca_file(test_ca: Any, tmp_path: Path) -> str:
    """The test CA's certificate as a PEM file, for --ca-file."""
    path = tmp_path / "test-ca.pem"
    test_ca.cert_pem.write_to_path(str(path))
    return str(path)


def expired_certificate_pem(test_ca: Any, host: str) -> tuple[bytes, bytes]:
    """Return (certificate, key) PEM for ``host``, signed by ``test_ca``, that expired a day ago.

    trustme issues only currently valid certificates, so this one is built with cryptography.
    """
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    ca_certificate = x509.load_pem_x509_certificate(test_ca.cert_pem.bytes())
    ca_key = serialization.load_pem_private_key(test_ca.private_key_pem.bytes(), password=None)
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)]))
        .issuer_name(ca_certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=30))
        .not_valid_after(now - timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(host))]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return certificate.public_bytes(serialization.Encoding.PEM), key_pem


@pytest.fixture
def https_server_factory(tmp_path: Path) -> Iterator[Callable[..., HttpsServer]]:
    """Serve an app over HTTPS with a given certificate chain and key (PEM bytes)."""
    servers: list[HttpsServer] = []

    def start(app: Any, certificate_pem: bytes, key_pem: bytes) -> HttpsServer:
        index = len(servers)
        certificate_path = tmp_path / f"server-{index}.pem"
        key_path = tmp_path / f"server-{index}.key"
        certificate_path.write_bytes(certificate_pem)
        key_path.write_bytes(key_pem)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(certificate_path), str(key_path))
        server = HttpsServer(app, context)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()
