"""Shared parts of the signaling benchmarks: Janus and gunicorn on loopback, /proc sampling, statistics.

The media benchmarks (bench_publish, bench_load, bench_ws_fanout) run inside the
hermetic network namespace (``scripts/hermetic-run``), where Janus gathers ICE
candidates only on 127.0.0.2. Every process started here listens on 127.0.0.1
and is stopped by its PID.
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import signal
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import requests

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from tests.services.availability import free_port  # noqa: E402

RENDER = REPO_ROOT / "janus" / "render.py"
READY_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0
# Bench admin token: the scripts act as the instructor, so they keep no publish tokens.
ADMIN_TOKEN = "bench-admin-token"


def require_hermetic_netns(script: str) -> None:
    """Exit with a hint unless this process runs inside scripts/hermetic-run."""
    if os.environ.get("HERMETIC_NETNS") != "1":
        sys.exit(f"{script} starts Janus and WebRTC peers: run it as scripts/hermetic-run .venv/bin/python bench/{script}")


def log(message: str) -> None:
    """Progress line on stderr, so stdout keeps only the Markdown table."""
    print(message, file=sys.stderr, flush=True)


# --- processes ---------------------------------------------------------------


def _stop(process: subprocess.Popen | None) -> None:
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=STOP_TIMEOUT)


class JanusProcess:
    """Janus 1.1.2 rendered by ``janus/render.py tests`` (HTTP on 127.0.0.1, ICE on 127.0.0.2).

    Unlike the tests' JanusServer it sets the RTP port range: 600 concurrent
    handles need more ports than the tests' 200, and it reports failures
    without pytest.
    """

    def __init__(self, run_dir: Path, rtp_port_range: str = "40000-41999") -> None:
        self.run_dir = run_dir
        self.config_dir = run_dir / "janus-config"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/janus"
        self.rtp_port_range = rtp_port_range
        self.process: subprocess.Popen | None = None

    def start(self) -> "JanusProcess":
        """Render the configuration, start Janus and wait for GET /info."""
        environ = {key: value for key, value in os.environ.items() if not key.startswith("JANUS_")}
        command = [sys.executable, str(RENDER), "tests", str(self.config_dir), "--port", str(self.port),
                   "--rtp-port-range", self.rtp_port_range, "--log-file", str(self.run_dir / "janus.log"), "--quiet"]
        subprocess.run(command, env=environ, check=True)
        with open(self.run_dir / "janus.stdout", "ab") as output:
            self.process = subprocess.Popen(
                ["janus", "--configs-folder", str(self.config_dir), "--config", str(self.config_dir / "janus.jcfg")],
                stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT, cwd=self.run_dir, start_new_session=True,
            )
        _wait_http(self.url + "/info", self.process, "Janus")
        return self

    def stop(self) -> None:
        """SIGTERM Janus by PID (SIGKILL after STOP_TIMEOUT)."""
        _stop(self.process)


class Backend:
    """The complete backend (module 3) under gunicorn with the repository's gunicorn.conf.py."""

    def __init__(self, run_dir: Path, janus_url: str, env: dict[str, str] | None = None) -> None:
        self.run_dir = run_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.environ = {
            **os.environ,
            "BIND": f"127.0.0.1:{self.port}",
            "DATABASE_URL": f"sqlite:///{run_dir / 'bench.db'}",
            "JANUS_URL": janus_url,
            "ADMIN_TOKEN": ADMIN_TOKEN,
            **(env or {}),
        }
        self.process: subprocess.Popen | None = None

    def start(self) -> "Backend":
        """Start gunicorn from the repository root and wait for GET /health."""
        with open(self.run_dir / "gunicorn.log", "ab") as output:
            self.process = subprocess.Popen(
                [str(Path(sys.executable).parent / "gunicorn"), "-c", "gunicorn.conf.py"],
                cwd=REPO_ROOT, env=self.environ, stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        _wait_http(self.url + "/health", self.process, "gunicorn")
        return self

    @property
    def worker_pid(self) -> int:
        """PID of the single gthread worker (the master's only child)."""
        assert self.process is not None
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children").read_text().split()
        if len(children) != 1:
            raise RuntimeError(f"expected one gunicorn worker, found {children}")
        return int(children[0])

    def threads(self) -> int:
        """Configured gunicorn threads (gunicorn.conf.py: WS_MAX_SOCKETS + HTTP_THREADS)."""
        max_sockets = int(self.environ.get("WS_MAX_SOCKETS", "200"))
        return max_sockets + int(self.environ.get("HTTP_THREADS", "16"))

    def stop(self) -> None:
        """SIGTERM the gunicorn master by PID; it stops its worker. Keep its log in BENCH_LOG_DIR when set."""
        _stop(self.process)
        if os.environ.get("BENCH_LOG_DIR"):
            kept = Path(os.environ["BENCH_LOG_DIR"]) / f"gunicorn-{self.port}.log"
            kept.write_bytes((self.run_dir / "gunicorn.log").read_bytes())
            log(f"gunicorn log kept in {kept}")


def _wait_http(url: str, process: subprocess.Popen, name: str) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited with {process.returncode} at start")
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    _stop(process)
    raise RuntimeError(f"{name} did not respond at {url} within {READY_TIMEOUT:g} s")


# --- /proc sampling ----------------------------------------------------------


def process_status(pid: int) -> tuple[float, int]:
    """Return (RSS in MiB, thread count) of a process from /proc/PID/status."""
    rss_kib, threads = 0, 0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            rss_kib = int(line.split()[1])
        elif line.startswith("Threads:"):
            threads = int(line.split()[1])
    return rss_kib / 1024, threads


class Sampler:
    """Sample RSS and threads of one process every ``interval`` seconds in a daemon thread."""

    def __init__(self, pid: int, interval: float = 0.05) -> None:
        self.pid = pid
        self.interval = interval
        self.samples: list[tuple[float, float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sampler", daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            rss, threads = process_status(self.pid)
            self.samples.append((time.monotonic(), rss, threads))
            self._stop.wait(self.interval)

    def __enter__(self) -> "Sampler":
        self._thread.start()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self._stop.set()
        self._thread.join(5)

    def peak(self) -> tuple[float, int]:
        """Largest RSS (MiB) and thread count seen."""
        return max(rss for _, rss, _ in self.samples), max(threads for _, _, threads in self.samples)


# --- statistics and output ---------------------------------------------------


def percentile(samples: list[float], fraction: float) -> float:
    """Nearest-rank percentile (the value below which ``fraction`` of the samples lie)."""
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))
    return ordered[index]


@dataclass
class Summary:
    """Median, p95, p99 and max of a list of durations in milliseconds."""

    n: int
    p50: float
    p95: float
    p99: float
    max: float

    @classmethod
    def of(cls, samples_ms: list[float]) -> "Summary":
        return cls(len(samples_ms), statistics.median(samples_ms), percentile(samples_ms, 0.95), percentile(samples_ms, 0.99), max(samples_ms))


def markdown_table(header: list[str], rows: Iterable[Iterable[Any]]) -> str:
    """Render a Markdown table; floats get two decimals."""
    def cell(value: Any) -> str:
        return f"{value:.2f}" if isinstance(value, float) else str(value)

    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" if i == 0 else "---:" for i in range(len(header))) + " |"]
    lines += ["| " + " | ".join(cell(value) for value in row) + " |" for row in rows]
    return "\n".join(lines)


@dataclass
class Machine:
    """Facts printed with every result: CPUs, memory, versions and the load average."""

    load_before: str = ""
    load_after: str = ""
    notes: list[str] = field(default_factory=list)

    def start(self) -> "Machine":
        self.load_before = _load_average()
        return self

    def finish(self) -> str:
        """Return the machine section as Markdown bullet lines."""
        self.load_after = _load_average()
        memory_kib = int(Path("/proc/meminfo").read_text().split()[1])
        versions = ", ".join(f"{name} {_version(name)}" for name in ("flask", "gunicorn", "simple-websocket", "wsproto", "SQLAlchemy", "aiortc", "requests"))
        janus = subprocess.run(["janus", "--version"], capture_output=True, text=True).stdout.splitlines()
        lines = [
            f"- {os.cpu_count()} CPUs (`nproc`), {memory_kib / 1024 / 1024:.1f} GiB RAM, Linux {platform.release()}",
            f"- Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}, {versions}",
            f"- {janus[0] if janus else 'janus not found'}",
            f"- load average (1, 5, 15 min) {self.load_before} before, {self.load_after} after",
        ]
        return "\n".join(lines + [f"- {note}" for note in self.notes])


def _load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def _version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "(not installed)"
