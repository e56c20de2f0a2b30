"""Settings: documented defaults, then the environment, then the caller's mapping."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Callable, Mapping


class ConfigError(RuntimeError):
    """A setting is missing or invalid; the message names the variable and what to set."""


def _parse_bool(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError("expected true/false, 1/0, yes/no or on/off")


def _parse_list(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


def _parse_positive_int(value: str) -> int:
    number = int(value)
    if number < 1:
        raise ValueError("expected an integer of at least 1")
    return number


def _parse_positive_float(value: str) -> float:
    number = float(value)
    if number <= 0:
        raise ValueError("expected a number greater than 0")
    return number


@dataclass(frozen=True)
class Setting:
    """One setting: its environment variable, default, parser and meaning."""

    name: str
    default: Any
    parse: Callable[[str], Any]
    help: str
    secret: bool = False


# Every setting the code reads. README.md renders this table; keep both in step.
SETTINGS: tuple[Setting, ...] = (
    Setting("SECRET_KEY", "dev-only-change-me", str, "Flask secret key; set a long random value in production.", secret=True),
    Setting("DATABASE_URL", "", str, "SQLAlchemy URL. Empty: SQLite file instance/streaming.db. MySQL/MariaDB: mysql+pymysql://user:pw@host:3306/db?charset=utf8mb4."),
    Setting("ADMIN_TOKEN", "", str, "Instructor token allowed to change any stream. Empty: no admin access.", secret=True),
    Setting("DEFAULT_LOCALE", "es", str, "Language of responses when the request names none (es or en)."),
    Setting("CORS_ORIGINS", ["*"], _parse_list, "Comma-separated origins allowed to call the API from a browser, or * for any."),
    Setting("LOG_LEVEL", "INFO", str, "Python logging level: DEBUG, INFO, WARNING or ERROR."),
    Setting("MAX_CONTENT_LENGTH", 1_048_576, _parse_positive_int, "Largest request body accepted, in bytes; larger ones get 413."),
    Setting("STUN_URLS", [], _parse_list, "Comma-separated STUN urls served to clients, e.g. stun:turn.example.org:3478."),
    Setting("TURN_URLS", [], _parse_list, "Comma-separated TURN urls, e.g. turn:turn.example.org:3478?transport=udp,turns:turn.example.org:443?transport=tcp."),
    Setting("TURN_SECRET", "", str, "coturn static-auth-secret used to sign short-lived TURN credentials.", secret=True),
    Setting("TURN_TTL", 3600, _parse_positive_int, "Lifetime of served TURN credentials, in seconds."),
    Setting("JANUS_URL", "http://127.0.0.1:8088/janus", str, "Janus HTTP REST endpoint (keep it on localhost)."),
    Setting("JANUS_API_SECRET", "", str, "Janus api_secret, when janus.jcfg sets one.", secret=True),
    Setting("JANUS_REQUIRED", True, _parse_bool, "Whether /ready answers 503 while Janus is unreachable."),
    Setting("JANUS_TIMEOUT", 10.0, _parse_positive_float, "Seconds to wait for any Janus reply before answering 504."),
    Setting("JANUS_POLL_MAXEV", 10, _parse_positive_int, "Events fetched per Janus long-poll."),
    Setting("RECONNECT_WINDOW", 30.0, _parse_positive_float, "Seconds a publisher may take to come back before its stream is ENDED."),
    Setting("PUBLISH_CONNECT_TIMEOUT", 30.0, _parse_positive_float, "Seconds from Janus's SDP answer to a connected publisher (webrtcup) before the session is FAILED."),
    Setting("DEFAULT_MAX_VIEWERS", 50, _parse_positive_int, "Viewer limit of a new stream when the request sets none."),
    Setting("VIEWER_ANSWER_TIMEOUT", 30.0, _parse_positive_float, "Seconds a viewer may take to send its answer before it is removed."),
    Setting("VIEWER_MEDIA_TIMEOUT", 30.0, _parse_positive_float, "Seconds a viewer may go without media: after its answer until webrtcup, after its media stops, and after its last bound /ws socket closes."),
    Setting("WS_PING_INTERVAL", 25.0, _parse_positive_float, "Seconds between server pings on /ws sockets."),
    Setting("WS_MAX_SOCKETS", 200, _parse_positive_int, "Open /ws sockets per process; one more is closed with code 1013."),
)

SETTINGS_BY_NAME = {setting.name: setting for setting in SETTINGS}


def load_settings(overrides: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Build the settings mapping from defaults, the environment and ``overrides``.

    Raises ConfigError naming the variable when an environment value does not parse.
    Values in ``overrides`` are taken as they are (already typed), except strings,
    which are parsed like environment values.
    """
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}

    for setting in SETTINGS:
        raw = environ.get(setting.name)
        if raw is None:
            values[setting.name] = setting.default
            continue
        values[setting.name] = _parse(setting, raw, source="environment variable")

    for name, value in (overrides or {}).items():
        setting = SETTINGS_BY_NAME.get(name)
        if setting is not None and isinstance(value, str) and setting.parse is not str:
            value = _parse(setting, value, source="setting")
        values[name] = value

    if values["DEFAULT_LOCALE"] not in {"es", "en"}:
        raise ConfigError(f"DEFAULT_LOCALE={values['DEFAULT_LOCALE']!r} is invalid: set es or en.")
    return values


def _parse(setting: Setting, raw: str, source: str) -> Any:
    try:
        return setting.parse(raw)
    except ValueError as exc:
        shown = "<hidden>" if setting.secret else repr(raw)
        raise ConfigError(f"{source} {setting.name}={shown} is invalid ({exc}). {setting.help}") from None


def settings_table_markdown() -> str:
    """Render the settings as a Markdown table for the README."""
    lines = ["| variable | default | meaning |", "| --- | --- | --- |"]
    for setting in SETTINGS:
        default = setting.default
        if isinstance(default, list):
            default = ",".join(default)
        shown = f"`{default}`" if default not in ("", None) else "(empty)"
        lines.append(f"| `{setting.name}` | {shown} | {setting.help} |")
    return "\n".join(lines)
