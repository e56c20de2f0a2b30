"""Client errors without a working Janus: a closed port, a server that never responds, bad arguments."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from common.janus import VIDEOROOM_PLUGIN, JanusClient
from common.janus.errors import JanusTimeout, JanusUnavailable
from tests.services.availability import free_port


class SilentServer:
    """Test double for a Janus that hangs: it accepts TCP connections and never responds.

    A real Janus cannot be made to hang on demand, so this double shows that
    the client's waits end with JanusTimeout.
    """

    def __init__(self) -> None:
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.bind(("127.0.0.1", 0))
        self._socket.listen(16)
        self.url = f"http://127.0.0.1:{self._socket.getsockname()[1]}/janus"
        self._connections: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, name="silent-janus", daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self._socket.accept()
            except OSError:
                return
            self._connections.append(connection)

    def close(self) -> None:
        self._socket.close()
        for connection in self._connections:
            connection.close()


@pytest.fixture
def silent_server():
    server = SilentServer()
    yield server
    server.close()


# The client must give up after its timeout. The margin only absorbs a loaded
# machine, so a client that waits forever, or for a 30 s long-poll, still fails.
TIMEOUT_MARGIN = 5.0


@pytest.mark.parametrize("operation", ["start", "info"])
def test_silent_janus_times_out(silent_server, make_client, operation):
    client = make_client(silent_server.url, timeout=1.0)
    started = time.monotonic()

    with pytest.raises(JanusTimeout):
        getattr(client, operation)()

    assert time.monotonic() - started < client.timeout + TIMEOUT_MARGIN


def test_closed_port_is_unavailable(make_client):
    client = make_client(f"http://127.0.0.1:{free_port()}/janus", timeout=2.0)

    with pytest.raises(JanusUnavailable):
        client.start()
    assert not client.running


def test_requests_before_start_raise(make_client):
    client = make_client(f"http://127.0.0.1:{free_port()}/janus")

    with pytest.raises(RuntimeError):
        client.attach(VIDEOROOM_PLUGIN)


def test_constructor_rejects_bad_values():
    with pytest.raises(ValueError):
        JanusClient("http://127.0.0.1:9/janus", timeout=0)
    with pytest.raises(ValueError):
        JanusClient("http://127.0.0.1:9/janus", maxev=0)
