"""gunicorn.conf.py: the production server keeps serving HTTP with every WebSocket slot taken, and closes sockets on stop."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Iterator

import pytest
import requests

from tests.module3_watch.conftest import EventSocket
from tests.services.gunicorn import HTTP_THREADS, MAX_SOCKETS, Gunicorn


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
