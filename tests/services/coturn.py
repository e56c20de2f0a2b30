"""A real coturn (Debian `coturn`) with TURN REST API credentials, started per test on loopback.

`turnserver -n` ignores /etc/turnserver.conf; every option comes from the command line.
Inside the hermetic namespace it relays from 127.0.0.2, because Janus's sends to a relay
address of 127.0.0.1 fail with EINVAL and ICE fails. Outside the namespace the relay
address is 127.0.0.1, which is enough for allocations without media.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from tests.services.availability import free_port, in_hermetic_netns, require_binary

START_TIMEOUT = 15.0
STOP_TIMEOUT = 10.0
REALM = "course.test"


@dataclass
class Coturn:
    """A running coturn: where it listens, its shared secret and the urls clients use."""

    host: str
    port: int
    secret: str
    realm: str
    relay_ip: str
    min_port: int
    max_port: int
    pid: int
    log_path: Path
    process: subprocess.Popen = field(repr=False)
    tls_port: int | None = None

    @property
    def stun_url(self) -> str:
        return f"stun:{self.host}:{self.port}"

    @property
    def turn_udp_url(self) -> str:
        return f"turn:{self.host}:{self.port}?transport=udp"

    @property
    def turn_tcp_url(self) -> str:
        return f"turn:{self.host}:{self.port}?transport=tcp"

    @property
    def turns_url(self) -> str:
        """The TURN over TLS url; only when started with a certificate."""
        if self.tls_port is None:
            raise RuntimeError("this coturn was started without TLS: pass tls_certificate and tls_key")
        return f"turns:{self.host}:{self.tls_port}?transport=tcp"

    @property
    def urls(self) -> dict[str, list[str]]:
        """STUN_URLS and TURN_URLS values for an app that serves this coturn."""
        return {"STUN_URLS": [self.stun_url], "TURN_URLS": [self.turn_udp_url, self.turn_tcp_url]}

    def app_settings(self) -> dict[str, object]:
        """Settings that make an app serve this coturn with short-lived credentials."""
        return {**self.urls, "TURN_SECRET": self.secret}

    def log(self) -> str:
        """Return coturn's log, to attach to a failing test's message."""
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""


def _relay_port_range() -> tuple[int, int]:
    """Pick 100 relay ports from a band outside Linux's default ephemeral range (32768-60999)."""
    base = 20000 + (os.getpid() % 90) * 100
    return base, base + 99


def _listening(host: str, port: int) -> bool:
    """Return True once coturn accepts TCP on its listening port (UDP opens at the same time)."""
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def start_coturn(
    workdir: Path,
    secret: str | None = None,
    relay_ip: str | None = None,
    tls_certificate: Path | None = None,
    tls_key: Path | None = None,
) -> Coturn:
    """Start turnserver in ``workdir`` and wait until it listens; stop it with stop_coturn.

    With ``tls_certificate`` (PEM chain) and ``tls_key``, coturn also serves TURN over TLS
    on its own port; without them it runs with --no-tls.
    """
    binary = require_binary("turnserver", "coturn")
    host = "127.0.0.1"
    port = free_port()
    secret = secret or secrets.token_hex(16)
    relay_ip = relay_ip or ("127.0.0.2" if in_hermetic_netns() else "127.0.0.1")
    min_port, max_port = _relay_port_range()
    workdir.mkdir(parents=True, exist_ok=True)
    pid_path = workdir / "turnserver.pid"
    log_path = workdir / "turnserver.log"

    command = [
        binary,
        "-n",
        f"--listening-ip={host}",
        f"--listening-port={port}",
        f"--relay-ip={relay_ip}",
        f"--min-port={min_port}",
        f"--max-port={max_port}",
        "--use-auth-secret",
        f"--static-auth-secret={secret}",
        f"--realm={REALM}",
        "--no-dtls",
        "--no-cli",
        # RFC 5780 would open a second listening port (port + 1) that may not be free.
        "--no-rfc5780",
        "--allow-loopback-peers",
        f"--userdb={workdir / 'turndb'}",
        f"--pidfile={pid_path}",
        f"--log-file={log_path}",
        "--simple-log",
        "--no-stdout-log",
    ]
    tls_port = None
    if tls_certificate is not None and tls_key is not None:
        tls_port = free_port()
        command += [f"--tls-listening-port={tls_port}", f"--cert={tls_certificate}", f"--pkey={tls_key}"]
    else:
        command.append("--no-tls")
    process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=workdir)
    server = Coturn(host, port, secret, REALM, relay_ip, min_port, max_port, process.pid, log_path, process, tls_port)

    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"turnserver exited with status {process.returncode} while starting:\n{server.log()}")
        if _listening(host, port) and (tls_port is None or _listening(host, tls_port)):
            return server
        time.sleep(0.1)
    stop_coturn(server)
    raise RuntimeError(f"turnserver did not listen on {host}:{port} within {START_TIMEOUT:g} s:\n{server.log()}")


def stop_coturn(server: Coturn) -> None:
    """Stop coturn by its PID: SIGTERM, then SIGKILL if it does not exit in time."""
    if server.process.poll() is not None:
        return
    os.kill(server.pid, signal.SIGTERM)
    try:
        server.process.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.kill(server.pid, signal.SIGKILL)
        server.process.wait(timeout=STOP_TIMEOUT)


@pytest.fixture
def coturn_factory(tmp_path: Path) -> Iterator[Callable[..., Coturn]]:
    """Start coturn servers (options as for start_coturn); all stop when the test ends."""
    servers: list[Coturn] = []

    def start(**options: Any) -> Coturn:
        server = start_coturn(tmp_path / f"coturn-{len(servers)}", **options)
        servers.append(server)
        return server

    yield start
    for server in servers:
        stop_coturn(server)


@pytest.fixture
def coturn(coturn_factory: Callable[..., Coturn]) -> Coturn:
    """One coturn on 127.0.0.1 with use-auth-secret and a random static-auth-secret."""
    return coturn_factory()
