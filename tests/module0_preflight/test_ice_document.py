"""validate_ice_document: what the check CLI reports about a served iceServers document."""

from __future__ import annotations

import pytest

from module0_preflight.service import validate_ice_document

NOW = 1_800_000_000
TTL = 3600
GOOD_TURN = {"urls": ["turn:127.0.0.1:3478?transport=udp"], "username": f"{NOW + TTL}:student", "credential": "c2lnbmF0dXJl"}
STUN = {"urls": ["stun:127.0.0.1:3478"]}

# (document, [(status, code)] in report order)
DOCUMENT_ROWS = [
    ({"iceServers": [STUN, GOOD_TURN], "ttl": TTL}, [("ok", "ice_ok")]),
    ({"iceServers": [{"urls": "stun:127.0.0.1"}, GOOD_TURN], "ttl": TTL}, [("ok", "ice_ok")]),
    ({"iceServers": [STUN], "ttl": TTL}, [("ok", "ice_ok_without_turn"), ("warn", "ice_no_turn")]),
    ({"iceServers": [], "ttl": TTL}, [("ok", "ice_ok_without_turn"), ("warn", "ice_no_turn")]),
    ({"iceServers": [STUN, GOOD_TURN]}, [("ok", "ice_ok"), ("warn", "ice_ttl_missing")]),
    ({"iceServers": [STUN, GOOD_TURN], "ttl": "3600"}, [("ok", "ice_ok"), ("warn", "ice_ttl_missing")]),
    ({"iceServers": [{**GOOD_TURN, "password": "x"}], "ttl": TTL}, [("ok", "ice_ok"), ("warn", "ice_password_key")]),
    ({"iceServers": [{**STUN, "credentialType": "password"}, GOOD_TURN], "ttl": TTL}, [("ok", "ice_ok"), ("warn", "ice_unknown_key")]),
    ({"iceServers": [{**GOOD_TURN, "username": "student"}], "ttl": TTL}, [("ok", "ice_ok"), ("warn", "ice_username_not_rest")]),
    ({"iceServers": [{**GOOD_TURN, "username": f"{NOW + TTL + 600}:student"}], "ttl": TTL}, [("ok", "ice_ok"), ("warn", "clock_skew")]),
    ({"iceServers": [{**GOOD_TURN, "username": f"{NOW + TTL - 30}:student"}], "ttl": TTL}, [("ok", "ice_ok")]),
    ({"iceServers": [{**GOOD_TURN, "username": f"{NOW - 5}:student"}], "ttl": TTL}, [("fail", "ice_credential_expired")]),
    ({"iceServers": [{"urls": GOOD_TURN["urls"]}], "ttl": TTL}, [("fail", "ice_turn_without_credentials")]),
    ({"iceServers": [{"urls": GOOD_TURN["urls"], "username": "u", "password": "p"}], "ttl": TTL}, [("fail", "ice_turn_without_credentials"), ("warn", "ice_password_key")]),
    ({"iceServers": [{"urls": ["http://127.0.0.1"]}], "ttl": TTL}, [("fail", "ice_url_invalid"), ("warn", "ice_no_turn")]),
    ({"iceServers": [{"urls": []}], "ttl": TTL}, [("fail", "ice_entry_invalid"), ("warn", "ice_no_turn")]),
    ({"iceServers": [{"url": "stun:127.0.0.1"}], "ttl": TTL}, [("fail", "ice_entry_invalid"), ("warn", "ice_no_turn")]),
    ({"iceServers": ["stun:127.0.0.1"], "ttl": TTL}, [("fail", "ice_entry_invalid"), ("warn", "ice_no_turn")]),
    ({"iceServers": {"urls": []}, "ttl": TTL}, [("fail", "ice_bad_document")]),
    (["stun:127.0.0.1"], [("fail", "ice_bad_document")]),
    (None, [("fail", "ice_bad_document")]),
]


@pytest.mark.parametrize(("document", "expected"), DOCUMENT_ROWS)
def test_ice_document_findings(document, expected: list[tuple[str, str]]) -> None:
    found = validate_ice_document(document, now=NOW)

    assert [(result.status, result.code) for result in found.results] == expected


def test_ice_document_lists_urls_to_probe() -> None:
    document = {"iceServers": [STUN, {**GOOD_TURN, "urls": ["turn:127.0.0.1:3478?transport=udp", "turns:127.0.0.1:5349"]}], "ttl": TTL}

    found = validate_ice_document(document, now=NOW)

    assert found.stun_urls == ["stun:127.0.0.1:3478"]
    assert [url for url, _, _ in found.turn_servers] == ["turn:127.0.0.1:3478?transport=udp", "turns:127.0.0.1:5349"]
    assert all(username == GOOD_TURN["username"] for _, username, _ in found.turn_servers)


def test_ice_document_results_hold_no_credential() -> None:
    found = validate_ice_document({"iceServers": [GOOD_TURN], "ttl": TTL}, now=NOW)

    for result in found.results:
        assert GOOD_TURN["credential"] not in str(result.data)


def test_ice_document_failures_are_required() -> None:
    found = validate_ice_document({"iceServers": [{"urls": GOOD_TURN["urls"]}]}, now=NOW)

    assert [result.required for result in found.results if result.status == "fail"] == [True]
    assert all(not result.required for result in found.results if result.status == "warn")
