"""The complete backend under gunicorn with the repository's gunicorn.conf.py, as a real subprocess."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.services.availability import free_port

REPO = Path(__file__).resolve().parents[2]
# Small limits, so that a test can fill every WebSocket slot and HTTP thread.
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
