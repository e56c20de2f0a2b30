"""Module 3 (Watch): viewers, live events over WebSocket and the web pages; the complete server."""

from __future__ import annotations

import atexit
import threading
import weakref
from typing import Any, Mapping

from flask import Flask

from common.app import create_base_app, finish_app, register_api_blueprint

# A client that sends bigger WebSocket messages is disconnected; pages send none but {"type": "ping"}.
WS_MAX_MESSAGE_SIZE = 4096


class DaemonThread(threading.Thread):
    """A thread that does not keep the interpreter alive at exit."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.daemon = True


def register(app: Flask) -> None:
    """Register module 2's chain, then module 3's viewers API, WebSocket routes and pages."""
    from module2_session import register as register_previous
    from module3_watch import models  # noqa: F401  (declares the viewer tables before create_all)
    from module3_watch import service
    from module3_watch.pages import pages_blp
    from module3_watch.routes import blp
    from module3_watch.worker import ViewerWorker
    from module3_watch.ws import SocketRegistry, sock, ws_blp

    register_previous(app)
    register_api_blueprint(app, blp)
    app.register_blueprint(pages_blp)

    # flask-sock opens every socket with these options: server pings keep
    # proxies from closing idle sockets and close sockets whose client stops replying.
    # Each socket also gets a reader thread that sleeps up to one ping interval
    # after the socket closed; as a daemon it never holds up the process exit.
    app.config.setdefault(
        "SOCK_SERVER_OPTIONS",
        {"ping_interval": app.config["WS_PING_INTERVAL"], "max_message_size": WS_MAX_MESSAGE_SIZE, "thread_class": DaemonThread},
    )
    sock.init_app(app)
    app.register_blueprint(ws_blp)

    bus = app.extensions["events"]
    registry = SocketRegistry(app.config["WS_MAX_SOCKETS"])
    worker = ViewerWorker(app)
    app.extensions["ws_sockets"] = registry
    app.extensions["viewer_worker"] = worker
    app.extensions["viewer_count_provider"] = service.viewer_counts
    bus.add_listener(worker.on_bus_event)
    bus.add_listener(registry.forward_to_firehose)
    _close_sockets_at_exit(registry)
    # On the first request, like module 2's reconciliation: CLI commands build
    # the app too and must not touch the viewers of a server that is running.
    app.before_request(worker.reset_once)


def _close_sockets_at_exit(registry: Any) -> None:
    """Close open sockets with 1001 when the interpreter exits (the development server's Ctrl+C).

    gunicorn.conf.py does the same on SIGTERM. A weak reference keeps this hook
    from holding test apps alive.
    """
    reference = weakref.ref(registry)

    def close_sockets() -> None:
        registry_now = reference()
        if registry_now is not None and registry_now.open_count:
            registry_now.shutdown()

    atexit.register(close_sockets)


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the module 3 app (the complete server that `make run` starts)."""
    app = create_base_app(__name__, config, title="Streaming course API (module 3)")
    register(app)
    return finish_app(app)
