"""Module 2 (StreamSession): publisher signaling through the Janus videoroom."""

from __future__ import annotations

from typing import Any, Mapping

from flask import Flask

from common.app import create_base_app, finish_app, register_api_blueprint


def register(app: Flask) -> None:
    """Register module 1's chain, then module 2's session API, its Janus runtime and reconciliation."""
    from module1_streammeta import register as register_previous
    from module2_session import models  # noqa: F401  (declares the session tables before create_all)
    from module2_session.routes import blp
    from module2_session.runtime import EXTENSION_KEY, PublishingRuntime

    register_previous(app)
    register_api_blueprint(app, blp)

    runtime = PublishingRuntime(app)
    app.extensions[EXTENSION_KEY] = runtime
    app.extensions["events"].add_listener(runtime.on_bus_event)
    # On the first request rather than here: CLI commands (flask --app ... seed-demo)
    # build the app too, and must not close the sessions of a server that is running.
    app.before_request(runtime.reconcile_once)


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the module 2 app."""
    app = create_base_app(__name__, config, title="Streaming course API (module 2)")
    register(app)
    return finish_app(app)
