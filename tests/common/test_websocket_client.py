"""The tests' WebSocket client receives a frame that arrives in the same TCP read as the handshake."""

from __future__ import annotations

import base64
import hashlib
import socket
import threading
from typing import Callable, Iterator

import pytest
from simple_websocket import ConnectionClosed

from tests.services.websocket import connect_websocket

WEBSOCKET_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
SNAPSHOT = b'{"type":"snapshot"}'
# First bytes of an unmasked final text frame and close frame (RFC 6455 section 5.2).
TEXT_FRAME = 0x81
CLOSE_FRAME = 0x88


def _accept_key(request: bytes) -> bytes:
    for line in request.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"sec-websocket-key":
            return base64.b64encode(hashlib.sha1(value.strip() + WEBSOCKET_GUID).digest())
    raise AssertionError(f"no Sec-WebSocket-Key in {request!r}")


@pytest.fixture
def eager_server() -> Iterator[Callable[[bytes], str]]:
    """Start one-shot WebSocket servers that send their 101 response and the given frame with one send().

    A stand-in for the real server, because only a hand-written one can put both in one
    TCP segment every time. After a text frame it waits for the client's close frame and
    responds to it, so that the client's reader thread ends.
    """
    listeners: list[socket.socket] = []
    threads: list[threading.Thread] = []

    def start(frame: bytes) -> str:
        listener = socket.create_server(("127.0.0.1", 0))
        listeners.append(listener)

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
                connection.sendall(response + frame)
                if frame[0] == TEXT_FRAME:
                    connection.recv(4096)
                    connection.sendall(bytes([CLOSE_FRAME, 0]))

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        threads.append(thread)
        return f"ws://127.0.0.1:{listener.getsockname()[1]}/ws"

    yield start
    for thread in threads:
        thread.join(timeout=5)
    for listener in listeners:
        listener.close()


def test_frame_with_handshake_delivered(eager_server) -> None:
    client = connect_websocket(eager_server(bytes([TEXT_FRAME, len(SNAPSHOT)]) + SNAPSHOT))
    try:
        message = client.receive(timeout=5)
    finally:
        client.close()

    assert message == SNAPSHOT.decode()


def test_close_with_handshake_reported(eager_server) -> None:
    # A server that closes at once, as /ws does with 4404 for an unknown stream.
    close_payload = (4404).to_bytes(2, "big") + b"unknown"
    client = connect_websocket(eager_server(bytes([CLOSE_FRAME, len(close_payload)]) + close_payload))

    with pytest.raises(ConnectionClosed) as closed:
        client.receive(timeout=5)
    assert closed.value.reason == 4404
