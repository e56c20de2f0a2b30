"""Module 2 (StreamSession): publisher signaling through the Janus videoroom."""

from __future__ import annotations

from typing import Any, Mapping

from flask import Flask

from common.app import create_base_app, finish_app


def register(app: Flask) -> None:
    """Register module 1's chain, then module 2's own blueprints."""
    from module1_streammeta import register as register_previous

    register_previous(app)
    # TODO: module 2's blueprints arrive with the module's issue.


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the module 2 app."""
    app = create_base_app(__name__, config, title="Streaming course API (module 2)")
    register(app)
    return finish_app(app)
