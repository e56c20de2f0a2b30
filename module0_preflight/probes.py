"""Network probes behind the preflight checks: DNS, TLS, HTTP, STUN binding and TURN allocation.

No Flask imports: the `check` CLI and the server-side report both use them. A probe returns
what it found or raises ProbeError with a stable code and the values its message shows.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
import ssl
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
from aioice import stun, turn
from cryptography import x509
from cryptography.x509.oid import ExtensionOID, NameOID

logger = logging.getLogger(__name__)

# OpenSSL's X509_V_ERR_HOSTNAME_MISMATCH and X509_V_ERR_IP_ADDRESS_MISMATCH, as set on
# SSLCertVerificationError.verify_code.
_VERIFY_NAME_MISMATCH = {62, 64}


class ProbeError(Exception):
    """A probe failed; ``code`` keys the message texts and ``params`` fills them."""

    def __init__(self, code: str, **params: Any) -> None:
        super().__init__(code)
        self.code = code
        self.params = params

    def __str__(self) -> str:
        return f"{self.code} {self.params}"


# --- STUN/TURN urls (RFC 7064 and RFC 7065) ---


@dataclass(frozen=True)
class IceUrl:
    """A parsed stun:, stuns:, turn: or turns: url."""

    url: str
    scheme: str
    host: str
    port: int
    transport: str

    @property
    def kind(self) -> str:
        """Return "stun" or "turn"."""
        return "turn" if self.scheme.startswith("turn") else "stun"

    @property
    def secure(self) -> bool:
        """Return True for stuns: and turns:, which run over TLS (or DTLS for UDP)."""
        return self.scheme in ("stuns", "turns")


_DEFAULT_PORTS = {"stun": 3478, "turn": 3478, "stuns": 5349, "turns": 5349}


def parse_ice_url(url: str) -> IceUrl:
    """Parse ``url`` into scheme, host, port and transport; raise ValueError when it is not valid.

    The transport defaults to udp for stun:/turn: and to tcp for stuns:/turns:, as browsers do.
    """
    scheme, separator, rest = url.strip().partition(":")
    scheme = scheme.lower()
    if not separator or scheme not in _DEFAULT_PORTS:
        raise ValueError(f"unknown scheme in {url!r}")

    address, _, query = rest.partition("?")
    if address.startswith("//"):
        raise ValueError(f"{url!r} must not contain //")
    parsed = urlsplit("//" + address)
    try:
        port = parsed.port or _DEFAULT_PORTS[scheme]
    except ValueError:
        raise ValueError(f"invalid port in {url!r}") from None
    host = parsed.hostname or ""
    if not host or parsed.path or parsed.username:
        raise ValueError(f"invalid host in {url!r}")

    transports = parse_qs(query).get("transport", [])
    if query and not transports:
        raise ValueError(f"unknown query in {url!r}")
    if transports:
        transport = transports[0].lower()
    else:
        transport = "tcp" if scheme.endswith("s") else "udp"
    if transport not in ("udp", "tcp") or (scheme.startswith("stun") and transports):
        raise ValueError(f"invalid transport in {url!r}")
    return IceUrl(url=url, scheme=scheme, host=host, port=port, transport=transport)


def is_loopback_host(host: str) -> bool:
    """Return True for localhost and loopback addresses (no DNS lookup)."""
    if host.lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


# --- DNS ---


def resolve_host(host: str, port: int) -> list[str]:
    """Return the addresses ``host`` resolves to, in the resolver's order, without repeats."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise ProbeError("dns_failed", host=host, error=_describe(exc)) from None
    addresses: list[str] = []
    for info in infos:
        address = info[4][0]
        if address not in addresses:
            addresses.append(address)
    return addresses


# --- TLS ---


@dataclass
class CertificateInfo:
    """Details of the server's leaf certificate and of the TLS handshake."""

    subject: str
    issuer: str
    not_before: datetime
    not_after: datetime
    names: list[str]
    protocol: str = ""

    def days_left(self, now: datetime) -> int:
        """Return whole days until the certificate expires (negative once expired)."""
        return (self.not_after - now).days

    def to_params(self, now: datetime) -> dict[str, Any]:
        """Return the values the TLS messages show, JSON-ready."""
        return {
            "subject": self.subject,
            "issuer": self.issuer,
            "not_before": self.not_before.strftime("%Y-%m-%d %H:%M UTC"),
            "not_after": self.not_after.strftime("%Y-%m-%d %H:%M UTC"),
            "days": self.days_left(now),
            "names": self.names,
            "protocol": self.protocol,
        }


def _name_text(name: x509.Name) -> str:
    common_names = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    organizations = name.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    for attributes in (common_names, organizations):
        if attributes:
            return str(attributes[0].value)
    return name.rfc4514_string() or "?"


def certificate_info(der: bytes, protocol: str = "") -> CertificateInfo:
    """Read subject, issuer, validity and subject alternative names from a DER certificate."""
    certificate = x509.load_der_x509_certificate(der)
    names: list[str] = []
    try:
        san = certificate.extensions.get_extension_for_oid(ExtensionOID.SUBJECT_ALTERNATIVE_NAME).value
        names = [str(value) for value in san.get_values_for_type(x509.DNSName)]
        names += [str(value) for value in san.get_values_for_type(x509.IPAddress)]
    except x509.ExtensionNotFound:
        pass
    return CertificateInfo(
        subject=_name_text(certificate.subject),
        issuer=_name_text(certificate.issuer),
        not_before=certificate.not_valid_before_utc,
        not_after=certificate.not_valid_after_utc,
        names=names,
        protocol=protocol,
    )


def _handshake(host: str, port: int, timeout: float, context: ssl.SSLContext) -> tuple[bytes, str]:
    with socket.create_connection((host, port), timeout=timeout) as sock:
        with context.wrap_socket(sock, server_hostname=host.strip("[]")) as tls:
            return tls.getpeercert(binary_form=True) or b"", tls.version() or ""


def probe_tls(host: str, port: int, timeout: float, ca_file: str | None = None, now: datetime | None = None) -> CertificateInfo:
    """Run a verified TLS handshake and return the certificate's details.

    Raises ProbeError tls_expired, tls_not_yet_valid, tls_hostname_mismatch or tls_untrusted
    when verification fails (after reading the certificate without verification, to say why),
    tls_handshake_failed for other TLS errors, and tcp_* codes when the connection fails.
    ``ca_file`` replaces the system CAs, as for a course test CA.
    """
    now = now or datetime.now(timezone.utc)
    context = ssl.create_default_context(cafile=ca_file)
    try:
        der, protocol = _handshake(host, port, timeout, context)
        return certificate_info(der, protocol)
    except ssl.SSLCertVerificationError as exc:
        verify_error = exc
    except ssl.SSLError as exc:
        raise ProbeError("tls_handshake_failed", host=host, port=port, error=_describe(exc)) from None
    except OSError as exc:
        raise connection_error(exc, host, port, timeout) from None

    # Verification failed: read the certificate without verifying it, so the report can name the reason.
    unverified = ssl.create_default_context()
    unverified.check_hostname = False
    unverified.verify_mode = ssl.CERT_NONE
    try:
        der, protocol = _handshake(host, port, timeout, unverified)
    except (ssl.SSLError, OSError) as exc:
        raise ProbeError("tls_untrusted", host=host, reason=verify_error.verify_message or _describe(verify_error), issuer="?", error=_describe(exc)) from None

    info = certificate_info(der, protocol)
    params = {"host": host, "port": port, **info.to_params(now), "reason": verify_error.verify_message or _describe(verify_error)}
    if now > info.not_after:
        raise ProbeError("tls_expired", **params)
    if now < info.not_before:
        raise ProbeError("tls_not_yet_valid", **params)
    if verify_error.verify_code in _VERIFY_NAME_MISMATCH:
        raise ProbeError("tls_hostname_mismatch", **params)
    raise ProbeError("tls_untrusted", **params)


# --- TCP and HTTP ---


def connection_error(exc: OSError, host: str, port: int, timeout: float) -> ProbeError:
    """Map a socket error to tcp_refused, tcp_timeout or tcp_failed."""
    if isinstance(exc, ConnectionRefusedError):
        return ProbeError("tcp_refused", host=host, port=port)
    if isinstance(exc, (TimeoutError, socket.timeout)):
        return ProbeError("tcp_timeout", host=host, port=port, timeout=f"{timeout:g}")
    if isinstance(exc, socket.gaierror):
        return ProbeError("dns_failed", host=host, error=_describe(exc))
    return ProbeError("tcp_failed", host=host, port=port, error=_describe(exc))


@dataclass
class HttpReply:
    """Status, parsed JSON body (None when the body is not JSON) and time taken."""

    status: int
    body: Any
    elapsed_ms: float


def http_get_json(url: str, timeout: float, ca_file: str | None = None, headers: dict[str, str] | None = None) -> HttpReply:
    """GET ``url`` and parse its JSON body.

    Raises ProbeError http_timeout, http_tls_error or tcp_* codes when no HTTP reply arrives.
    """
    split = urlsplit(url)
    host, port = split.hostname or "", split.port or (443 if split.scheme == "https" else 80)
    started = time.perf_counter()
    try:
        response = requests.get(url, timeout=timeout, verify=ca_file or True, headers=headers, allow_redirects=False)
    except requests.exceptions.SSLError as exc:
        raise ProbeError("http_tls_error", url=url, error=_describe(exc)) from None
    except requests.Timeout:
        raise ProbeError("http_timeout", url=url, timeout=f"{timeout:g}") from None
    except requests.ConnectionError as exc:
        cause = _root_cause(exc)
        if isinstance(cause, OSError):
            raise connection_error(cause, host, port, timeout) from None
        raise ProbeError("tcp_failed", host=host, port=port, error=_describe(exc)) from None
    elapsed_ms = round((time.perf_counter() - started) * 1000, 1)

    try:
        body = response.json()
    except ValueError:
        body = None
    return HttpReply(status=response.status_code, body=body, elapsed_ms=elapsed_ms)


def describe_request_error(exc: requests.RequestException) -> str:
    """Return the socket-level reason of a failed request (e.g. "Connection refused")."""
    return _describe(_root_cause(exc))


def _root_cause(exc: BaseException) -> BaseException:
    """Follow requests' and urllib3's wrappers down to the socket error (a built-in OSError)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and type(current).__module__ == "builtins":
            return current
        reason = getattr(current, "reason", None)
        if isinstance(reason, BaseException):
            current = reason
        elif current.args and isinstance(current.args[0], BaseException):
            current = current.args[0]
        else:
            current = current.__cause__ or current.__context__
    return exc


# --- STUN and TURN ---


class _StunClient(asyncio.DatagramProtocol):
    """Route STUN responses to the transactions waiting for them (aioice's Transaction sender)."""

    def __init__(self) -> None:
        self.transport: asyncio.DatagramTransport | None = None
        self.transactions: dict[bytes, stun.Transaction] = {}
        # Set when the kernel reports an ICMP error, such as "port unreachable", for the socket.
        self.socket_error: asyncio.Future[OSError] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[Any, ...]) -> None:
        try:
            message = stun.parse_message(data)
        except ValueError:
            return
        transaction = self.transactions.get(message.transaction_id)
        if transaction is not None:
            transaction.response_received(message, (addr[0], addr[1]))

    def error_received(self, exc: Exception) -> None:
        if isinstance(exc, OSError) and not self.socket_error.done():
            self.socket_error.set_result(exc)

    def send_stun(self, message: stun.Message, addr: tuple[str, int]) -> None:
        if self.transport is not None:
            self.transport.sendto(bytes(message), addr)


async def _resolve_ice_host(ice_url: IceUrl) -> tuple[int, str]:
    loop = asyncio.get_running_loop()
    kind = ice_url.kind
    try:
        infos = await loop.getaddrinfo(ice_url.host, ice_url.port, type=socket.SOCK_DGRAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise ProbeError(f"{kind}_dns_failed", url=ice_url.url, host=ice_url.host, error=_describe(exc)) from None
    family, _, _, _, sockaddr = infos[0]
    return family, sockaddr[0]


async def stun_binding(ice_url: IceUrl, timeout: float) -> tuple[str, int]:
    """Send a STUN Binding request over UDP and return the mapped address (XOR-MAPPED-ADDRESS).

    Raises ProbeError stun_dns_failed, stun_refused (ICMP port unreachable), stun_timeout,
    stun_error or stun_unsupported.
    """
    if ice_url.secure:
        raise ProbeError("stun_unsupported", url=ice_url.url)
    family, address = await _resolve_ice_host(ice_url)
    loop = asyncio.get_running_loop()
    transport, client = await loop.create_datagram_endpoint(_StunClient, family=family, remote_addr=(address, ice_url.port))
    params = {"url": ice_url.url, "host": ice_url.host, "port": ice_url.port, "transport": "udp", "timeout": f"{timeout:g}"}
    try:
        request = stun.Message(message_method=stun.Method.BINDING, message_class=stun.Class.REQUEST)
        transaction = stun.Transaction(request, (address, ice_url.port), client)
        client.transactions[request.transaction_id] = transaction
        run = asyncio.ensure_future(transaction.run())
        done, _ = await asyncio.wait({run, client.socket_error}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        if run not in done:
            run.cancel()
            if client.socket_error in done:
                raise ProbeError("stun_refused", **params)
            raise ProbeError("stun_timeout", **params)
        try:
            response, _ = run.result()
        except stun.TransactionTimeout:
            raise ProbeError("stun_timeout", **params) from None
        except stun.TransactionFailed as exc:
            raise ProbeError("stun_error", error=_stun_error_text(exc), **params) from None
    finally:
        transport.close()

    mapped = response.attributes.get("XOR-MAPPED-ADDRESS") or response.attributes.get("MAPPED-ADDRESS")
    if not mapped:
        raise ProbeError("stun_error", error="no XOR-MAPPED-ADDRESS", **params)
    return mapped[0], mapped[1]


class _RelayReceiver(asyncio.DatagramProtocol):
    """Receiver of the relayed transport; only notices when the allocation is gone."""

    def __init__(self) -> None:
        self.closed = asyncio.get_running_loop().create_future()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)


@dataclass
class Allocation:
    """A TURN allocation's relayed address and the client address the server saw."""

    relayed: tuple[str, int]
    mapped: tuple[str, int] | None


async def turn_allocation(ice_url: IceUrl, username: str, credential: str, timeout: float, ca_file: str | None = None) -> Allocation:
    """Create a TURN allocation over the url's transport, then release it.

    turns: urls run over TLS on TCP, verified against the system CAs or ``ca_file``.
    Raises ProbeError turn_unauthorized (401), turn_error (other STUN error codes),
    turn_timeout, turn_tls_failed, turn_unsupported (DTLS), turn_dns_failed or tcp_* codes.
    """
    params = {"url": ice_url.url, "host": ice_url.host, "port": ice_url.port, "transport": ice_url.transport, "timeout": f"{timeout:g}"}
    if ice_url.secure and ice_url.transport == "udp":
        raise ProbeError("turn_unsupported", **params)
    _, address = await _resolve_ice_host(ice_url)

    ssl_context = ssl.create_default_context(cafile=ca_file) if ice_url.secure else None
    # With TLS the host name stays in the address, so the certificate is checked against it.
    server = (ice_url.host if ice_url.secure else address, ice_url.port)
    try:
        relay, receiver = await asyncio.wait_for(
            turn.create_turn_endpoint(_RelayReceiver, server, username, credential, ssl=ssl_context, transport=ice_url.transport),
            timeout,
        )
    except (TimeoutError, stun.TransactionTimeout):
        raise ProbeError("turn_timeout", **params) from None
    except stun.TransactionFailed as exc:
        if exc.response.attributes.get("ERROR-CODE", (0, ""))[0] == 401:
            raise ProbeError("turn_unauthorized", **params) from None
        raise ProbeError("turn_error", error=_stun_error_text(exc), **params) from None
    except ssl.SSLError as exc:
        raise ProbeError("turn_tls_failed", error=_describe(exc), **params) from None
    except ConnectionError as exc:
        if isinstance(exc, ConnectionRefusedError):
            raise ProbeError("tcp_refused", host=ice_url.host, port=ice_url.port) from None
        raise ProbeError("turn_error", error=_describe(exc), **params) from None
    except OSError as exc:
        raise connection_error(exc, ice_url.host, ice_url.port, timeout) from None

    allocation = Allocation(relayed=relay.get_extra_info("sockname"), mapped=relay.get_extra_info("related_address"))
    # Release the allocation now rather than leaving it to expire on the server.
    relay.close()
    try:
        await asyncio.wait_for(receiver.closed, timeout)
    except TimeoutError:
        logger.info("TURN allocation %s via %s was not released within %g s", allocation.relayed, ice_url.url, timeout)
    return allocation


def _stun_error_text(exc: stun.TransactionFailed) -> str:
    code, reason = exc.response.attributes.get("ERROR-CODE", (0, ""))
    return f"{code} {reason}".strip()


def format_address(address: tuple[str, int] | None) -> str:
    """Return "host:port" ("[v6]:port" for IPv6), or "?" when unknown."""
    if not address:
        return "?"
    host, port = address[0], address[1]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _describe(exc: BaseException) -> str:
    """Return a short, secret-free text for ``exc``: its reason or message, else its class name."""
    if isinstance(exc, ssl.SSLCertVerificationError) and exc.verify_message:
        return exc.verify_message
    reason = getattr(exc, "reason", None)
    if isinstance(reason, str) and reason:
        return reason
    text = str(exc.args[-1] if isinstance(exc, OSError) and exc.args and isinstance(exc.args[-1], str) else exc)
    return text or exc.__class__.__name__
