"""Benchmark WebSocket fan-out: N clients on /ws/streams/{id}, time from a status change to the last delivery.

The backend (module 3) runs under gunicorn with the repository's gunicorn.conf.py,
with WS_MAX_SOCKETS raised to the number of sockets (gunicorn then runs
WS_MAX_SOCKETS + HTTP_THREADS threads in its one worker). The clients are
asyncio connections speaking WebSocket through wsproto (already installed with
simple-websocket), all in this one process and one thread.

Each round creates a stream, opens every socket on it and waits for each
snapshot, then makes two status changes: POST /start (LIVE) and POST /end
(ENDED, after which the server closes every socket). For each change it takes
the time of the last socket to receive the ``stream.status`` event, measured
from the event's ``at`` (when the server published it) and from the moment
the client sent the POST. The figure is the p95 of the last delivery over
all changes. Prints a Markdown table.

Run inside the hermetic network namespace from the repository root:

    scripts/hermetic-run .venv/bin/python bench/bench_ws_fanout.py
    scripts/hermetic-run .venv/bin/python bench/bench_ws_fanout.py --sockets 200 --rounds 3   # quick
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, CloseConnection, Ping, RejectConnection, Request, TextMessage

from harness import ADMIN_TOKEN, Backend, Machine, Sampler, Summary, log, markdown_table, process_status, require_hermetic_netns

TARGET_P95_MS = 200.0
CONNECT_CONCURRENCY = 50
DELIVERY_TIMEOUT = 30.0


class EventSocket:
    """One client WebSocket on /ws/streams/{id} that records when each stream.status arrives."""

    def __init__(self) -> None:
        self.received: dict[str, float] = {}
        self.snapshot = asyncio.Event()
        self.closed = asyncio.Event()
        self.close_code: int | None = None
        self._ws = WSConnection(ConnectionType.CLIENT)
        self._writer: asyncio.StreamWriter | None = None
        self._text: list[str] = []

    async def open(self, host: str, port: int, path: str) -> None:
        """Connect, send the handshake and read the replies in a task."""
        reader, self._writer = await asyncio.open_connection(host, port)
        self._writer.write(self._ws.send(Request(host=f"{host}:{port}", target=path)))
        await self._writer.drain()
        asyncio.create_task(self._read(reader))

    async def _read(self, reader: asyncio.StreamReader) -> None:
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                self._ws.receive_data(data)
                for event in self._ws.events():
                    self._handle(event)
        except ConnectionError:
            pass
        finally:
            self.closed.set()
            if self._writer is not None:
                self._writer.close()

    def _handle(self, event: Any) -> None:
        if isinstance(event, TextMessage):
            self._text.append(event.data)
            if event.message_finished:
                self._message(json.loads("".join(self._text)))
                self._text = []
        elif isinstance(event, Ping):
            self._writer.write(self._ws.send(event.response()))
        elif isinstance(event, CloseConnection):
            self.close_code = event.code
            self._writer.write(self._ws.send(event.response()))
        elif isinstance(event, RejectConnection):
            self.closed.set()
        elif isinstance(event, AcceptConnection):
            pass

    def _message(self, message: dict[str, Any]) -> None:
        if message.get("type") == "snapshot":
            self.snapshot.set()
        elif message.get("type") == "stream.status":
            self.received[message["data"]["status"]] = time.time()
            self.received[message["data"]["status"] + ":at"] = datetime.fromisoformat(message["at"].replace("Z", "+00:00")).timestamp()


def _post(url: str, token: str) -> float:
    response = requests.post(url, headers={"Authorization": f"Bearer {token}"}, timeout=30)
    response.raise_for_status()
    return time.time()


async def change_and_measure(sockets: list[EventSocket], url: str, token: str, status: str) -> dict[str, Any]:
    """POST one transition and wait until every socket got its stream.status; return the timings."""
    loop = asyncio.get_running_loop()
    sent = time.time()
    await loop.run_in_executor(None, _post, url, token)
    deadline = time.monotonic() + DELIVERY_TIMEOUT
    while time.monotonic() < deadline and any(status not in sock.received for sock in sockets):
        await asyncio.sleep(0.005)
    got = [sock for sock in sockets if status in sock.received]
    published = got[0].received[status + ":at"] if got else sent
    deliveries = [sock.received[status] for sock in got]
    return {
        "status": status,
        "missing": len(sockets) - len(got),
        "last_from_event_ms": (max(deliveries) - published) * 1000 if deliveries else float("nan"),
        "median_from_event_ms": (statistics.median(deliveries) - published) * 1000 if deliveries else float("nan"),
        "last_from_request_ms": (max(deliveries) - sent) * 1000 if deliveries else float("nan"),
    }


async def one_round(base_url: str, count: int) -> tuple[list[dict[str, Any]], float]:
    """Open ``count`` sockets on a new stream, start it and end it; return the two changes and the connect time."""
    body = requests.post(f"{base_url}/api/v1/streams", json={"title": "bench fan-out"}, timeout=30).json()
    stream_id, token = body["id"], body["publishToken"]
    parts = urlsplit(base_url)
    sockets = [EventSocket() for _ in range(count)]
    limit = asyncio.Semaphore(CONNECT_CONCURRENCY)

    async def connect(sock: EventSocket) -> None:
        async with limit:
            await sock.open(parts.hostname, parts.port, f"/ws/streams/{stream_id}")
            await asyncio.wait_for(sock.snapshot.wait(), DELIVERY_TIMEOUT)

    started = time.monotonic()
    await asyncio.gather(*(connect(sock) for sock in sockets))
    connect_seconds = time.monotonic() - started
    await asyncio.sleep(0.5)
    changes = [
        await change_and_measure(sockets, f"{base_url}/api/v1/streams/{stream_id}/start", token, "LIVE"),
        await change_and_measure(sockets, f"{base_url}/api/v1/streams/{stream_id}/end", token, "ENDED"),
    ]
    await asyncio.wait_for(asyncio.gather(*(sock.closed.wait() for sock in sockets)), DELIVERY_TIMEOUT)
    codes = {sock.close_code for sock in sockets}
    if codes != {1000}:
        log(f"close codes after ENDED: {codes}")
    return changes, connect_seconds


def run(count: int, rounds: int) -> str:
    machine = Machine().start()
    with tempfile.TemporaryDirectory(prefix="bench-ws-") as tmp:
        backend = Backend(Path(tmp), "http://127.0.0.1:9/janus", {"WS_MAX_SOCKETS": str(count), "JANUS_REQUIRED": "false"})
        backend.start()
        try:
            pid = backend.worker_pid
            idle_rss, idle_threads = process_status(pid)
            changes: list[dict[str, Any]] = []
            connects: list[float] = []
            with Sampler(pid, 0.2) as sampler:
                for index in range(rounds):
                    round_changes, connect_seconds = asyncio.run(one_round(backend.url, count))
                    changes += round_changes
                    connects.append(connect_seconds)
                    log(f"round {index + 1}/{rounds}: " + ", ".join(f"{c['status']} last {c['last_from_event_ms']:.0f} ms" for c in round_changes))
            after_rss, after_threads = process_status(pid)
            peak_rss, peak_threads = sampler.peak()
            max_threads = backend.threads()
        finally:
            backend.stop()

    from_event = Summary.of([c["last_from_event_ms"] for c in changes])
    from_request = Summary.of([c["last_from_request_ms"] for c in changes])
    median_delivery = Summary.of([c["median_from_event_ms"] for c in changes])
    missing = sum(c["missing"] for c in changes)
    rows = []
    for status, change in (("LIVE", "POST /start"), ("ENDED", "POST /end, then the server closes")):
        last = Summary.of([c["last_from_event_ms"] for c in changes if c["status"] == status])
        rows.append([f"{change}: last delivery, from the event's publication", last.n, last.p50, last.p95, last.max])
    rows += [
        ["both: last delivery, from the event's publication", from_event.n, from_event.p50, from_event.p95, from_event.max],
        ["last delivery, from the POST being sent", from_request.n, from_request.p50, from_request.p95, from_request.max],
        ["median socket, from the event's publication", median_delivery.n, median_delivery.p50, median_delivery.p95, median_delivery.max],
    ]
    verdict = "met" if from_event.p95 <= TARGET_P95_MS and missing == 0 else "missed"
    process_rows = [
        ["idle, before the sockets", f"{idle_rss:.0f}", idle_threads],
        [f"peak with {count} sockets", f"{peak_rss:.0f}", peak_threads],
        ["after the last round", f"{after_rss:.0f}", after_threads],
    ]
    return "\n\n".join([
        f"{count} sockets, {rounds} rounds, {len(changes)} status changes, {count * len(changes)} deliveries expected, {missing} missing.",
        markdown_table(["time to the last socket", "changes", "p50 ms", "p95 ms", "max ms"], rows),
        f"p95 {from_event.p95:.0f} ms against the target of {TARGET_P95_MS:.0f} ms: {verdict}. "
        f"Opening {count} sockets took {statistics.median(connects):.1f} s (median of the rounds).",
        markdown_table(["gunicorn worker", "RSS MiB", "threads"], process_rows)
        + f"\n\ngunicorn threads configured: {max_threads} (WS_MAX_SOCKETS {count} + HTTP_THREADS 16).",
        machine.finish(),
    ])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sockets", type=int, default=1000, help="open WebSockets on the stream (default 1000)")
    parser.add_argument("--rounds", type=int, default=15, help="rounds of start + end, two changes each (default 15)")
    args = parser.parse_args()
    require_hermetic_netns("bench_ws_fanout.py")
    print(run(args.sockets, args.rounds))


if __name__ == "__main__":
    main()
