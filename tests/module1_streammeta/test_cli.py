"""The init-db and seed-demo commands, in Spanish by default and in English on request."""

from __future__ import annotations

import re

import pytest
from sqlalchemy.engine import make_url

from tests.module1_streammeta.helpers import bearer
from tests.services.api_client import ApiClient

STREAMS = "/api/v1/streams"
# Locale variables cleared so the host's settings cannot change the result.
NO_LOCALE = {"LC_ALL": None, "LC_MESSAGES": None, "LANG": None}
SEED_LINE = re.compile(r"^  ([0-9a-f-]{36})  (CREATED|LIVE|ENDED)\s+(.+)$")
TOKEN_LINE = re.compile(r"^    (?:token de publicación|publish token): (\S+)$")


@pytest.mark.parametrize(
    ("args", "env", "expected"),
    [
        ([], {}, "Tablas listas en"),
        (["--lang", "en"], {}, "Tables ready in"),
        (["--lang", "es"], {"LANG": "en_US.UTF-8"}, "Tablas listas en"),
        ([], {"LANG": "en_US.UTF-8"}, "Tables ready in"),
        ([], {"LANG": "es_ES.UTF-8"}, "Tablas listas en"),
        ([], {"LANG": "C.UTF-8"}, "Tablas listas en"),
        ([], {"LC_ALL": "es_AR.UTF-8", "LANG": "en_GB.UTF-8"}, "Tablas listas en"),
        ([], {"LC_MESSAGES": "en_US.UTF-8", "LANG": "es_ES.UTF-8"}, "Tables ready in"),
    ],
)
def test_init_db_language(app, args: list[str], env: dict, expected: str) -> None:
    result = app.test_cli_runner().invoke(args=["init-db", *args], env={**NO_LOCALE, **env})

    assert result.exit_code == 0, result.output
    assert result.output.startswith(expected)
    assert "streams" in result.output


def test_init_db_hides_password(app) -> None:
    password = make_url(app.config["SQLALCHEMY_DATABASE_URI"]).password

    result = app.test_cli_runner().invoke(args=["init-db"], env=NO_LOCALE)

    assert result.exit_code == 0, result.output
    if password:
        assert password not in result.output


def test_init_db_rejects_unknown_language(app) -> None:
    result = app.test_cli_runner().invoke(args=["init-db", "--lang", "fr"], env=NO_LOCALE)

    assert result.exit_code == 2
    assert "fr" in result.output


@pytest.mark.parametrize(("args", "heading"), [([], "Emisiones de demostración"), (["--lang", "en"], "Demo streams")])
def test_seed_demo_prints_ids_and_tokens(app, args: list[str], heading: str) -> None:
    result = app.test_cli_runner().invoke(args=["seed-demo", *args], env=NO_LOCALE)

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith(heading)
    streams = [SEED_LINE.match(line) for line in lines[1::2]]
    tokens = [TOKEN_LINE.match(line) for line in lines[2::2]]
    assert all(streams), lines
    assert all(tokens), lines
    assert len(streams) == 4
    assert {match.group(2) for match in streams} == {"CREATED", "LIVE", "ENDED"}

    api = ApiClient(app=app)
    for stream_match, token_match in zip(streams, tokens):
        stream_id, status, title = stream_match.groups()
        stored = api.get(f"{STREAMS}/{stream_id}").json()
        assert stored["status"] == status
        assert stored["title"] == title.strip()
        # Each printed token must own its stream: a token of another stream gets 403.
        response = api.patch(f"{STREAMS}/{stream_id}", json={"description": "probada"}, headers=bearer(token_match.group(1)))
        assert response.status_code == (409 if status == "ENDED" else 200), response.text


def test_seed_demo_twice_adds_more(app) -> None:
    runner = app.test_cli_runner()

    runner.invoke(args=["seed-demo"], env=NO_LOCALE)
    runner.invoke(args=["seed-demo"], env=NO_LOCALE)

    assert ApiClient(app=app).get(STREAMS).json()["total"] == 8
