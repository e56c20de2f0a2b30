"""Fixtures of the grader's tests: the grader run as a subprocess, and servers for it to grade.

The grader runs pytest itself, so each test runs it as ``python -m tests.grade`` in a
subprocess. The servers it grades are real HTTP servers: the module 1 app served in a
thread of this process, or the complete server (module 3) in a subprocess.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

import pytest
import requests

REPO = Path(__file__).resolve().parents[2]
# Grading all modules against a local server takes about 2.5 minutes on a 2-CPU machine;
# the margin is for a loaded one. No test checks how long grading takes.
GRADE_TIMEOUT = 900.0
SERVER_START_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0
ADMIN_TOKEN = "grading-admin-" + os.urandom(6).hex()
# Variables the grader reads from its environment; each test sets the ones it means to.
GRADER_VARIABLES = ("LC_ALL", "LC_MESSAGES", "LANG", "COURSE_ADMIN_TOKEN", "COURSE_TURN_SECRET", "COURSE_BASE_URL")


@dataclass
class GradeRun:
    """The exit status and output of one grader run."""

    exit_code: int
    stdout: str
    stderr: str

    def document(self) -> dict[str, Any]:
        """Return the JSON document the grader wrote to stdout."""
        return json.loads(self.stdout)

    def outcomes(self) -> dict[str, str]:
        """Return {check id: outcome} of the JSON document on stdout."""
        return {check["id"]: check["outcome"] for check in self.document()["checks"]}


@pytest.fixture
def run_grade() -> Callable[..., GradeRun]:
    """Run ``python -m tests.grade`` with arguments and extra environment variables."""

    def run(*arguments: str, environ: Mapping[str, str] | None = None) -> GradeRun:
        env = {key: value for key, value in os.environ.items() if key not in GRADER_VARIABLES}
        env.update(environ or {})
        completed = subprocess.run(
            [sys.executable, "-m", "tests.grade", *arguments],
            cwd=REPO, env=env, capture_output=True, text=True, timeout=GRADE_TIMEOUT,
        )
        return GradeRun(completed.returncode, completed.stdout, completed.stderr)

    return run


def setting_text(value: Any) -> str:
    """Return a setting as its environment variable text (lists are comma-separated)."""
    return ",".join(value) if isinstance(value, list) else str(value)


def server_environment(tmp_path: Path, settings: Mapping[str, Any]) -> dict[str, str]:
    """Return the environment of a reference server: a fresh SQLite file, ADMIN_TOKEN and ``settings``."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("JANUS_", "TURN_", "STUN_", "COURSE_"))}
    env.update({
        "DATABASE_URL": f"sqlite:///{tmp_path / 'reference.db'}",
        "ADMIN_TOKEN": ADMIN_TOKEN,
        "LOG_LEVEL": "WARNING",
    })
    env.update({key: setting_text(value) for key, value in settings.items()})
    return env


class ServerProcess:
    """A server command run in its own process group, with its output in a log file."""

    def __init__(self, command: list[str], env: Mapping[str, str], url: str, log_path: Path) -> None:
        self.url = url
        self.log_path = log_path
        with open(log_path, "wb") as log:
            self._process = subprocess.Popen(command, cwd=REPO, env=dict(env), stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def wait_healthy(self) -> "ServerProcess":
        """Wait until GET /health returns 200; fail with the log when the server exits or never does."""
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                pytest.fail(f"the server exited with {self._process.returncode}:\n{self.log_tail()}")
            try:
                if requests.get(self.url + "/health", timeout=2).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.2)
        pytest.fail(f"the server did not answer GET /health within {SERVER_START_TIMEOUT:g} s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 40) -> str:
        """Return the last lines of the server's output."""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        """Stop the process group this object started (the command and its children)."""
        if self._process.poll() is None:
            # The group id is the PID of the process started above (start_new_session).
            os.killpg(self._process.pid, signal.SIGTERM)
            try:
                self._process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                os.killpg(self._process.pid, signal.SIGKILL)
                self._process.wait(timeout=STOP_TIMEOUT)


@pytest.fixture
def server_process(tmp_path: Path) -> Iterator[Callable[..., ServerProcess]]:
    """Start server commands that respond to /health at a URL; all stop when the test ends."""
    servers: list[ServerProcess] = []

    def start(command: list[str], env: Mapping[str, str], url: str) -> ServerProcess:
        server = ServerProcess(command, env, url, tmp_path / f"server-{len(servers)}.log")
        servers.append(server)
        return server.wait_healthy()

    yield start
    for server in servers:
        server.stop()
