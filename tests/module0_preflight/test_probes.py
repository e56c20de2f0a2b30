"""STUN/TURN url parsing and the small helpers of the preflight probes."""

from __future__ import annotations

import pytest

from module0_preflight.probes import format_address, is_loopback_host, parse_ice_url

# (url, scheme, host, port, transport)
VALID_URLS = [
    ("stun:stun.example.org", "stun", "stun.example.org", 3478, "udp"),
    ("stun:127.0.0.1:19302", "stun", "127.0.0.1", 19302, "udp"),
    ("STUN:127.0.0.1", "stun", "127.0.0.1", 3478, "udp"),
    ("turn:turn.example.org:3478?transport=udp", "turn", "turn.example.org", 3478, "udp"),
    ("turn:turn.example.org?transport=TCP", "turn", "turn.example.org", 3478, "tcp"),
    ("turn:turn.example.org", "turn", "turn.example.org", 3478, "udp"),
    ("turns:turn.example.org:443?transport=tcp", "turns", "turn.example.org", 443, "tcp"),
    ("turns:turn.example.org", "turns", "turn.example.org", 5349, "tcp"),
    ("turn:[::1]:3478", "turn", "::1", 3478, "udp"),
]

INVALID_URLS = [
    "",
    "turn",
    "http://turn.example.org",
    "turn://turn.example.org",
    "turn:",
    "turn::3478",
    "turn:turn.example.org:port",
    "turn:turn.example.org:3478:1",
    "turn:user@turn.example.org",
    "turn:turn.example.org/path",
    "turn:turn.example.org?transport=sctp",
    "turn:turn.example.org?foo=bar",
    "stun:stun.example.org?transport=tcp",
]


@pytest.mark.parametrize(("url", "scheme", "host", "port", "transport"), VALID_URLS)
def test_parse_ice_url_valid(url: str, scheme: str, host: str, port: int, transport: str) -> None:
    parsed = parse_ice_url(url)

    assert parsed.scheme == scheme
    assert parsed.host == host
    assert parsed.port == port
    assert parsed.transport == transport
    assert parsed.url == url


@pytest.mark.parametrize("url", INVALID_URLS)
def test_parse_ice_url_invalid(url: str) -> None:
    with pytest.raises(ValueError):
        parse_ice_url(url)


@pytest.mark.parametrize(("url", "kind", "secure"), [("stun:h", "stun", False), ("turn:h", "turn", False), ("turns:h", "turn", True), ("stuns:h", "stun", True)])
def test_ice_url_kind_and_security(url: str, kind: str, secure: bool) -> None:
    parsed = parse_ice_url(url)

    assert parsed.kind == kind
    assert parsed.secure is secure


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("127.0.0.2", True), ("::1", True), ("[::1]", True), ("localhost", True), ("10.0.0.1", False), ("stream.example.org", False)],
)
def test_is_loopback_host(host: str, loopback: bool) -> None:
    assert is_loopback_host(host) is loopback


@pytest.mark.parametrize(("address", "text"), [(("127.0.0.1", 3478), "127.0.0.1:3478"), (("::1", 5), "[::1]:5"), (None, "?")])
def test_format_address(address, text: str) -> None:
    assert format_address(address) == text
