"""Texts of the preflight checks: a summary per result code and, for problems, a cause and a next step.

The msgids are English and marked with N_ so `pybabel extract` finds them. The server translates
them with Flask-Babel and the `check` CLI with its own babel Translations; both read the Spanish
catalog in module0_preflight/translations.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any


def N_(message: str) -> str:
    """Mark ``message`` for extraction; it is translated later, where the language is known."""
    return message


@dataclass(frozen=True)
class CheckText:
    """The summary of one result code and, for failures and warnings, its cause and next step."""

    summary: str
    cause: str = ""
    next_step: str = ""


_TCP_CAUSE = N_("Nothing listens on that port, or a firewall rejects the connection.")
_TCP_NEXT = N_("Check that the service runs (`ss -ltnp` on the server) and that the firewall and the cloud security group allow the port.")
_HTTP_CAUSE = N_("The URL does not point at this course backend, or a proxy in front of it answers with an error page (502 means the backend process is down).")
_HTTP_NEXT = N_("Open the URL with `curl -i` and read the backend's log; check that --backend is the backend's base URL.")
_SYNC_CLOCKS = N_("Synchronize the clocks with NTP on both machines (`timedatectl set-ntp true`, then `timedatectl`).")

TEXTS: dict[str, CheckText] = {
    "skipped": CheckText(N_("Skipped because the check \"%(after)s\" failed.")),
    # DNS
    "dns_ok": CheckText(N_("%(host)s resolves to %(addresses)s.")),
    "dns_failed": CheckText(
        N_("%(host)s does not resolve: %(error)s."),
        N_("The host name is misspelled, or its DNS record (A/AAAA) is missing or not propagated yet."),
        N_("Check the host name and look it up with `getent hosts <host>`; create or fix its A record at the DNS provider."),
    ),
    # TCP
    "tcp_refused": CheckText(N_("Connection to %(host)s:%(port)s refused."), _TCP_CAUSE, _TCP_NEXT),
    "tcp_timeout": CheckText(
        N_("No answer from %(host)s:%(port)s within %(timeout)s s."),
        N_("A firewall drops the traffic, or the host is down."),
        _TCP_NEXT,
    ),
    "tcp_failed": CheckText(N_("Cannot connect to %(host)s:%(port)s: %(error)s."), _TCP_CAUSE, _TCP_NEXT),
    # TLS
    "tls_ok": CheckText(N_("%(protocol)s, certificate for %(names)s issued by %(issuer)s, valid until %(not_after)s (%(days)s days left).")),
    "tls_expiring": CheckText(
        N_("The certificate expires in %(days)s days (%(not_after)s)."),
        N_("Automatic renewal is not running or keeps failing."),
        N_("On the server run `certbot renew --dry-run` and check the renewal timer with `systemctl list-timers`."),
    ),
    "tls_expired": CheckText(
        N_("The certificate for %(host)s expired on %(not_after)s."),
        N_("The certificate was not renewed, or the web server still serves the old file."),
        N_("Renew it (`certbot renew`) and reload the web server; if it looks valid there, check this computer's clock."),
    ),
    "tls_not_yet_valid": CheckText(
        N_("The certificate for %(host)s is valid only from %(not_before)s."),
        N_("The clock of this computer or of the server is wrong."),
        _SYNC_CLOCKS,
    ),
    "tls_hostname_mismatch": CheckText(
        N_("The certificate is for %(names)s, not for %(host)s."),
        N_("The server sends a certificate made for another name, for example its default virtual host."),
        N_("Issue a certificate that includes this host name (`certbot -d <host>`) and set it as server_name in nginx."),
    ),
    "tls_untrusted": CheckText(
        N_("The certificate for %(host)s is not trusted: %(reason)s (issuer: %(issuer)s)."),
        N_("The certificate is self-signed or from a CA this computer does not trust, or the server does not send the intermediate certificate (cert.pem instead of fullchain.pem)."),
        N_("Serve a certificate from a public CA with its full chain (fullchain.pem); for a course test CA, pass it with --ca-file."),
    ),
    "tls_handshake_failed": CheckText(
        N_("TLS handshake with %(host)s:%(port)s failed: %(error)s."),
        N_("That port does not speak TLS (plain HTTP on it?), or client and server share no TLS version or cipher."),
        N_("Check with `curl -v https://<host>:<port>/health` which protocol the port speaks, and the web server's TLS settings."),
    ),
    "tls_not_used": CheckText(N_("Plain HTTP to a local address: there is no certificate to check.")),
    "tls_plain_http": CheckText(
        N_("The backend is served over plain HTTP."),
        N_("Browsers allow camera and microphone only on HTTPS pages (or localhost), and tokens would travel unencrypted."),
        N_("Serve the backend through HTTPS (for example nginx with a certbot certificate) and pass the https:// URL."),
    ),
    # HTTP
    "health_ok": CheckText(N_("GET %(url)s returned %(status)s in %(elapsed_ms)s ms.")),
    "http_status": CheckText(N_("GET %(url)s returned HTTP %(status)s."), _HTTP_CAUSE, _HTTP_NEXT),
    "http_unexpected_body": CheckText(N_("GET %(url)s returned a body this backend never sends."), _HTTP_CAUSE, _HTTP_NEXT),
    "http_timeout": CheckText(
        N_("GET %(url)s timed out after %(timeout)s s."),
        N_("The backend is stuck or overloaded, or a firewall drops the traffic."),
        N_("Check the backend's log and load; retry with a larger --timeout."),
    ),
    "http_tls_error": CheckText(
        N_("HTTPS request to %(url)s failed: %(error)s."),
        N_("The certificate or the TLS settings of the server are wrong."),
        N_("See the TLS check above; test with `curl -v <url>`."),
    ),
    # ICE servers document
    "ice_ok": CheckText(N_("Entries: %(servers)s. STUN urls: %(stun)s. TURN urls: %(turn)s, with credentials valid for %(ttl)s s.")),
    "ice_ok_without_turn": CheckText(N_("Entries: %(servers)s. STUN urls: %(stun)s. No TURN url.")),
    "ice_bad_document": CheckText(
        N_("The reply is not {\"iceServers\": [...], \"ttl\": seconds}."),
        N_("The URL is not this course's backend, or the backend is an older version."),
        N_("Check --backend and that module 0 or later runs there."),
    ),
    "ice_entry_invalid": CheckText(
        N_("Entry %(index)s has no valid \"urls\" (a string or a list of strings)."),
        N_("The backend builds the ICE server list wrongly."),
        N_("Fix the server code that builds /api/v1/ice-servers."),
    ),
    "ice_url_invalid": CheckText(
        N_("%(url)s is not a valid STUN or TURN url."),
        N_("A typo in STUN_URLS or TURN_URLS on the backend."),
        N_("Use stun:host:port, turn:host:port?transport=udp|tcp or turns:host:port?transport=tcp in the backend's settings."),
    ),
    "ice_turn_without_credentials": CheckText(
        N_("Entry %(index)s lists TURN urls without username and credential."),
        N_("The backend does not sign TURN credentials (TURN_SECRET is empty?)."),
        N_("Set TURN_SECRET on the backend to coturn's static-auth-secret."),
    ),
    "ice_password_key": CheckText(
        N_("Entry %(index)s has a \"password\" key; browsers and flutter_webrtc ignore it and read \"credential\"."),
        N_("The backend names the TURN password key wrongly, so clients connect to TURN without a password."),
        N_("Rename the key to \"credential\" in the server code."),
    ),
    "ice_unknown_key": CheckText(
        N_("Entry %(index)s has the key \"%(key)s\"; clients read only urls, username and credential."),
        N_("The backend adds a key that RTCPeerConnection ignores."),
        N_("Remove the key, or move the value out of the ICE server entry."),
    ),
    "ice_ttl_missing": CheckText(
        N_("The reply has no numeric \"ttl\"."),
        N_("The backend does not say how long the TURN credentials last."),
        N_("Add \"ttl\" (seconds) next to \"iceServers\"."),
    ),
    "ice_username_not_rest": CheckText(
        N_("The TURN username %(username)s is not \"<expiry>:<user>\", so the credentials are not short-lived."),
        N_("The backend serves static TURN credentials instead of TURN REST API ones."),
        N_("Use use-auth-secret in coturn and sign credentials with TURN_SECRET."),
    ),
    "ice_credential_expired": CheckText(
        N_("The TURN credentials expired at %(expiry)s, before they were served."),
        N_("The backend's clock is far behind, or TURN_TTL is tiny."),
        _SYNC_CLOCKS,
    ),
    "clock_skew": CheckText(
        N_("This computer's clock and the backend's differ by about %(seconds)s s."),
        N_("One of the clocks is not synchronized; coturn rejects credentials that look expired by its own clock."),
        _SYNC_CLOCKS,
    ),
    "ice_no_turn": CheckText(
        N_("No TURN server is served."),
        N_("TURN_URLS or TURN_SECRET is empty on the backend; without TURN, clients behind strict NATs or firewalls that block UDP cannot send media."),
        N_("Install coturn with use-auth-secret and set TURN_URLS and TURN_SECRET on the backend."),
    ),
    # STUN
    "stun_ok": CheckText(N_("Binding answered: seen as %(mapped)s.")),
    "stun_timeout": CheckText(
        N_("No STUN answer within %(timeout)s s."),
        N_("UDP to port %(port)s is blocked (firewall, cloud security group or a network that blocks UDP), or the server does not run."),
        N_("On the server check `ss -lnup | grep %(port)s`; open %(port)s/udp in the firewall; try again from another network."),
    ),
    "stun_refused": CheckText(
        N_("Nothing listens on UDP port %(port)s of %(host)s: the host answered \"port unreachable\"."),
        N_("The STUN server does not run, or it listens on another port."),
        N_("On the server check `ss -lnup | grep %(port)s` and the port in STUN_URLS."),
    ),
    "stun_error": CheckText(
        N_("The server answered the binding with an error: %(error)s."),
        N_("The server at that port is not a STUN server, or it rejects the request."),
        N_("Check the STUN url and the server's log."),
    ),
    "stun_unsupported": CheckText(N_("Not checked: this check supports only stun: urls over UDP.")),
    "stun_dns_failed": CheckText(
        N_("%(host)s does not resolve: %(error)s."),
        N_("The STUN host name in the backend's settings is wrong or has no DNS record."),
        N_("Fix STUN_URLS on the backend or the DNS record."),
    ),
    # TURN
    "turn_ok": CheckText(N_("Allocation over %(transport)s: relayed address %(relayed)s, seen as %(mapped)s.")),
    "turn_unauthorized": CheckText(
        N_("The TURN server rejected the credentials (401 Unauthorized)."),
        N_("The backend's TURN_SECRET differs from coturn's static-auth-secret, coturn runs without use-auth-secret, or the clocks of the backend and coturn differ so the credential looks expired."),
        N_("Compare TURN_SECRET with static-auth-secret in /etc/turnserver.conf, check use-auth-secret, and synchronize both clocks with NTP."),
    ),
    "turn_timeout": CheckText(
        N_("No TURN answer within %(timeout)s s."),
        N_("Port %(port)s/%(transport)s is blocked by a firewall or security group, or coturn does not listen on it."),
        N_("On the server check `ss -lnptu | grep turnserver`; open %(port)s/%(transport)s in the firewall and the cloud security group."),
    ),
    "turn_tls_failed": CheckText(
        N_("TLS to the TURN server failed: %(error)s."),
        N_("coturn's certificate is expired, untrusted or made for another name, or the port does not speak TLS."),
        N_("Check cert and pkey in turnserver.conf (use the full chain) and that the port is coturn's tls-listening-port."),
    ),
    "turn_error": CheckText(
        N_("The TURN server rejected the allocation: %(error)s."),
        N_("coturn refuses this allocation (quota, capacity or a policy such as denied peers)."),
        N_("Read coturn's log at this time for the reason."),
    ),
    "turn_unsupported": CheckText(N_("Not checked: TURN over DTLS is not supported by this check.")),
    "turn_dns_failed": CheckText(
        N_("%(host)s does not resolve: %(error)s."),
        N_("The TURN host name in the backend's settings is wrong or has no DNS record."),
        N_("Fix TURN_URLS on the backend or the DNS record."),
    ),
    # Janus
    "janus_ok": CheckText(N_("Janus %(version)s at %(url)s with the videoroom plugin.")),
    "janus_unreachable": CheckText(
        N_("Janus does not answer at %(url)s: %(error)s."),
        N_("Janus is not running, or it listens on another address or port."),
        N_("Start Janus (`systemctl start janus`, or `make janus-local` on a laptop) and check JANUS_URL; Janus listens on localhost, so check it on the server or through an SSH tunnel."),
    ),
    "janus_timeout": CheckText(
        N_("Janus did not answer at %(url)s within %(timeout)s s."),
        N_("Janus is stuck or the host is overloaded."),
        N_("Read Janus's log (`journalctl -u janus`) and restart it."),
    ),
    "janus_not_json": CheckText(
        N_("%(url)s/info did not return JSON."),
        N_("The URL points at another server; the Janus HTTP API path usually ends in /janus."),
        N_("Check JANUS_URL (for example http://127.0.0.1:8088/janus)."),
    ),
    "janus_rejected": CheckText(
        N_("Janus rejected /info: %(reason)s."),
        N_("Janus requires an api_secret that was not sent or does not match."),
        N_("Set JANUS_API_SECRET to the api_secret in janus.jcfg."),
    ),
    "janus_no_videoroom": CheckText(
        N_("Janus %(version)s runs, but the videoroom plugin is not loaded."),
        N_("The plugin is disabled in janus.jcfg or missing from plugins_folder."),
        N_("Install or enable janus.plugin.videoroom and restart Janus."),
    ),
    # Server-side settings and database
    "database_ok": CheckText(N_("The %(backend)s database answers.")),
    "database_unreachable": CheckText(
        N_("The database does not answer: %(error)s."),
        N_("The database server is down, or DATABASE_URL is wrong."),
        N_("Check DATABASE_URL and that MariaDB or MySQL runs (`systemctl status mariadb`)."),
    ),
    "stun_configured": CheckText(N_("STUN urls: %(urls)s.")),
    "stun_not_configured": CheckText(
        N_("STUN_URLS is empty."),
        N_("Clients get no STUN server to learn their public address."),
        N_("Set STUN_URLS; coturn also answers STUN on its TURN port."),
    ),
    "turn_configured": CheckText(N_("TURN urls: %(urls)s.")),
    "turn_secret_missing": CheckText(
        N_("TURN_URLS is set but TURN_SECRET is empty, so no TURN server is served."),
        N_("TURN_SECRET is not set in the backend's environment."),
        N_("Set TURN_SECRET to coturn's static-auth-secret."),
    ),
    "turn_not_configured": CheckText(
        N_("TURN_URLS is empty: clients behind strict NATs will fail."),
        N_("No TURN server is configured."),
        N_("Install coturn with use-auth-secret and set TURN_URLS and TURN_SECRET."),
    ),
}

# Check names shown to people.
LABELS: dict[str, str] = {
    "dns": N_("DNS"),
    "tls": N_("HTTPS/TLS"),
    "health": N_("Backend health"),
    "ice_servers": N_("ICE servers"),
    "stun": N_("STUN"),
    "turn": N_("TURN"),
    "janus": N_("Janus"),
    "database": N_("Database"),
    "stun_configured": N_("STUN settings"),
    "turn_configured": N_("TURN settings"),
}

STATUS_LABELS: dict[str, str] = {
    "ok": N_("OK"),
    "warn": N_("WARN"),
    "fail": N_("FAIL"),
    "skip": N_("SKIP"),
}


class _Params(dict):
    """Message arguments: lists shown comma-separated, missing names shown as "?"."""

    def __missing__(self, key: str) -> str:
        return "?"


def format_text(translated: str, params: Mapping[str, Any]) -> str:
    """Fill ``%(name)s`` fields of a translated text; a missing name never raises."""
    if not translated:
        return ""
    values = _Params({key: ", ".join(map(str, value)) if isinstance(value, (list, tuple)) else value for key, value in params.items()})
    try:
        return translated % values
    except (TypeError, ValueError):
        return translated


def describe(code: str, params: Mapping[str, Any], translate: Callable[[str], str]) -> dict[str, str]:
    """Return the translated summary, cause and next step of ``code``, filled with ``params``.

    ``translate`` maps an English msgid to the reader's language (Flask-Babel's gettext on
    the server, babel Translations in the CLI). Unknown codes fall back to the code itself.
    """
    text = TEXTS.get(code) or CheckText(code)
    if "after" in params:
        params = {**params, "after": label(str(params["after"]), translate)}
    return {
        "detail": format_text(translate(text.summary), params),
        "cause": format_text(translate(text.cause), params) if text.cause else "",
        "nextStep": format_text(translate(text.next_step), params) if text.next_step else "",
    }


def label(name: str, translate: Callable[[str], str]) -> str:
    """Return the translated display name of check ``name``."""
    return translate(LABELS[name]) if name in LABELS else name
