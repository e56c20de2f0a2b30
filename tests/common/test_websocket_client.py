"""The tests' WebSocket client receives a frame that arrives in the same TCP read as the handshake."""

from __future__ import annotations

import base64
import hashlib
import socket
import threading
from typing import Iterator

import pytest

from tests.services.websocket import connect_websocket

WEBSOCKET_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
SNAPSHOT = b'{"type":"snapshot"}'


def _accept_key(request: bytes) -> bytes:
    for line in request.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"sec-websocket-key":
            return base64.b64encode(hashlib.sha1(value.strip() + WEBSOCKET_GUID).digest())
    raise AssertionError(f"no Sec-WebSocket-Key in {request!r}")


@pytest.fixture
def eager_server() -> Iterator[str]:
    """A one-shot WebSocket server that sends its 101 response and a text frame with one send().

    A stand-in for the real server, because only a hand-written one can put both in one
    TCP segment every time.
    """
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve() -> None:
        connection, _ = listener.accept()
        with connection:
            request = b""
            while b"\r\n\r\n" not in request:
                request += connection.recv(4096)
            response = (
                b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                b"Sec-WebSocket-Accept: " + _accept_key(request) + b"\r\n\r\n"
            )
            frame = bytes([0x81, len(SNAPSHOT)]) + SNAPSHOT
            connection.sendall(response + frame)
            # Wait for the client's close frame and answer it, so that its reader thread ends.
            connection.recv(4096)
            connection.sendall(bytes([0x88, 0]))

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"ws://127.0.0.1:{port}/ws"
    thread.join(timeout=5)
    listener.close()


def test_frame_with_handshake_delivered(eager_server: str) -> None:
    client = connect_websocket(eager_server)
    try:
        message = client.receive(timeout=5)
    finally:
        client.close()

    assert message == SNAPSHOT.decode()
