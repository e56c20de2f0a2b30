"""Fixture plugin: a real Janus (Debian ``janus``) on a free loopback port.

Janus is configured by ``janus/render.py tests``: HTTP on 127.0.0.1 only, ICE
on the hermetic namespace's ``va`` interface (127.0.0.2), no STUN or TURN,
only the videoroom plugin and the HTTP transport. Every fixture here requires
that namespace (``make test`` runs the suite inside it), so a Janus started by
a test never gathers candidates on this machine's real interfaces.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Iterator

import pytest
import requests

from tests.services.availability import free_port, require_binary, require_hermetic_netns

REPO = Path(__file__).resolve().parents[2]
RENDER = REPO / "janus" / "render.py"

# Janus serves /info about 0.1 s after start on an idle machine (Debian 12,
# 2 cores). The margin is for a loaded CI runner.
READY_TIMEOUT = 20.0
STOP_TIMEOUT = 10.0


class JanusServer:
    """One Janus process with its own rendered configuration in ``run_dir``."""

    def __init__(self, binary: str, run_dir: Path, *, api_secret: str = "", session_timeout: int = 60) -> None:
        self.binary = binary
        self.run_dir = run_dir
        self.config_dir = run_dir / "config"
        self.port = free_port()
        self.api_secret = api_secret
        self.session_timeout = session_timeout
        self.url = f"http://127.0.0.1:{self.port}/janus"
        self.log_path = run_dir / "janus.log"
        self._process: subprocess.Popen[bytes] | None = None
        self._render()

    @property
    def pid(self) -> int | None:
        """PID of the running Janus, or None when it is stopped."""
        if self._process is None or self._process.poll() is not None:
            return None
        return self._process.pid

    def _render(self) -> None:
        environ = {key: value for key, value in os.environ.items() if not key.startswith("JANUS_")}
        if self.api_secret:
            environ["JANUS_API_SECRET"] = self.api_secret
        command = [
            sys.executable,
            str(RENDER),
            "tests",
            str(self.config_dir),
            "--port",
            str(self.port),
            "--session-timeout",
            str(self.session_timeout),
            "--log-file",
            str(self.log_path),
            "--quiet",
        ]
        result = subprocess.run(command, env=environ, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            pytest.fail(f"janus/render.py tests failed: {result.stderr.strip()}", pytrace=False)

    def start(self) -> "JanusServer":
        """Start Janus on this server's port and wait until GET /info responds."""
        if self.pid is not None:
            return self
        stdout = open(self.run_dir / "janus.stdout", "ab")
        try:
            self._process = subprocess.Popen(
                [self.binary, "--configs-folder", str(self.config_dir), "--config", str(self.config_dir / "janus.jcfg")],
                stdin=subprocess.DEVNULL,
                stdout=stdout,
                stderr=subprocess.STDOUT,
                cwd=self.run_dir,
                start_new_session=True,
            )
        finally:
            stdout.close()
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if self._process is not None and self._process.poll() is not None:
                pytest.fail(f"Janus exited with {self._process.returncode} at start:\n{self.log_tail()}", pytrace=False)
            try:
                response = requests.get(self.url + "/info", timeout=2)
                if response.status_code == 200 and response.json().get("janus") == "server_info":
                    return
            except (requests.RequestException, ValueError):
                pass
            time.sleep(0.1)
        self.kill()
        pytest.fail(f"Janus did not answer {self.url}/info within {READY_TIMEOUT:g} s:\n{self.log_tail()}", pytrace=False)

    def stop(self) -> None:
        """Stop Janus by its PID: SIGTERM, then SIGKILL when it outlives STOP_TIMEOUT."""
        process = self._process
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=STOP_TIMEOUT)

    def kill(self) -> None:
        """Kill Janus with SIGKILL, as a crash would."""
        process = self._process
        if process is None or process.poll() is not None:
            return
        process.kill()
        process.wait(timeout=STOP_TIMEOUT)

    def restart(self) -> "JanusServer":
        """Stop and start Janus again on the same port, with a fresh state."""
        self.stop()
        return self.start()

    def log_tail(self, lines: int = 30) -> str:
        """Return the last lines of Janus's log, for failure messages."""
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no Janus log)"


def _require_janus() -> str:
    binary = require_binary("janus", "janus")
    require_hermetic_netns()
    return binary


@pytest.fixture
def janus_factory(tmp_path: Path) -> Iterator[Callable[..., JanusServer]]:
    """Start Janus servers for one test (``api_secret``, ``session_timeout``); all stop when it ends."""
    binary = _require_janus()
    servers: list[JanusServer] = []

    def start(*, api_secret: str = "", session_timeout: int = 60) -> JanusServer:
        run_dir = tmp_path / f"janus-{len(servers)}"
        run_dir.mkdir()
        server = JanusServer(binary, run_dir, api_secret=api_secret, session_timeout=session_timeout)
        servers.append(server)
        return server.start()

    yield start
    for server in servers:
        server.stop()


@pytest.fixture(scope="session")
def janus_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JanusServer]:
    """One Janus shared by the whole test session; tests that kill or restart Janus use janus_factory."""
    binary = _require_janus()
    server = JanusServer(binary, tmp_path_factory.mktemp("janus"))
    server.start()
    yield server
    server.stop()
