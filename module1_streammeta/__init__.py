"""Module 1 (StreamMeta): the Stream resource, its lifecycle and persistence."""

from __future__ import annotations

from typing import Any, Mapping

from flask import Flask

from common.app import create_base_app, finish_app


def register(app: Flask) -> None:
    """Register module 0's chain, then module 1's own blueprints."""
    from module0_preflight import register as register_previous

    register_previous(app)
    # TODO: module 1's blueprints arrive with the module's issue.


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the module 1 app."""
    app = create_base_app(__name__, config, title="Streaming course API (module 1)")
    register(app)
    return finish_app(app)
