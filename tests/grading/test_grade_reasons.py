"""How the grader words a check's reason: skip codes, common exceptions, hints and the table's widths."""

from __future__ import annotations

import io

import pytest

from tests.grade import DESCRIPTION_WIDTH, MESSAGES, REASON_WIDTH, Check, failure_hint, failure_reason, skip_reason, without_secrets, write_table

ES, EN = MESSAGES["es"], MESSAGES["en"]
REFUSED = (
    "requests.exceptions.ConnectionError: HTTPConnectionPool(host='127.0.0.1', port=9): Max retries exceeded with url: /health "
    "(Caused by NewConnectionError('<urllib3.connection.HTTPConnection object at 0x7f>: Failed to establish a new connection: "
    "[Errno 111] Connection refused'))"
)

# (skip message, language texts, code, reason)
SKIP_ROWS = [
    ("[needs_admin_token] set COURSE_ADMIN_TOKEN to the server's ADMIN_TOKEN to run this check against --base-url", ES,
     "needs_admin_token", "Falta el token de instructor: pásalo con --admin-token o COURSE_ADMIN_TOKEN."),
    ("[needs_turn_secret] set COURSE_TURN_SECRET to the server's TURN_SECRET to verify credentials against --base-url", EN,
     "needs_turn_secret", "The TURN secret is missing: give it with --turn-secret or COURSE_TURN_SECRET."),
    ("[media_unreachable] no WebRTC connection to the server's media within 15 s (ICE servers: turn:127.0.0.1:3478, " + "x" * 200 + ")", ES,
     "media_unreachable",
     "El par WebRTC del calificador no llega al medio del servidor (UDP a Janus o a su TURN). no WebRTC connection to the server's media "
     "within 15 s (ICE servers: turn:127.0.0.1:3478, " + "x" * 200 + ")"),
    ("[new_code] some detail", ES, "new_code", "[new_code] some detail"),
    ("media tests run only inside the hermetic network namespace", ES, "", "media tests run only inside the hermetic network namespace"),
]


@pytest.mark.parametrize(("message", "text", "code", "reason"), SKIP_ROWS)
def test_skip_reason(message: str, text: dict, code: str, reason: str) -> None:
    assert skip_reason(message, text) == (code, reason)


# (pytest's failure line, language texts, reason)
FAILURE_ROWS = [
    ("AssertionError: assert False", ES, "no se cumple lo esperado: assert False"),
    ("AssertionError: assert 404 == 200", EN, "expectation not met: assert 404 == 200"),
    ("json.decoder.JSONDecodeError: Expecting value: line 1 column 1 (char 0)", ES,
     "la respuesta no es JSON: JSONDecodeError: Expecting value: line 1 column 1 (char 0)"),
    ("requests.exceptions.JSONDecodeError: Expecting value: line 1 column 1 (char 0)", EN,
     "the response is not JSON: JSONDecodeError: Expecting value: line 1 column 1 (char 0)"),
    ("AssertionError: <!DOCTYPE HTML>", ES, "la respuesta es una página HTML en lugar de JSON: <!DOCTYPE HTML>"),
    ("AssertionError: assert '<html><body>Not Found</body></html>' == 'x'", EN,
     "the response is an HTML page instead of JSON: assert '<html><body>Not Found</body></html>' == 'x'"),
    ("requests.exceptions.ConnectionError: ('Connection aborted.', RemoteDisconnected('Remote end closed connection without response'))", ES,
     "no se pudo conectar con el servidor: ConnectionError: ('Connection aborted.', RemoteDisconnected('Remote end closed connection without response'))"),
    (REFUSED, ES, "no se pudo conectar con el servidor: ConnectionError: [Errno 111] Connection refused"),
    ("requests.exceptions.ReadTimeout: HTTPConnectionPool(host='127.0.0.1', port=9): Read timed out. (read timeout=30)", ES,
     "el servidor no respondió a tiempo: ReadTimeout: Read timed out. (read timeout=30)"),
    ("TimeoutError: no event within 10 s", EN, "the server did not answer in time: TimeoutError: no event within 10 s"),
    ("KeyError: 'id'", ES, "KeyError: 'id'"),
    ("Failed: the server exited", ES, "Failed: the server exited"),
]


@pytest.mark.parametrize(("message", "text", "reason"), FAILURE_ROWS)
def test_failure_reason(message: str, text: dict, reason: str) -> None:
    assert failure_reason(message, text) == reason


# (check id, fixtures of the check, failure line, hint)
HINT_ROWS = [
    ("m1.change_auth_table[x]", {"api", "admin_token"}, "AssertionError: assert 401 == 204", ES["hint_admin_token"]),
    ("m3.admin_ends_stream", {"admin"}, "AssertionError: assert 403 == 200", ES["hint_admin_token"]),
    ("m3.admin_ends_stream", {"admin"}, "AssertionError: assert 404 == 200", ""),
    ("m1.create_stream", {"api"}, "AssertionError: assert 401 == 201", ""),
    ("m0.turn_credential_is_hmac_of_username", {"api", "turn_secret"}, "AssertionError: assert 'a=' == 'b='", ES["hint_turn_secret"]),
    ("m0.ice_servers_never_contain_secret", {"api", "turn_secret"}, "AssertionError: assert '***' not in '...'", ""),
]


@pytest.mark.parametrize(("check_id", "fixtures", "message", "hint"), HINT_ROWS)
def test_failure_hint(check_id: str, fixtures: set[str], message: str, hint: str) -> None:
    assert failure_hint(check_id, fixtures, message, ES) == hint


def test_hints_name_the_options() -> None:
    assert ES["hint_admin_token"] == "el servidor rechazó el token de instructor: revisa --admin-token / COURSE_ADMIN_TOKEN"
    assert ES["hint_turn_secret"].endswith("revisa --turn-secret / COURSE_TURN_SECRET")


def test_secrets_are_masked() -> None:
    assert without_secrets("assert 'tok-123' not in 'a tok-123 b'", ["tok-123", ""]) == "assert '***' not in 'a *** b'"


def test_table_keeps_ids_whole_and_marks_shortened_cells() -> None:
    long_id = "m1.change_auth_table[empty-401-unauthorized-POST-/start-None-publish token of another stream]"
    check = Check(long_id, 1, True, "failed", "d" * 200, "r" * 300)
    stream = io.StringIO()

    write_table(stream, ES, [check], [{"module": 1, "passed": 0, "required": 1, "percent": 0.0}], {"passed": 0, "required": 1, "percent": 0.0}, False)

    [row] = [line for line in stream.getvalue().splitlines() if line.startswith("1 ")]
    assert long_id in row
    assert "d" * (DESCRIPTION_WIDTH - 1) + "…" in row
    assert row.endswith("r" * (REASON_WIDTH - 1) + "…")
    assert len(row) <= len(long_id) + DESCRIPTION_WIDTH + REASON_WIDTH + 40
    assert check.reason == "r" * 300
