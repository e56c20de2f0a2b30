"""Benchmark the publish negotiation: the backend's POST /sessions against the same Janus requests sent directly.

Both sides send the same SDP offer, made once by an aiortc publisher, and the
same Janus requests. They create a videoroom room on a control handle attached
once, attach a publisher handle and join as publisher. Then they publish with
the offer and wait for the event that carries Janus's answer. Both clean up the
same way, untimed: detach the handle and destroy the room (the backend does it
in DELETE /api/v1/sessions/{sid}).

- "backend": POST /api/v1/streams/{id}/sessions to the complete backend served by
  gunicorn with the repository's gunicorn.conf.py (one gthread worker), over HTTP
  keep-alive. A new stream is created (untimed) before each publish.
- "direct": a minimal synchronous Janus HTTP client (one session, a long-poll
  GET after each asynchronous request), no threads.

Runs are interleaved, and the order inside each pair alternates (A B, B A, ...),
so machine noise hits both sides alike. Prints a Markdown table.

Run inside the hermetic network namespace from the repository root:

    scripts/hermetic-run .venv/bin/python bench/bench_publish.py
    scripts/hermetic-run .venv/bin/python bench/bench_publish.py --rounds 20   # quick
"""

from __future__ import annotations

import argparse
import secrets
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import requests

from harness import Backend, JanusProcess, Machine, Summary, log, markdown_table, require_hermetic_netns

PLUGIN = "janus.plugin.videoroom"
HTTP_TIMEOUT = 30.0
TARGET_RATIO = 1.15


class DirectJanus:
    """The publisher's Janus requests sent straight to Janus's HTTP API, one after the other."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.http = requests.Session()
        self.session_id = self._post(self.url, {"janus": "create"})["data"]["id"]
        self.session_url = f"{self.url}/{self.session_id}"
        self.control = self.attach("room-control")

    def _post(self, url: str, body: dict[str, Any]) -> dict[str, Any]:
        body = {**body, "transaction": secrets.token_hex(6)}
        reply = self.http.post(url, json=body, timeout=HTTP_TIMEOUT).json()
        if reply.get("janus") not in ("success", "ack"):
            raise RuntimeError(f"Janus rejected {body.get('janus')}: {reply}")
        reply["transaction"] = body["transaction"]
        return reply

    def _wait_event(self, transaction: str) -> dict[str, Any]:
        """Long-poll the session until the event of ``transaction`` arrives; skip other events."""
        deadline = time.monotonic() + HTTP_TIMEOUT
        while time.monotonic() < deadline:
            event = self.http.get(self.session_url, params={"maxev": 1}, timeout=HTTP_TIMEOUT + 5).json()
            if event.get("transaction") == transaction and event.get("janus") == "event":
                return event
        raise RuntimeError(f"no Janus event for transaction {transaction}")

    def attach(self, opaque_id: str) -> int:
        """Attach a videoroom handle and return its id."""
        return self._post(self.session_url, {"janus": "attach", "plugin": PLUGIN, "opaque_id": opaque_id})["data"]["id"]

    def message(self, handle_id: int, body: dict[str, Any], jsep: dict[str, Any] | None = None) -> dict[str, Any]:
        """Send a plugin message; wait for the event when Janus acknowledges it asynchronously."""
        request: dict[str, Any] = {"janus": "message", "body": body}
        if jsep is not None:
            request["jsep"] = jsep
        reply = self._post(f"{self.session_url}/{handle_id}", request)
        if reply["janus"] == "ack":
            reply = self._wait_event(reply["transaction"])
        return reply

    def publish(self, offer_sdp: str) -> tuple[int, str, int, str]:
        """Create a room, attach, join as publisher and publish; return (room, secret, handle, answer SDP)."""
        secret = secrets.token_urlsafe(24)
        created = self.message(self.control, {
            "request": "create", "description": "bench direct", "publishers": 1, "secret": secret,
            "videocodec": "vp8,h264", "audiocodec": "opus", "is_private": True, "permanent": False,
        })
        room = created["plugindata"]["data"]["room"]
        handle = self.attach(f"bench-{room}")
        joined = self.message(handle, {"request": "join", "ptype": "publisher", "room": room, "display": f"bench {room}"})
        if joined["plugindata"]["data"].get("videoroom") != "joined":
            raise RuntimeError(f"join failed: {joined}")
        published = self.message(handle, {"request": "publish"}, jsep={"type": "offer", "sdp": offer_sdp})
        if published["plugindata"]["data"].get("configured") != "ok" or published.get("jsep", {}).get("type") != "answer":
            raise RuntimeError(f"publish failed: {published}")
        return room, secret, handle, published["jsep"]["sdp"]

    def clean_up(self, room: int, secret: str, handle: int) -> None:
        """Detach the publisher handle and destroy the room, as the backend's hang-up does."""
        self._post(f"{self.session_url}/{handle}", {"janus": "detach"})
        self.message(self.control, {"request": "destroy", "room": room, "secret": secret, "permanent": False})

    def close(self) -> None:
        """Destroy the Janus session."""
        self._post(self.session_url, {"janus": "destroy"})


class BackendClient:
    """Publishes through the backend's API, over one keep-alive HTTP connection."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.http = requests.Session()

    def new_stream(self) -> tuple[str, str]:
        """Create a stream; return (id, publishToken)."""
        response = self.http.post(f"{self.url}/api/v1/streams", json={"title": "bench publish"}, timeout=HTTP_TIMEOUT)
        response.raise_for_status()
        body = response.json()
        return body["id"], body["publishToken"]

    def publish(self, stream_id: str, token: str, offer_sdp: str) -> str:
        """POST the offer; return the session id (raises on anything but 201)."""
        response = self.http.post(
            f"{self.url}/api/v1/streams/{stream_id}/sessions",
            json={"type": "offer", "sdp": offer_sdp},
            headers={"Authorization": f"Bearer {token}"},
            timeout=HTTP_TIMEOUT,
        )
        if response.status_code != 201 or not response.json().get("answer", {}).get("sdp"):
            raise RuntimeError(f"publish returned {response.status_code}: {response.text[:300]}")
        return response.json()["id"]

    def clean_up(self, session_id: str, token: str) -> None:
        """Hang up: the backend detaches the handle and destroys the room."""
        response = self.http.delete(f"{self.url}/api/v1/sessions/{session_id}", headers={"Authorization": f"Bearer {token}"}, timeout=HTTP_TIMEOUT)
        response.raise_for_status()


def make_offer() -> str:
    """Create one SDP offer (audio + video, with host candidates) with the tests' aiortc publisher."""
    from tests.services.media import SyntheticPublisher

    with SyntheticPublisher() as publisher:
        return publisher.create_offer()


def timed_backend(client: BackendClient, offer: str) -> float:
    stream_id, token = client.new_stream()
    started = time.perf_counter()
    session_id = client.publish(stream_id, token, offer)
    elapsed = (time.perf_counter() - started) * 1000
    client.clean_up(session_id, token)
    return elapsed


def timed_direct(janus: DirectJanus, offer: str) -> float:
    started = time.perf_counter()
    room, secret, handle, _answer = janus.publish(offer)
    elapsed = (time.perf_counter() - started) * 1000
    janus.clean_up(room, secret, handle)
    return elapsed


# Steps of module2_session.service.publish timed by --breakdown: (module, class or "", function, label).
BREAKDOWN_STEPS = (
    ("module2_session.service", "", "claim_publisher_slot", "database: insert the NEW session"),
    ("common.janus.videoroom", "VideoRoom", "create_room", "Janus: create the room"),
    ("module2_session.service", "", "_ensure_room", "create the room and store it (Janus + database)"),
    ("common.janus.client", "JanusClient", "attach", "Janus: attach"),
    ("module2_session.service", "", "change_state", "database: session to NEGOTIATING, with its event"),
    ("common.janus.videoroom", "VideoRoom", "join_publisher", "Janus: join as publisher"),
    ("module2_session.service", "", "_update_fields", "database: store the feed id"),
    ("common.janus.videoroom", "VideoRoom", "publish", "Janus: publish, wait for the answer"),
    ("module2_session.service", "", "publish", "module2_session.service.publish in all"),
)


def breakdown(janus_url: str, run_dir: Path, offer: str, count: int) -> str:
    """Time the steps of the publish service in-process (Flask test client, no HTTP server); return a table."""
    import importlib
    import os
    import statistics
    from collections import defaultdict

    os.environ.update(JANUS_URL=janus_url, DATABASE_URL=f"sqlite:///{run_dir / 'breakdown.db'}", LOG_LEVEL="WARNING")
    from module3_watch import create_app

    timings: dict[str, list[float]] = defaultdict(list)
    recording = threading.Event()
    for module_name, class_name, function_name, label in BREAKDOWN_STEPS:
        owner = importlib.import_module(module_name)
        if class_name:
            owner = getattr(owner, class_name)
        setattr(owner, function_name, _timed_step(getattr(owner, function_name), timings[label], recording))

    client = create_app().test_client()
    totals = []
    for index in range(count + 5):
        stream = client.post("/api/v1/streams", json={"title": "bench breakdown"}).get_json()
        headers = {"Authorization": f"Bearer {stream['publishToken']}"}
        # The first 5 publishes warm up and are not recorded; the hang-up never is.
        if index >= 5:
            recording.set()
        started = time.perf_counter()
        response = client.post(f"/api/v1/streams/{stream['id']}/sessions", json={"type": "offer", "sdp": offer}, headers=headers)
        elapsed = (time.perf_counter() - started) * 1000
        recording.clear()
        if response.status_code != 201:
            raise RuntimeError(f"publish returned {response.status_code}: {response.get_data(as_text=True)[:300]}")
        client.delete(f"/api/v1/sessions/{response.get_json()['id']}", headers=headers)
        if index >= 5:
            totals.append(elapsed)

    rows = [[label, statistics.median(timings[label])] for _, _, _, label in BREAKDOWN_STEPS]
    rows.append(["POST /sessions through the Flask test client", statistics.median(totals)])
    return markdown_table(["step (in-process, SQLite)", "median ms"], rows)


def _timed_step(function: Any, samples: list[float], recording: threading.Event) -> Any:
    def timed(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            if recording.is_set():
                samples.append((time.perf_counter() - started) * 1000)

    return timed


def run(rounds: int, warmup: int, breakdown_count: int = 0) -> str:
    machine = Machine().start()
    offer = make_offer()
    with tempfile.TemporaryDirectory(prefix="bench-publish-") as tmp:
        run_dir = Path(tmp)
        janus = JanusProcess(run_dir).start()
        backend = Backend(run_dir, janus.url)
        try:
            backend.start()
            backend_client = BackendClient(backend.url)
            direct = DirectJanus(janus.url)
            for _ in range(warmup):
                timed_backend(backend_client, offer)
                timed_direct(direct, offer)
            samples: dict[str, list[float]] = {"backend": [], "direct": []}
            for index in range(rounds):
                order = ("backend", "direct") if index % 2 == 0 else ("direct", "backend")
                for side in order:
                    if side == "backend":
                        samples[side].append(timed_backend(backend_client, offer))
                    else:
                        samples[side].append(timed_direct(direct, offer))
                if (index + 1) % 50 == 0:
                    log(f"{index + 1}/{rounds} pairs")
            direct.close()
            steps = breakdown(janus.url, run_dir, offer, breakdown_count) if breakdown_count else ""
        finally:
            backend.stop()
            janus.stop()

    result_backend, result_direct = Summary.of(samples["backend"]), Summary.of(samples["direct"])
    rows = [
        ["backend: POST /sessions (gunicorn gthread)", result_backend.n, result_backend.p50, result_backend.p95, result_backend.p99, result_backend.max],
        ["direct: the same Janus requests", result_direct.n, result_direct.p50, result_direct.p95, result_direct.p99, result_direct.max],
        ["ratio backend/direct", "", result_backend.p50 / result_direct.p50, result_backend.p95 / result_direct.p95, "", ""],
    ]
    ratio = result_backend.p50 / result_direct.p50
    verdict = "met" if ratio <= TARGET_RATIO else "missed"
    return "\n\n".join([
        markdown_table(["side", "n", "p50 ms", "p95 ms", "p99 ms", "max ms"], rows),
        f"Median ratio {ratio:.2f} against the target of {TARGET_RATIO}: {verdict}. "
        f"The backend adds {result_backend.p50 - result_direct.p50:.2f} ms at the median.",
        *([steps] if steps else []),
        machine.finish(),
    ])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=300, help="measured pairs (one backend and one direct publish each; default 300)")
    parser.add_argument("--warmup", type=int, default=10, help="unmeasured pairs first (default 10)")
    parser.add_argument("--breakdown", type=int, default=100, metavar="N",
                        help="then time the steps of N publishes in-process, without HTTP (default 100, 0 skips)")
    args = parser.parse_args()
    require_hermetic_netns("bench_publish.py")
    print(run(args.rounds, args.warmup, args.breakdown))


if __name__ == "__main__":
    main()
