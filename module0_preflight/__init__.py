"""Module 0 (preflight): health, readiness, ICE servers and connectivity checks before any code."""

from __future__ import annotations

from typing import Any, Mapping

from flask import Flask

from common.app import create_base_app, finish_app, register_api_blueprint


def register(app: Flask) -> None:
    """Register module 0's blueprints (the first link of the module chain)."""
    from module0_preflight.routes import api_blp, pages_blp

    register_api_blueprint(app, api_blp)
    app.register_blueprint(pages_blp)


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the module 0 app."""
    app = create_base_app(__name__, config, title="Streaming course API (module 0)")
    register(app)
    return finish_app(app)
