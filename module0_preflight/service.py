"""Preflight checks as data: readiness, settings, the ICE servers document, STUN and TURN.

No Flask imports, so the checks run in the server, in the `check` CLI and in tests alike.
Each check returns a CheckResult with a stable ``code``; routes.py and check.py turn the
code into a sentence in the reader's language (see messages.py).
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from dataclasses import dataclass, field
from typing import Any

import requests

from module0_preflight import probes
from module0_preflight.probes import IceUrl, ProbeError

logger = logging.getLogger(__name__)

OK, WARN, FAIL, SKIP = "ok", "warn", "fail", "skip"

# Keys an RTCIceServer entry may carry; browsers and flutter_webrtc drop any other key.
ICE_SERVER_KEYS = ("urls", "username", "credential")
# How far the TURN username's expiry may be from "now + ttl" before clocks count as skewed.
CLOCK_SKEW_TOLERANCE = 60
# TURN REST API usernames: "<expiry unix time>:<user>".
_REST_USERNAME = re.compile(r"^(\d{9,12}):")


@dataclass
class CheckResult:
    """One check: its name, status (ok, warn, fail, skip), result code and the values found.

    ``data`` fills the code's message and is also returned to machines, so it never contains
    a secret. A failed check with ``required`` set makes the whole run fail.
    """

    name: str
    status: str
    code: str
    data: dict[str, Any] = field(default_factory=dict)
    required: bool = True

    @property
    def ok(self) -> bool:
        return self.status == OK

    @property
    def blocking(self) -> bool:
        """Return True when this check makes the run (or readiness) fail."""
        return self.required and self.status == FAIL


def from_error(name: str, error: ProbeError, *, required: bool = True, status: str = FAIL, **data: Any) -> CheckResult:
    """Build the failed CheckResult for a probe error, keeping its message values."""
    return CheckResult(name, status, error.code, {**data, **error.params}, required=required)


def skipped(name: str, after: str, *, required: bool = True, **data: Any) -> CheckResult:
    """Build the result of a check not run because the check ``after`` failed."""
    return CheckResult(name, SKIP, "skipped", {**data, "after": after}, required=required)


def all_passed(results: list[CheckResult]) -> bool:
    """Return True when no required check failed."""
    return not any(result.blocking for result in results)


# --- Server-side: database, Janus and settings ---


def check_database(reachable: bool, detail: str) -> CheckResult:
    """Wrap the database ping's outcome (backend name, or the error class when it failed)."""
    if reachable:
        return CheckResult("database", OK, "database_ok", {"backend": detail})
    return CheckResult("database", FAIL, "database_unreachable", {"error": detail})


def check_janus(janus_url: str, timeout: float, api_secret: str = "", verify: bool | str = True) -> CheckResult:
    """GET Janus's /info; report its version and whether the videoroom plugin is loaded."""
    result = _query_janus_info(janus_url.rstrip("/"), timeout, api_secret, verify)
    if result.status == FAIL:
        _log_failure(result)
    return result


def _log_failure(result: CheckResult) -> None:
    # INFO rather than WARNING: the CLI leaves logging unconfigured, and Python then prints
    # WARNING records to stderr in the middle of its report.
    logger.info("%s check failed: %s %s", result.name, result.code, result.data)


def _query_janus_info(url: str, timeout: float, api_secret: str, verify: bool | str) -> CheckResult:
    params = {"apisecret": api_secret} if api_secret else None
    started = time.perf_counter()
    try:
        response = requests.get(url + "/info", params=params, timeout=timeout, verify=verify)
    except requests.Timeout:
        return CheckResult("janus", FAIL, "janus_timeout", {"url": url, "timeout": f"{timeout:g}"})
    except requests.RequestException as exc:
        return CheckResult("janus", FAIL, "janus_unreachable", {"url": url, "error": probes.describe_request_error(exc)})
    try:
        body = response.json()
    except ValueError:
        return CheckResult("janus", FAIL, "janus_not_json", {"url": url, "status": response.status_code})
    if not isinstance(body, dict):
        return CheckResult("janus", FAIL, "janus_not_json", {"url": url, "status": response.status_code})

    elapsed_ms = round((time.perf_counter() - started) * 1000, 1)
    if body.get("janus") != "server_info":
        error = body.get("error") if isinstance(body.get("error"), dict) else {}
        return CheckResult("janus", FAIL, "janus_rejected", {"url": url, "reason": error.get("reason", "unexpected reply")})

    plugins = body.get("plugins") if isinstance(body.get("plugins"), dict) else {}
    data = {"url": url, "version": str(body.get("version_string", "?")), "videoroom": "janus.plugin.videoroom" in plugins, "elapsed_ms": elapsed_ms}
    if not data["videoroom"]:
        return CheckResult("janus", FAIL, "janus_no_videoroom", data)
    return CheckResult("janus", OK, "janus_ok", data)


def check_ice_settings(stun_urls: list[str], turn_urls: list[str], turn_secret: str) -> list[CheckResult]:
    """Check that STUN and TURN are configured consistently (never required for readiness)."""
    results: list[CheckResult] = []
    if stun_urls:
        results.append(CheckResult("stun_configured", OK, "stun_configured", {"urls": list(stun_urls)}, required=False))
    else:
        results.append(CheckResult("stun_configured", WARN, "stun_not_configured", required=False))

    if turn_urls and not turn_secret:
        results.append(CheckResult("turn_configured", FAIL, "turn_secret_missing", {"urls": list(turn_urls)}, required=False))
    elif turn_urls:
        results.append(CheckResult("turn_configured", OK, "turn_configured", {"urls": list(turn_urls)}, required=False))
    else:
        results.append(CheckResult("turn_configured", WARN, "turn_not_configured", required=False))

    for url in [*stun_urls, *turn_urls]:
        try:
            probes.parse_ice_url(url)
        except ValueError:
            name = "turn_configured" if url.lower().startswith("turn") else "stun_configured"
            results.append(CheckResult(name, FAIL, "ice_url_invalid", {"url": url}, required=False))
    return results


# --- STUN and TURN ---


async def check_stun(url: str, timeout: float, required: bool = True) -> CheckResult:
    """Run a STUN binding against ``url`` and report the mapped address."""
    data: dict[str, Any] = {"url": url}
    try:
        ice_url = probes.parse_ice_url(url)
    except ValueError:
        return CheckResult("stun", FAIL, "ice_url_invalid", data, required=required)
    try:
        mapped = await probes.stun_binding(ice_url, timeout)
    except ProbeError as error:
        status = SKIP if error.code == "stun_unsupported" else FAIL
        return from_error("stun", error, required=required and status == FAIL, status=status, **data)
    return CheckResult("stun", OK, "stun_ok", {**data, "mapped": probes.format_address(mapped)}, required=required)


async def check_turn(url: str, username: str, credential: str, timeout: float, ca_file: str | None = None, required: bool = True) -> CheckResult:
    """Create (and release) a TURN allocation on ``url`` with the served credentials."""
    data: dict[str, Any] = {"url": url}
    try:
        ice_url = probes.parse_ice_url(url)
    except ValueError:
        return CheckResult("turn", FAIL, "ice_url_invalid", data, required=required)
    data["transport"] = ("tls" if ice_url.secure else ice_url.transport)
    try:
        allocation = await probes.turn_allocation(ice_url, username, credential, timeout, ca_file=ca_file)
    except ProbeError as error:
        status = SKIP if error.code == "turn_unsupported" else FAIL
        result = from_error("turn", error, required=required and status == FAIL, status=status, **data)
        result.data["transport"] = data["transport"]
        return result
    data.update(relayed=probes.format_address(allocation.relayed), mapped=probes.format_address(allocation.mapped))
    return CheckResult("turn", OK, "turn_ok", data, required=required)


def probe_ice_servers(stun_urls: list[str], turn_urls: list[str], username: str, credential: str, timeout: float) -> list[CheckResult]:
    """Bind on every STUN url and allocate on every TURN url concurrently (not required).

    The server's own view: a success proves that coturn accepts TURN_SECRET, not that
    clients outside can reach it.
    """
    if not stun_urls and not (turn_urls and credential):
        return []

    async def run_all() -> list[CheckResult]:
        checks = [check_stun(url, timeout, required=False) for url in stun_urls if _is_valid_ice_url(url)]
        if credential:
            checks += [check_turn(url, username, credential, timeout, required=False) for url in turn_urls if _is_valid_ice_url(url)]
        return list(await asyncio.gather(*checks))

    results = asyncio.run(run_all())
    for result in results:
        if result.status == FAIL:
            _log_failure(result)
    return results


def _is_valid_ice_url(url: str) -> bool:
    # check_ice_settings already reports invalid urls, so the probes skip them.
    try:
        probes.parse_ice_url(url)
    except ValueError:
        return False
    return True


# --- The ICE servers document (GET /api/v1/ice-servers) ---


@dataclass
class IceDocument:
    """Findings of validate_ice_document: the results plus the urls and credentials to probe."""

    results: list[CheckResult]
    stun_urls: list[str] = field(default_factory=list)
    turn_servers: list[tuple[str, str, str]] = field(default_factory=list)


def validate_ice_document(document: Any, now: float | None = None) -> IceDocument:
    """Check an iceServers document's shape, keys, TTL and TURN REST usernames.

    Returns the ice_servers results (one main result, then warnings) and the STUN urls and
    (url, username, credential) TURN entries to probe next.
    """
    now = time.time() if now is None else now
    if not isinstance(document, dict) or not isinstance(document.get("iceServers"), list):
        return IceDocument([CheckResult("ice_servers", FAIL, "ice_bad_document")])

    findings: list[CheckResult] = []
    failures: list[CheckResult] = []
    found = IceDocument([])
    ttl = document.get("ttl")
    has_ttl = isinstance(ttl, int) and not isinstance(ttl, bool) and ttl > 0
    if not has_ttl:
        findings.append(CheckResult("ice_servers", WARN, "ice_ttl_missing", required=False))

    for index, entry in enumerate(document["iceServers"]):
        urls = entry.get("urls") if isinstance(entry, dict) else None
        if isinstance(urls, str):
            urls = [urls]
        if not urls or not isinstance(urls, list) or not all(isinstance(url, str) for url in urls):
            failures.append(CheckResult("ice_servers", FAIL, "ice_entry_invalid", {"index": index}))
            continue

        for key in entry:
            if key == "password":
                findings.append(CheckResult("ice_servers", WARN, "ice_password_key", {"index": index}, required=False))
            elif key not in ICE_SERVER_KEYS:
                findings.append(CheckResult("ice_servers", WARN, "ice_unknown_key", {"index": index, "key": str(key)}, required=False))

        parsed: list[IceUrl] = []
        for url in urls:
            try:
                parsed.append(probes.parse_ice_url(url))
            except ValueError:
                failures.append(CheckResult("ice_servers", FAIL, "ice_url_invalid", {"index": index, "url": url}))
        found.stun_urls += [ice_url.url for ice_url in parsed if ice_url.kind == "stun"]
        turn_urls = [ice_url.url for ice_url in parsed if ice_url.kind == "turn"]
        if not turn_urls:
            continue

        username, credential = entry.get("username"), entry.get("credential")
        if not isinstance(username, str) or not isinstance(credential, str) or not username or not credential:
            failures.append(CheckResult("ice_servers", FAIL, "ice_turn_without_credentials", {"index": index}))
            continue
        found.turn_servers += [(url, username, credential) for url in turn_urls]
        for result in _check_rest_username(username, ttl if has_ttl else None, now):
            if result.status == FAIL:
                failures.append(result)
            else:
                findings.append(result)

    if not found.turn_servers and not any(result.code == "ice_turn_without_credentials" for result in failures):
        findings.append(CheckResult("ice_servers", WARN, "ice_no_turn", required=False))

    if failures:
        found.results = failures + findings
        return found
    counts = {"servers": len(document["iceServers"]), "stun": len(found.stun_urls), "turn": len(found.turn_servers), "ttl": ttl if has_ttl else "?"}
    # Without TURN entries there are no credentials, so their lifetime is not worth a mention.
    main = CheckResult("ice_servers", OK, "ice_ok" if found.turn_servers else "ice_ok_without_turn", counts)
    found.results = [main, *findings]
    return found


def _check_rest_username(username: str, ttl: int | None, now: float) -> list[CheckResult]:
    match = _REST_USERNAME.match(username)
    if match is None:
        return [CheckResult("ice_servers", WARN, "ice_username_not_rest", {"username": username}, required=False)]
    expiry = int(match.group(1))
    expiry_text = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(expiry))
    if expiry <= now:
        return [CheckResult("ice_servers", FAIL, "ice_credential_expired", {"expiry": expiry_text})]
    if ttl is None:
        return []
    # The server signed "now + ttl" by its own clock: the difference estimates the clock skew.
    skew = round(expiry - ttl - now)
    if abs(skew) > CLOCK_SKEW_TOLERANCE:
        return [CheckResult("ice_servers", WARN, "clock_skew", {"seconds": skew}, required=False)]
    return []
