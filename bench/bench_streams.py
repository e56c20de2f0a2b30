"""Benchmark module 1's create, list and search on SQLite and MariaDB with many streams.

The table is filled directly with SQLAlchemy (fast), then each operation goes
through the whole Flask stack with the test client (routing, validation,
service, database, JSON), without a network hop. Prints p50/p95/p99 per
operation in milliseconds as a Markdown table.

Run from the repository root:

    .venv/bin/python bench/bench_streams.py                      # both backends, 100k rows
    .venv/bin/python bench/bench_streams.py --backend sqlite --rows 20000
    DATABASE_URL=mysql+pymysql://u:p@127.0.0.1:3306/db .venv/bin/python bench/bench_streams.py --backend mariadb

Without DATABASE_URL the MariaDB run starts its own throwaway mariadbd on
127.0.0.1 (like the test fixture) and removes it afterwards. A given
DATABASE_URL must point at an empty database: the benchmark fills it.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import logging
import os
import platform
import random
import secrets
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from sqlalchemy import insert, text  # noqa: E402

from common.db import db  # noqa: E402
from module1_streammeta import create_app  # noqa: E402
from module1_streammeta.models import Stream, search_text_for  # noqa: E402

SUBJECTS = ["WebRTC", "Janus", "TURN", "STUN", "Flutter", "Flask", "MariaDB", "ICE", "SDP", "códecs", "RTP", "DTLS"]
TOPICS = ["clase", "taller", "práctica", "repaso", "demo", "entrevista", "tutoría", "examen", "laboratorio"]
WORDS = (
    "señal oferta respuesta candidato servidor cliente cámara micrófono red puerto firewall latencia "
    "ancho banda paquete pérdida jitter vídeo audio sala emisión espectador publicador navegador móvil"
).split()
STATUS_WEIGHTS = (("ENDED", 60), ("CREATED", 30), ("LIVE", 10))
BATCH_SIZE = 5000


def _percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))
    return ordered[index]


def _fake_row(rng: random.Random, now: datetime, index: int) -> dict[str, Any]:
    title = f"{rng.choice(TOPICS).capitalize()} {index}: {rng.choice(SUBJECTS)} y {rng.choice(SUBJECTS)}"
    description = " ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 30)))
    status = rng.choices([name for name, _ in STATUS_WEIGHTS], weights=[weight for _, weight in STATUS_WEIGHTS])[0]
    created = now - timedelta(seconds=rng.randint(0, 365 * 24 * 3600), microseconds=rng.randint(0, 999_999))
    return {
        "id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "title": title,
        "description": description,
        "owner_name": rng.choice([None, "Ana", "Luis", "Profesora"]),
        "status": status,
        "token_hash": secrets.token_hex(32),
        "max_viewers": 50,
        "version": 1,
        "search_text": search_text_for(title, description),
        "created_at": created,
        "updated_at": created,
        "started_at": created if status != "CREATED" else None,
        "ended_at": created + timedelta(hours=1) if status == "ENDED" else None,
    }


def fill(app: Any, rows: int, seed: int = 7) -> float:
    """Insert ``rows`` streams in batches and refresh the planner statistics; return the seconds taken."""
    rng = random.Random(seed)
    now = datetime.now(timezone.utc)
    started = time.perf_counter()
    with app.app_context():
        for first in range(0, rows, BATCH_SIZE):
            batch = [_fake_row(rng, now, index) for index in range(first, min(rows, first + BATCH_SIZE))]
            db.session.execute(insert(Stream), batch)
            db.session.commit()
        if db.engine.url.get_backend_name() == "sqlite":
            db.session.execute(text("ANALYZE"))
        else:
            db.session.execute(text("ANALYZE TABLE streams"))
        db.session.commit()
    return time.perf_counter() - started


def measure(call: Callable[[], Any], repeats: int, warmup: int = 5) -> tuple[list[float], Any]:
    """Time ``repeats`` calls after ``warmup`` unmeasured ones; return the durations in ms and the last result."""
    for _ in range(warmup):
        call()
    samples = []
    result = None
    for _ in range(repeats):
        started = time.perf_counter()
        result = call()
        samples.append((time.perf_counter() - started) * 1000)
    return samples, result


def _get(client: Any, path: str) -> Callable[[], Any]:
    def call() -> Any:
        response = client.get(path)
        if response.status_code != 200:
            raise RuntimeError(f"GET {path} returned {response.status_code}: {response.get_data(as_text=True)[:300]}")
        return response

    return call


def operations(client: Any, rows: int) -> list[tuple[str, str, Callable[[], Any]]]:
    """Return (group, label, call) for every measured request."""
    counter = iter(range(10**9))

    def create() -> Any:
        response = client.post("/api/v1/streams", json={"title": f"Bench {next(counter)}", "description": "medición"})
        if response.status_code != 201:
            raise RuntimeError(f"create returned {response.status_code}")
        return response

    deep_page = max(1, rows // 20 // 2)
    return [
        ("create", "POST /api/v1/streams", create),
        ("list", "GET /api/v1/streams (newest first)", _get(client, "/api/v1/streams")),
        ("list", "GET ?status=LIVE", _get(client, "/api/v1/streams?status=LIVE")),
        ("list", "GET ?status=CREATED,LIVE", _get(client, "/api/v1/streams?status=CREATED,LIVE")),
        ("list", "GET ?sort=title", _get(client, "/api/v1/streams?sort=title")),
        ("list", "GET ?page=5&pageSize=100", _get(client, "/api/v1/streams?page=5&pageSize=100")),
        ("list", f"GET ?page={deep_page} (offset {(deep_page - 1) * 20})", _get(client, f"/api/v1/streams?page={deep_page}")),
        ("search", "GET ?q=webrtc", _get(client, "/api/v1/streams?q=webrtc")),
        ("search", "GET ?q=jitter", _get(client, "/api/v1/streams?q=jitter")),
        ("search", "GET ?q=taller 12", _get(client, "/api/v1/streams?q=taller%2012")),
        ("search", "GET ?q=nomatchxyz", _get(client, "/api/v1/streams?q=nomatchxyz")),
        ("search", "GET ?q=janus&status=LIVE", _get(client, "/api/v1/streams?q=janus&status=LIVE")),
    ]


def _result(backend: str, group: str, operation: str, matches: Any, samples: list[float]) -> dict[str, Any]:
    return {
        "backend": backend,
        "group": group,
        "operation": operation,
        "matches": matches,
        "n": len(samples),
        "p50": statistics.median(samples),
        "p95": _percentile(samples, 0.95),
        "p99": _percentile(samples, 0.99),
    }


def run_backend(name: str, database_url: str, rows: int, repeats: int, creates: int) -> list[dict[str, Any]]:
    """Fill one database and measure every operation; return one result row per operation."""
    app = create_app({"DATABASE_URL": database_url, "LOG_LEVEL": "WARNING", "ADMIN_TOKEN": ""})
    seconds = fill(app, rows)
    print(f"[{name}] inserted {rows} streams in {seconds:.1f} s", file=sys.stderr)

    client = app.test_client()
    results = []
    for group, label, call in operations(client, rows):
        samples, last_response = measure(call, creates if group == "create" else repeats)
        matches = last_response.get_json().get("total", "") if group != "create" else ""
        results.append(_result(name, group, label, matches, samples))
        print(f"[{name}] {label}: p95 {results[-1]['p95']:.1f} ms", file=sys.stderr)

    # The SQL behind a deep page, without the app: why list_streams uses a deferred join.
    offset = (max(1, rows // 20 // 2) - 1) * 20
    order = "ORDER BY created_at DESC, id DESC"
    comparisons = [
        (f"SQL: plain OFFSET {offset}", f"SELECT * FROM streams {order} LIMIT 20 OFFSET {offset}"),
        (
            f"SQL: deferred join, OFFSET {offset}",
            f"SELECT s.* FROM streams s JOIN (SELECT id FROM streams {order} LIMIT 20 OFFSET {offset}) page"
            f" ON page.id = s.id ORDER BY s.created_at DESC, s.id DESC",
        ),
    ]
    with app.app_context():
        for label, sql in comparisons:
            samples, _ = measure(lambda sql=sql: db.session.execute(text(sql)).all(), min(repeats, 50))
            db.session.rollback()
            results.append(_result(name, "sql", label, "", samples))
        db.session.remove()
        db.engine.dispose()
    return results


def machine_summary() -> list[str]:
    """Describe the machine and software versions, for the results page."""
    cpu = "unknown CPU"
    memory = "unknown RAM"
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name"))
        kilobytes = int(next(line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal")))
        memory = f"{kilobytes / 1024 / 1024:.1f} GiB RAM"
    except (OSError, StopIteration, ValueError):
        pass
    try:
        mariadb = subprocess.run(["mariadbd", "--version"], capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        mariadb = "mariadbd not found"
    versions = ", ".join(f"{name} {importlib.metadata.version(name)}" for name in ("Flask", "flask-smorest", "marshmallow", "SQLAlchemy", "PyMySQL"))
    return [
        f"- machine: {os.cpu_count()} CPUs ({cpu}), {memory}, Linux {platform.release()}",
        f"- Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}, {versions}",
        f"- {mariadb}",
        f"- load average at start: {' '.join(f'{value:.2f}' for value in os.getloadavg())}",
    ]


def _start_throwaway_mariadb() -> Any:
    from tests.services.mariadb import start_mariadb

    binaries = {}
    for program in ("mariadbd", "mariadb-install-db", "mariadb", "mariadb-admin"):
        path = next((str(Path(folder) / program) for folder in ("/usr/sbin", "/usr/bin") if (Path(folder) / program).exists()), None)
        if path is None:
            raise SystemExit(f"{program} not found: install mariadb-server and mariadb-client, or set DATABASE_URL")
        binaries[program] = path
    # Default durability (flush the log at every commit), as a server would run it.
    return start_mariadb(binaries, server_args=("--innodb-buffer-pool-size=256M",))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=("sqlite", "mariadb", "both"), default="both", help="Database(s) to measure.")
    parser.add_argument("--rows", type=int, default=100_000, help="Streams in the table before measuring (default 100000).")
    parser.add_argument("--repeats", type=int, default=200, help="Measured requests per list/search operation (default 200).")
    parser.add_argument("--creates", type=int, default=500, help="Measured create requests (default 500).")
    args = parser.parse_args()
    logging.disable(logging.INFO)
    # SIGTERM raises SystemExit, so the finally below still stops a throwaway MariaDB.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    summary = machine_summary()

    results: list[dict[str, Any]] = []
    if args.backend in ("sqlite", "both"):
        with tempfile.TemporaryDirectory(prefix="bench-sqlite-") as folder:
            results += run_backend("SQLite", f"sqlite:///{folder}/bench.db", args.rows, args.repeats, args.creates)

    if args.backend in ("mariadb", "both"):
        given_url = os.environ.get("DATABASE_URL", "")
        if given_url:
            results += run_backend("MariaDB", given_url, args.rows, args.repeats, args.creates)
        else:
            server = _start_throwaway_mariadb()
            try:
                database = server.create_database()
                results += run_backend("MariaDB", server.url(database), args.rows, args.repeats, args.creates)
            finally:
                server.stop()

    print("\n".join(summary))
    print(f"- load average at end: {' '.join(f'{value:.2f}' for value in os.getloadavg())}")
    print(f"- rows: {args.rows}, measured requests: {args.repeats} per list/search operation, {args.creates} creates")
    print()
    print("| backend | operation | matches | n | p50 ms | p95 ms | p99 ms |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
    for row in results:
        print(
            f"| {row['backend']} | {row['operation']} | {row['matches']} | {row['n']}"
            f" | {row['p50']:.2f} | {row['p95']:.2f} | {row['p99']:.2f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
