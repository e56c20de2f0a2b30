"""Module 1 (StreamMeta): the Stream resource, its lifecycle and persistence."""

from __future__ import annotations

from typing import Any, Mapping

from flask import Flask

from common.app import create_base_app, finish_app, register_api_blueprint


def register(app: Flask) -> None:
    """Register module 0's chain, then module 1's stream API and CLI commands."""
    from module0_preflight import register as register_previous
    from module1_streammeta import models  # noqa: F401  (declares the streams table before create_all)
    from module1_streammeta.commands import init_db_command, seed_demo_command
    from module1_streammeta.routes import blp

    register_previous(app)
    register_api_blueprint(app, blp)
    app.cli.add_command(init_db_command)
    app.cli.add_command(seed_demo_command)


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the module 1 app."""
    app = create_base_app(__name__, config, title="Streaming course API (module 1)")
    register(app)
    return finish_app(app)
