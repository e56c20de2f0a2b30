"""gunicorn.conf.py: the production server keeps serving HTTP with every WebSocket slot taken, and closes sockets on stop."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import pytest
import requests

from tests.module3_watch.conftest import EventSocket
from tests.services.availability import free_port

REPO = Path(__file__).resolve().parents[2]
MAX_SOCKETS = 3
HTTP_THREADS = 2
START_TIMEOUT = 30.0
STOP_TIMEOUT = 60.0


class Gunicorn:
    """gunicorn started with the repository's gunicorn.conf.py on a free loopback port."""

    def __init__(self, tmp_path: Path, settings: dict[str, str] | None = None) -> None:
        """Start gunicorn; ``settings`` are environment variables that replace the defaults below."""
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = tmp_path / "gunicorn.log"
        environ = {
            **os.environ,
            "BIND": f"127.0.0.1:{self.port}",
            "WS_MAX_SOCKETS": str(MAX_SOCKETS),
            "HTTP_THREADS": str(HTTP_THREADS),
            "DATABASE_URL": f"sqlite:///{tmp_path / 'production.db'}",
            "JANUS_URL": "http://127.0.0.1:9/janus",
            "LOG_LEVEL": "WARNING",
            **(settings or {}),
        }
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "--no-control-socket"],
                cwd=REPO,
                env=environ,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self._wait_ready()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"gunicorn exited with {self.process.returncode}:\n{self.log()}", pytrace=False)
            try:
                if requests.get(self.url + "/health", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        pytest.fail(f"gunicorn did not answer within {START_TIMEOUT:g} s:\n{self.log()}", pytrace=False)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-3000:]

    def stop(self) -> int:
        """SIGTERM by PID, as systemd stops the service; return the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait(timeout=STOP_TIMEOUT)


@pytest.fixture
def gunicorn(tmp_path: Path, base_url: str) -> Iterator[Gunicorn]:
    if base_url:
        pytest.skip("starts its own gunicorn; with --base-url only the black-box tests run")
    server = Gunicorn(tmp_path)
    yield server
    server.stop()


def ws(server: Gunicorn, path: str) -> EventSocket:
    return EventSocket(f"ws://127.0.0.1:{server.port}{path}")


def test_http_answers_with_sockets_at_cap(gunicorn):
    stream = requests.post(gunicorn.url + "/api/v1/streams", json={"title": "Producción"}, timeout=10).json()
    held = [ws(gunicorn, f"/ws/streams/{stream['id']}") for _ in range(MAX_SOCKETS - 1)] + [ws(gunicorn, "/ws/streams")]
    assert [socket_.receive()["type"] for socket_ in held[:-1]] == ["snapshot"] * (MAX_SOCKETS - 1)

    refused = ws(gunicorn, f"/ws/streams/{stream['id']}")
    assert refused.receive() is None
    assert refused.close_code == 1013

    # More requests than HTTP_THREADS, while every socket slot is taken.
    statuses = [requests.get(f"{gunicorn.url}/api/v1/streams/{stream['id']}", timeout=10).status_code for _ in range(HTTP_THREADS * 3)]
    assert statuses == [200] * (HTTP_THREADS * 3)

    for socket_ in held:
        socket_.close()


def test_stop_closes_sockets_with_1001(gunicorn):
    stream = requests.post(gunicorn.url + "/api/v1/streams", json={"title": "Producción"}, timeout=10).json()
    held = [ws(gunicorn, f"/ws/streams/{stream['id']}"), ws(gunicorn, "/ws/streams")]
    assert held[0].receive()["type"] == "snapshot"

    gunicorn.process.send_signal(signal.SIGTERM)
    for socket_ in held:
        assert socket_.receive() is None
    code = gunicorn.stop()

    assert [socket_.close_code for socket_ in held] == [1001, 1001]
    assert code == 0, gunicorn.log()
