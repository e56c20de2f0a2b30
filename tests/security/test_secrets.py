"""The configured secrets never appear in logs or responses (the one-time publishToken aside).

One scenario runs through the complete app on a live server with every secret set:
ADMIN_TOKEN, TURN_SECRET (a real coturn), JANUS_API_SECRET (a real Janus that
requires it) and a MariaDB password in DATABASE_URL. Logging is captured at DEBUG,
the Werkzeug access log included.
"""

from __future__ import annotations

import logging
import secrets
from typing import Any, Callable
from urllib.parse import urlsplit

import pytest
import requests
from flask import Flask

from tests.module1_streammeta.helpers import bearer
from tests.services.seeds import OFFER_SDP

pytestmark = [pytest.mark.janus, pytest.mark.coturn, pytest.mark.mariadb]


class Recorder:
    """Send requests to the live server and keep every response's headers and body."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.session = requests.Session()
        self.responses: list[tuple[str, str]] = []

    def send(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """Send one request and record what came back."""
        response = self.session.request(method, self.base_url + path, timeout=30, **kwargs)
        headers = "\n".join(f"{name}: {value}" for name, value in response.headers.items())
        self.responses.append((f"{method} {path} -> {response.status_code}", headers + "\n" + response.text))
        return response


def _run_scenario(client: Recorder, admin_token: str) -> list[str]:
    """Create streams, edit them, fail auth, publish through Janus and read ICE servers. Return the publish tokens."""
    created = client.send("POST", "/api/v1/streams", json={"title": "Clase con secretos"})
    assert created.status_code == 201, created.text
    stream = created.json()
    token = stream["publishToken"]
    # The creation response is the one place the token may appear: record it without that field.
    client.responses[-1] = (client.responses[-1][0], str({key: value for key, value in stream.items() if key != "publishToken"}))
    other = client.send("POST", "/api/v1/streams", json={"title": "Otra clase"})
    other_token = other.json()["publishToken"]
    client.responses[-1] = (client.responses[-1][0], "")
    stream_path = f"/api/v1/streams/{stream['id']}"

    assert client.send("PATCH", stream_path, json={"title": "Clase editada"}, headers=bearer(token)).status_code == 200
    assert client.send("PATCH", stream_path, json={"title": "Sin token"}).status_code == 401
    assert client.send("PATCH", stream_path, json={"title": "Token ajeno"}, headers=bearer(other_token)).status_code == 403
    assert client.send("PATCH", stream_path, json={"title": "Token falso"}, headers=bearer(token + "x")).status_code == 403
    assert client.send("PATCH", stream_path, json={"description": "Profesor"}, headers=bearer(admin_token)).status_code == 200

    # Janus checks the api_secret on every request of this publish attempt and then rejects the SDP:
    # invalid_sdp shows that the requests with the secret got through.
    published = client.send("POST", f"{stream_path}/sessions", json={"type": "offer", "sdp": OFFER_SDP}, headers=bearer(token))
    assert published.status_code == 400, published.text
    assert published.json()["code"] == "invalid_sdp"
    session_id = published.json()["sessionId"]
    assert client.send("GET", f"/api/v1/sessions/{session_id}").status_code == 200
    assert client.send("DELETE", f"/api/v1/sessions/{session_id}", headers=bearer(token)).status_code == 204

    ice = client.send("GET", "/api/v1/ice-servers")
    assert any("credential" in entry for entry in ice.json()["iceServers"]), ice.text
    assert client.send("GET", "/ready").status_code == 200
    client.send("GET", "/api/v1/preflight")
    client.send("GET", "/api/openapi.json")
    assert client.send("POST", f"{stream_path}/start", headers=bearer(token)).status_code == 200
    assert client.send("POST", f"{stream_path}/end", headers=bearer(admin_token)).status_code == 200
    assert client.send("DELETE", stream_path, headers=bearer(token)).status_code == 204
    return [token, other_token]


def test_secrets_not_in_logs_or_responses(
    complete_app_factory: Callable[..., Flask],
    live_server_factory: Callable[[Flask], Any],
    janus_factory: Callable[..., Any],
    coturn: Any,
    mariadb_url: str,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    admin_token = "admin-" + secrets.token_urlsafe(16)
    janus_secret = "janus-" + secrets.token_urlsafe(16)
    janus = janus_factory(api_secret=janus_secret)
    database_password = urlsplit(mariadb_url).password
    assert database_password, "the MariaDB fixture must give a URL with a password"
    caplog.set_level(logging.DEBUG)

    app = complete_app_factory(
        ADMIN_TOKEN=admin_token,
        JANUS_URL=janus.url,
        JANUS_API_SECRET=janus_secret,
        DATABASE_URL=mariadb_url,
        LOG_LEVEL="DEBUG",
        **coturn.app_settings(),
    )
    server = live_server_factory(app)
    client = Recorder(server.url)
    publish_tokens = _run_scenario(client, admin_token)
    server.stop()

    configured = {
        "ADMIN_TOKEN": admin_token,
        "TURN_SECRET": coturn.secret,
        "JANUS_API_SECRET": janus_secret,
        "database password": database_password,
        **{f"publish token {index}": token for index, token in enumerate(publish_tokens)},
    }
    captured = capfd.readouterr()
    logs = caplog.text + captured.out + captured.err
    # The scenario logged what happened, so an empty capture cannot pass.
    assert "werkzeug" in caplog.text or "HTTP/1.1" in logs
    assert "janus" in logs.lower()
    for name, secret in configured.items():
        assert secret not in logs, f"{name} appears in the logs"
        for label, text in client.responses:
            assert secret not in text, f"{name} appears in the response to {label}"
