"""Settings: documented defaults, environment parsing, and start-up errors that name the variable."""

from __future__ import annotations

import pytest

from common.config import SETTINGS, ConfigError, load_settings, settings_table_markdown
from module0_preflight import create_app


def test_defaults_without_environment() -> None:
    values = load_settings(environ={})

    for setting in SETTINGS:
        assert values[setting.name] == setting.default


# (variable, environment value, parsed value)
PARSED_ROWS = [
    ("STUN_URLS", "stun:a.example:3478, stun:b.example:3478", ["stun:a.example:3478", "stun:b.example:3478"]),
    ("TURN_URLS", "", []),
    ("CORS_ORIGINS", "https://a.example,,https://b.example", ["https://a.example", "https://b.example"]),
    ("TURN_TTL", "600", 600),
    ("JANUS_REQUIRED", "no", False),
    ("JANUS_REQUIRED", "ON", True),
    ("JANUS_TIMEOUT", "2.5", 2.5),
    ("DEFAULT_LOCALE", "en", "en"),
]


@pytest.mark.parametrize(("variable", "raw", "parsed"), PARSED_ROWS)
def test_environment_parsed(variable: str, raw: str, parsed) -> None:
    assert load_settings(environ={variable: raw})[variable] == parsed


# (variable, invalid environment value)
INVALID_ROWS = [
    ("MAX_CONTENT_LENGTH", "1MB"),
    ("MAX_CONTENT_LENGTH", "0"),
    ("TURN_TTL", "-5"),
    ("TURN_TTL", "one hour"),
    ("JANUS_REQUIRED", "maybe"),
    ("JANUS_TIMEOUT", "0"),
    ("JANUS_TIMEOUT", "soon"),
    ("JANUS_POLL_MAXEV", "1.5"),
    ("DEFAULT_LOCALE", "fr"),
]


@pytest.mark.parametrize(("variable", "raw"), INVALID_ROWS)
def test_invalid_environment_names_variable(variable: str, raw: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings(environ={variable: raw})

    assert variable in str(raised.value)
    assert repr(raw) in str(raised.value)


def test_invalid_setting_stops_app_start(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setenv("TURN_TTL", "forever")

    with pytest.raises(ConfigError, match="TURN_TTL"):
        create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'test.db'}"})


def test_string_override_parsed_like_environment() -> None:
    values = load_settings({"TURN_TTL": "90", "STUN_URLS": "stun:a.example"}, environ={})

    assert values["TURN_TTL"] == 90
    assert values["STUN_URLS"] == ["stun:a.example"]


def test_invalid_string_override_names_setting() -> None:
    with pytest.raises(ConfigError, match="TURN_TTL"):
        load_settings({"TURN_TTL": "never"}, environ={})


def test_settings_table_lists_every_setting() -> None:
    table = settings_table_markdown()

    for setting in SETTINGS:
        assert f"`{setting.name}`" in table
        assert setting.help in table
