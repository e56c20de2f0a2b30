"""Module 3 (Watch): viewers, live events over WebSocket and the web pages; the complete server."""

from __future__ import annotations

from typing import Any, Mapping

from flask import Flask

from common.app import create_base_app, finish_app


def register(app: Flask) -> None:
    """Register module 2's chain, then module 3's own blueprints."""
    from module2_session import register as register_previous

    register_previous(app)
    # TODO: module 3's blueprints arrive with the module's issue.


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the module 3 app."""
    app = create_base_app(__name__, config, title="Streaming course API (module 3)")
    register(app)
    return finish_app(app)
