"""GET /api/v1/ice-servers: exact RTCIceServer keys and short-lived TURN REST API credentials."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

import pytest

from module0_preflight.probes import parse_ice_url
from tests.services.api_client import ApiClient

# Browsers and flutter_webrtc read these keys of an RTCIceServer and drop any other.
ICE_SERVER_KEYS = {"urls", "username", "credential"}
# Allowed difference between the username's expiry and "now + ttl" (clocks, slow requests).
CLOCK_TOLERANCE = 60


def _turn_entries(body: dict) -> list[dict]:
    return [entry for entry in body["iceServers"] if any(url.startswith("turn") for url in entry["urls"])]


@pytest.mark.grade(module=0, es="GET /api/v1/ice-servers devuelve iceServers y un ttl entero positivo")
def test_ice_servers_document_shape(api: ApiClient) -> None:
    """GET /api/v1/ice-servers returns iceServers and a positive integer ttl."""
    response = api.get("/api/v1/ice-servers")
    body = response.json()

    assert response.status_code == 200
    assert set(body) == {"iceServers", "ttl"}
    assert isinstance(body["ttl"], int)
    assert body["ttl"] > 0
    assert isinstance(body["iceServers"], list)


@pytest.mark.grade(module=0, es="Cada servidor ICE tiene solo urls, username y credential, con URL válidas")
def test_ice_servers_exact_keys(api: ApiClient) -> None:
    """Each ICE server has only urls, username and credential, with valid URLs."""
    body = api.get("/api/v1/ice-servers").json()

    for entry in body["iceServers"]:
        assert set(entry) <= ICE_SERVER_KEYS
        assert "password" not in entry
        assert isinstance(entry["urls"], list)
        assert entry["urls"]
        for url in entry["urls"]:
            parse_ice_url(url)


@pytest.mark.grade(module=0, es="Hay una entrada TURN con username y credential; las STUN llevan solo urls")
def test_ice_servers_turn_entry_has_credentials(api: ApiClient) -> None:
    """A TURN entry has username and credential; STUN entries have only urls."""
    body = api.get("/api/v1/ice-servers").json()
    turn_entries = _turn_entries(body)

    assert turn_entries, "the server serves no TURN entry; configure TURN_URLS and TURN_SECRET"
    for entry in turn_entries:
        assert set(entry) == ICE_SERVER_KEYS
        assert isinstance(entry["username"], str)
        assert isinstance(entry["credential"], str)
    for entry in body["iceServers"]:
        if entry not in turn_entries:
            assert set(entry) == {"urls"}


@pytest.mark.grade(module=0, es="El usuario TURN es <caducidad>:<usuario> y caduca a los ttl segundos")
def test_turn_username_expires_after_ttl(api: ApiClient) -> None:
    """The TURN username is <expiry>:<user> and expires after ttl seconds."""
    before = time.time()
    body = api.get("/api/v1/ice-servers").json()
    after = time.time()

    for entry in _turn_entries(body):
        expiry, separator, user = entry["username"].partition(":")
        assert separator == ":"
        assert user
        assert expiry.isdigit()
        assert before + body["ttl"] - CLOCK_TOLERANCE <= int(expiry) <= after + body["ttl"] + CLOCK_TOLERANCE


@pytest.mark.grade(module=0, es="La credencial TURN es base64(HMAC-SHA1(secreto, usuario))")
def test_turn_credential_is_hmac_of_username(api: ApiClient, turn_secret: str) -> None:
    """The TURN credential is base64(HMAC-SHA1(secret, username))."""
    body = api.get("/api/v1/ice-servers").json()

    for entry in _turn_entries(body):
        digest = hmac.new(turn_secret.encode(), entry["username"].encode(), hashlib.sha1).digest()
        assert entry["credential"] == base64.b64encode(digest).decode()


@pytest.mark.grade(module=0, es="Cada petición recibe un usuario TURN distinto")
def test_turn_usernames_differ_per_request(api: ApiClient) -> None:
    """Each request gets a different TURN username."""
    first = _turn_entries(api.get("/api/v1/ice-servers").json())
    second = _turn_entries(api.get("/api/v1/ice-servers").json())

    assert first, "the server serves no TURN entry; configure TURN_URLS and TURN_SECRET"
    assert first[0]["username"].partition(":")[2] != second[0]["username"].partition(":")[2]


@pytest.mark.grade(module=0, es="GET /api/v1/ice-servers no contiene nunca el secreto TURN")
def test_ice_servers_never_contain_secret(api: ApiClient, turn_secret: str) -> None:
    """GET /api/v1/ice-servers never contains the TURN secret."""
    response = api.get("/api/v1/ice-servers")

    assert turn_secret not in response.text


# (settings, kinds of the served entries)
SETTINGS_ROWS = [
    ({"STUN_URLS": [], "TURN_URLS": [], "TURN_SECRET": ""}, []),
    ({"STUN_URLS": ["stun:127.0.0.1:3478"], "TURN_URLS": [], "TURN_SECRET": ""}, ["stun"]),
    ({"STUN_URLS": [], "TURN_URLS": ["turn:127.0.0.1:3478"], "TURN_SECRET": ""}, []),
    ({"STUN_URLS": [], "TURN_URLS": ["turn:127.0.0.1:3478"], "TURN_SECRET": "s"}, ["turn"]),
    ({"STUN_URLS": ["stun:127.0.0.1:3478"], "TURN_URLS": ["turn:127.0.0.1:3478", "turns:127.0.0.1:5349?transport=tcp"], "TURN_SECRET": "s"}, ["stun", "turn"]),
    ({"STUN_URLS": "stun:127.0.0.1:1, stun:127.0.0.1:2", "TURN_URLS": "", "TURN_SECRET": ""}, ["stun"]),
]


@pytest.mark.parametrize(("settings", "kinds"), SETTINGS_ROWS)
def test_ice_servers_follow_settings(make_app, settings: dict, kinds: list[str]) -> None:
    api = ApiClient(app=make_app(**settings, TURN_TTL=120))

    body = api.get("/api/v1/ice-servers").json()
    served = ["turn" if "credential" in entry else "stun" for entry in body["iceServers"]]

    assert served == kinds
    assert body["ttl"] == 120


def test_ice_servers_turn_urls_kept_in_order(make_app) -> None:
    urls = ["turn:127.0.0.1:3478?transport=udp", "turn:127.0.0.1:3478?transport=tcp", "turns:127.0.0.1:5349?transport=tcp"]
    api = ApiClient(app=make_app(TURN_URLS=urls, TURN_SECRET="s"))

    body = api.get("/api/v1/ice-servers").json()

    assert body["iceServers"] == [{"urls": urls, "username": body["iceServers"][0]["username"], "credential": body["iceServers"][0]["credential"]}]
