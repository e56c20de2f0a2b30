"""Production server settings for the complete backend (module 3): `gunicorn -c gunicorn.conf.py`.

Worker model: ONE process with the gthread worker and more threads than open
WebSockets can hold.

- One process, because the event bus (common.events), the Janus session and
  its event-pump thread, and the reconnect and viewer timers live inside the
  process. A second worker would have its own bus, so a socket served by one
  worker would miss the events published by the other.
- gthread, because flask-sock runs each WebSocket inside its request and so
  keeps one thread busy for the socket's whole life. With N threads, socket N+1
  would wait for a free thread forever and every HTTP request would queue
  behind the sockets. The app closes the socket over WS_MAX_SOCKETS with code
  1013, so `threads` is WS_MAX_SOCKETS plus HTTP_THREADS for requests. Sockets
  then never take every thread.
- An async worker (gevent, eventlet) would hold thousands of sockets, but the
  Janus client, the SQLAlchemy drivers and the timers here are written for
  threads and are not tested under monkey-patching.

Environment: BIND (default 127.0.0.1:8000, behind nginx), HTTP_THREADS
(default 16), and the app settings of common/config.py (WS_MAX_SOCKETS,
DATABASE_URL, ...). Run from the repository root with the project's venv:

    .venv/bin/gunicorn -c gunicorn.conf.py
"""

from __future__ import annotations

import os
import signal

from common.config import load_settings

_settings = load_settings()

# Threads kept free for HTTP requests while WS_MAX_SOCKETS sockets are open.
HTTP_THREADS = int(os.environ.get("HTTP_THREADS", "16"))

wsgi_app = "module3_watch:create_app()"
bind = os.environ.get("BIND", "127.0.0.1:8000")
workers = 1
worker_class = "gthread"
threads = _settings["WS_MAX_SOCKETS"] + HTTP_THREADS
# Connections the worker accepts at once: every thread busy plus room for idle keep-alive ones.
worker_connections = threads + 100
# gthread's main loop keeps reporting to the arbiter while threads serve long
# requests and sockets, so this timeout only catches a worker that hangs whole.
timeout = 60
# On SIGTERM the app first closes every socket with 1001; open requests then have this long.
graceful_timeout = 15
keepalive = 5
# Proxy headers (X-Forwarded-For, X-Forwarded-Proto) are trusted from nginx on this host only.
forwarded_allow_ips = "127.0.0.1"
accesslog = "-"
errorlog = "-"


def post_worker_init(worker):
    """Close the app's WebSockets with 1001 before gunicorn's own graceful shutdown on SIGTERM.

    Without this, a stopping worker would wait graceful_timeout for sockets
    that never end by themselves and then cut them without a close frame.
    """
    registry = worker.wsgi.extensions["ws_sockets"]
    gunicorn_handler = signal.getsignal(signal.SIGTERM)

    def close_sockets_then_stop(signum, frame):
        # The handler runs on the main thread, which must stay free to run the
        # graceful stop, so it only wakes the socket threads and does not wait.
        registry.shutdown(wait=0)
        if callable(gunicorn_handler):
            gunicorn_handler(signum, frame)

    signal.signal(signal.SIGTERM, close_sockets_then_stop)
    worker.log.info("serving with %d threads: at most %d WebSockets, %d threads kept for HTTP", threads, registry.max_sockets, HTTP_THREADS)
