"""Benchmark load on one backend process: concurrent publisher and viewer negotiations.

The complete backend (module 3) runs under gunicorn with the repository's
gunicorn.conf.py (one gthread worker, WS_MAX_SOCKETS + HTTP_THREADS threads,
SQLite), in front of one Janus. Two phases, each started at once by a barrier:

1. Publishers: N streams, then N concurrent POST /api/v1/streams/{id}/sessions,
   all with the same SDP offer made once by aiortc. The sessions are then
   hung up (untimed).
2. Viewers: L streams made LIVE by real aiortc publishers (small synthetic
   video) through the backend, then M concurrent viewer negotiations spread over
   them: POST /api/v1/streams/{id}/viewers (Janus's offer), then
   POST /api/v1/viewers/{vid}/answer. The answers are not made by M aiortc
   peers: one aiortc peer answers one Janus offer per stream before the phase,
   and that answer (without its candidates) is sent for every viewer of the
   stream. Janus offers every subscriber of a feed the same m-lines, codecs and
   mids, so the answer is valid for all of them; only ICE never completes,
   which happens after the negotiation that is measured.

RSS and thread count of the gunicorn worker are sampled every 50 ms during
the run and read again after each phase. Prints Markdown tables.

Run inside the hermetic network namespace from the repository root:

    scripts/hermetic-run .venv/bin/python bench/bench_load.py
    scripts/hermetic-run .venv/bin/python bench/bench_load.py --publishers 20 --viewers 50 --live-streams 2   # quick
"""

from __future__ import annotations

import argparse
import collections
import math
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable

import requests

from bench_publish import make_offer
from bench_streams import _start_throwaway_mariadb
from harness import ADMIN_TOKEN, Backend, JanusProcess, Machine, Sampler, Summary, log, markdown_table, process_status, require_hermetic_netns

HTTP_TIMEOUT = 60.0
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
# Small frames keep the live publishers' encoders from eating the CPUs the benchmark measures.
PUBLISHER_WIDTH, PUBLISHER_HEIGHT = 160, 120


class Outcomes:
    """Latencies and errors of one phase, filled from many threads."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.latencies: dict[str, list[float]] = collections.defaultdict(list)
        self.errors: collections.Counter[str] = collections.Counter()

    def record(self, step: str, started: float, response: requests.Response | None, expected: int, error: str = "") -> bool:
        elapsed = (time.perf_counter() - started) * 1000
        ok = response is not None and response.status_code == expected
        with self.lock:
            if ok:
                self.latencies[step].append(elapsed)
            else:
                code = error or f"{response.status_code} {_problem_code(response)}"
                self.errors[f"{step}: {code}"] += 1
        return ok


def _problem_code(response: requests.Response) -> str:
    try:
        return str(response.json().get("code", ""))
    except ValueError:
        return ""


def _timed(outcomes: Outcomes, step: str, expected: int, send: Callable[[], requests.Response]) -> requests.Response | None:
    started = time.perf_counter()
    try:
        response = send()
    except requests.RequestException as exc:
        outcomes.record(step, started, None, expected, error=type(exc).__name__)
        return None
    return response if outcomes.record(step, started, response, expected) else None


def run_concurrently(count: int, work: Callable[[int], None]) -> float:
    """Run ``work(i)`` in ``count`` threads released together by a barrier; return the wall time."""
    barrier = threading.Barrier(count + 1)

    def worker(index: int) -> None:
        barrier.wait()
        work(index)

    with ThreadPoolExecutor(max_workers=count) as pool:
        futures = [pool.submit(worker, index) for index in range(count)]
        barrier.wait()
        started = time.perf_counter()
        for future in futures:
            future.result()
    return time.perf_counter() - started


def create_streams(base_url: str, count: int, max_viewers: int | None = None) -> list[dict[str, Any]]:
    """Create ``count`` streams (untimed); return their JSON (id and publishToken)."""
    body: dict[str, Any] = {"title": "bench load"}
    if max_viewers:
        body["maxViewers"] = max_viewers
    with requests.Session() as http:
        streams = [http.post(f"{base_url}/api/v1/streams", json=body, timeout=HTTP_TIMEOUT) for _ in range(count)]
    for response in streams:
        response.raise_for_status()
    return [response.json() for response in streams]


def publisher_phase(base_url: str, count: int, offer: str) -> tuple[Outcomes, float, list[str]]:
    """N concurrent publishes; return outcomes, wall time and the created session ids."""
    streams = create_streams(base_url, count)
    outcomes = Outcomes()
    session_ids: list[str] = []

    def publish(index: int) -> None:
        url = f"{base_url}/api/v1/streams/{streams[index]['id']}/sessions"
        response = _timed(outcomes, "POST /sessions", 201, lambda: requests.post(url, json={"type": "offer", "sdp": offer}, headers=ADMIN, timeout=HTTP_TIMEOUT))
        if response is not None:
            with outcomes.lock:
                session_ids.append(response.json()["id"])

    wall = run_concurrently(count, publish)
    return outcomes, wall, session_ids


def hang_up(base_url: str, session_ids: list[str]) -> None:
    """DELETE every session (untimed), 16 at a time."""
    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(lambda sid: requests.delete(f"{base_url}/api/v1/sessions/{sid}", headers=ADMIN, timeout=HTTP_TIMEOUT), session_ids))


def start_live_streams(base_url: str, count: int, max_viewers: int) -> tuple[list[Any], list[dict[str, Any]]]:
    """Publish real aiortc media to ``count`` new streams and wait until each is LIVE."""
    from tests.services.media import SyntheticPublisher

    streams = create_streams(base_url, count, max_viewers)
    publishers = []
    for stream in streams:
        publisher = SyntheticPublisher(PUBLISHER_WIDTH, PUBLISHER_HEIGHT)
        publishers.append(publisher)
        publisher.publish(base_url, stream["id"], stream["publishToken"])
        publisher.wait_for_connection_state({"connected"}, timeout=30)
    deadline = time.monotonic() + 30
    for stream in streams:
        while requests.get(f"{base_url}/api/v1/streams/{stream['id']}", timeout=HTTP_TIMEOUT).json()["status"] != "LIVE":
            if time.monotonic() > deadline:
                raise RuntimeError(f"stream {stream['id']} did not go LIVE")
            time.sleep(0.1)
    return publishers, streams


def answer_template(base_url: str, stream_id: str) -> str:
    """Join one viewer, answer Janus's offer with aiortc, leave; return the answer without candidates."""
    from tests.services.media import FrameCountingSubscriber

    response = requests.post(f"{base_url}/api/v1/streams/{stream_id}/viewers", json={}, timeout=HTTP_TIMEOUT)
    response.raise_for_status()
    viewer = response.json()
    with FrameCountingSubscriber() as peer:
        answer = peer.answer(viewer["offer"]["sdp"])
    requests.delete(f"{base_url}/api/v1/viewers/{viewer['id']}", timeout=HTTP_TIMEOUT).raise_for_status()
    lines = [line for line in answer.splitlines() if not line.startswith(("a=candidate:", "a=end-of-candidates"))]
    return "\r\n".join(lines) + "\r\n"


def viewer_phase(base_url: str, count: int, streams: list[dict[str, Any]], answers: dict[str, str]) -> tuple[Outcomes, float]:
    """M concurrent viewer negotiations (join, then answer), spread round-robin over the live streams."""
    outcomes = Outcomes()

    def watch(index: int) -> None:
        stream_id = streams[index % len(streams)]["id"]
        started = time.perf_counter()
        joined = _timed(outcomes, "POST /viewers", 201, lambda: requests.post(f"{base_url}/api/v1/streams/{stream_id}/viewers", json={}, timeout=HTTP_TIMEOUT))
        if joined is None:
            return
        url = f"{base_url}/api/v1/viewers/{joined.json()['id']}/answer"
        if _timed(outcomes, "POST /viewers/{vid}/answer", 200, lambda: requests.post(url, json={"type": "answer", "sdp": answers[stream_id]}, timeout=HTTP_TIMEOUT)):
            with outcomes.lock:
                outcomes.latencies["whole negotiation"].append((time.perf_counter() - started) * 1000)

    wall = run_concurrently(count, watch)
    return outcomes, wall


def _latency_rows(phase: str, count: int, outcomes: Outcomes, wall: float) -> list[list[Any]]:
    rows = []
    for step, samples in outcomes.latencies.items():
        summary = Summary.of(samples)
        rows.append([phase, step, f"{summary.n}/{count}", summary.p50, summary.p95, summary.max])
    errors = sum(outcomes.errors.values())
    rows.append([phase, f"errors: {errors}" + (f" ({dict(outcomes.errors)})" if errors else ""), "", "", "", f"wall {wall:.1f} s"])
    return rows


def run(publishers: int, viewers: int, live_streams: int, database: str) -> str:
    machine = Machine().start()
    offer = make_offer()
    per_stream = math.ceil(viewers / live_streams)
    live_publishers: list[Any] = []
    mariadb = None
    with tempfile.TemporaryDirectory(prefix="bench-load-") as tmp:
        run_dir = Path(tmp)
        janus = JanusProcess(run_dir).start()
        env = {}
        if database == "mariadb":
            mariadb = _start_throwaway_mariadb()
            env["DATABASE_URL"] = mariadb.url(mariadb.create_database())
        backend = Backend(run_dir, janus.url, env)
        try:
            backend.start()
            pid = backend.worker_pid
            # Warm-up: start the Janus client and the pools with one publish and hang-up.
            _, _, warm = publisher_phase(backend.url, 1, offer)
            hang_up(backend.url, warm)
            states = [("idle, after one warm-up publish", *process_status(pid))]

            with Sampler(pid) as sampler:
                log(f"{publishers} concurrent publishes")
                pub_outcomes, pub_wall, session_ids = publisher_phase(backend.url, publishers, offer)
            states.append((f"peak during {publishers} publishes", *sampler.peak()))
            states.append((f"after them, {len(session_ids)} sessions open", *process_status(pid)))
            hang_up(backend.url, session_ids)

            log(f"starting {live_streams} live streams with aiortc publishers")
            live_publishers, streams = start_live_streams(backend.url, live_streams, per_stream)
            answers = {stream["id"]: answer_template(backend.url, stream["id"]) for stream in streams}
            states.append((f"{live_streams} live streams, before the viewers", *process_status(pid)))
            with Sampler(pid) as sampler:
                log(f"{viewers} concurrent viewer negotiations")
                view_outcomes, view_wall = viewer_phase(backend.url, viewers, streams, answers)
            states.append((f"peak during {viewers} viewer negotiations", *sampler.peak()))
            states.append((f"after them, {viewers} viewers active", *process_status(pid)))
            time.sleep(5)
            states.append(("5 s later", *process_status(pid)))
            threads_configured = backend.threads()
        finally:
            for publisher in live_publishers:
                publisher.close()
            backend.stop()
            janus.stop()
            if mariadb is not None:
                mariadb.stop()

    rows = _latency_rows(f"{publishers} publishers", publishers, pub_outcomes, pub_wall)
    rows += _latency_rows(f"{viewers} viewers on {live_streams} streams", viewers, view_outcomes, view_wall)
    errors = sum(pub_outcomes.errors.values()) + sum(view_outcomes.errors.values())
    return "\n\n".join([
        markdown_table(["phase", "step", "ok", "p50 ms", "p95 ms", "max ms"], rows),
        markdown_table(["gunicorn worker", "RSS MiB", "threads"], [[name, f"{rss:.0f}", threads] for name, rss, threads in states]),
        f"Database: {database}. Errors: {errors} (target 0: {'met' if errors == 0 else 'missed'}). "
        f"gunicorn threads configured: {threads_configured} (WS_MAX_SOCKETS + HTTP_THREADS).",
        machine.finish(),
    ])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--publishers", type=int, default=100, help="concurrent publisher negotiations (default 100)")
    parser.add_argument("--viewers", type=int, default=500, help="concurrent viewer negotiations (default 500)")
    parser.add_argument("--live-streams", type=int, default=5, help="live streams the viewers join, each with an aiortc publisher (default 5)")
    parser.add_argument("--database", choices=("sqlite", "mariadb"), default="sqlite", help="the backend's database: a SQLite file, or a throwaway mariadbd on 127.0.0.1 (default sqlite)")
    args = parser.parse_args()
    require_hermetic_netns("bench_load.py")
    print(run(args.publishers, args.viewers, args.live_streams, args.database))


if __name__ == "__main__":
    main()
