"""A WebSocket client for the tests: simple-websocket's Client without its lost-first-message race."""

from __future__ import annotations

from simple_websocket import Client


class WebSocketClient(Client):
    """simple-websocket's Client that also delivers frames that arrived with the handshake response.

    simple-websocket 1.1.0 reads the handshake response with one recv() and handles only the
    accept event. When the server's first frame (the /ws snapshot) comes in the same TCP read,
    wsproto keeps it buffered and the reader thread only receives it once more bytes arrive, such
    as the next ping many seconds later. Handling the pending events before the reader thread
    starts delivers that frame at once.
    """

    def handshake(self) -> None:
        super().handshake()
        self._open_after_handshake = self._handle_events()
        # Base.__init__ raises unless connected is true. A server that closed at once (4404,
        # 1013) is reported by the reader thread instead, as any later close would be.
        self.connected = True

    def _thread(self) -> None:
        if self._open_after_handshake:
            super()._thread()
            return
        self.connected = False
        self.event.set()
        self.sock.close()


def connect_websocket(url: str, **options) -> WebSocketClient:
    """Open a WebSocket to ``url`` (ws:// or wss://) and return the connected client."""
    return WebSocketClient(url, **options)
