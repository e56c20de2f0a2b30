"""The app base every module's create_app builds on."""

from __future__ import annotations

import logging
import time
import uuid
from typing import Any, Mapping

from flask import Flask, g, request
from flask_cors import CORS
from flask_smorest import Blueprint

from common.config import load_settings
from common.db import create_tables, init_db
from common.errors import init_errors
from common.events import EventBus
from common.i18n import init_i18n
from common.openapi import CourseApi, ProblemResponsesPlugin

logger = logging.getLogger(__name__)

_REQUEST_ID_HEADER = "X-Request-ID"


class RequestIdFilter(logging.Filter):
    """Add the current request id (or "-") to every log record."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            record.request_id = getattr(request, "request_id", "-")
        except RuntimeError:
            record.request_id = "-"
        return True


def configure_logging(level: str) -> None:
    """Configure the root logger once: one line per record with the request id."""
    root = logging.getLogger()
    if any(getattr(handler, "_course_handler", False) for handler in root.handlers):
        root.setLevel(level)
        return
    handler = logging.StreamHandler()
    handler._course_handler = True  # type: ignore[attr-defined]
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s"))
    root.addHandler(handler)
    root.setLevel(level)


def _start_request() -> None:
    incoming = request.headers.get(_REQUEST_ID_HEADER, "")
    # Accept a caller's id only when it is short and printable, so logs stay clean.
    if incoming and len(incoming) <= 64 and incoming.isprintable():
        request.request_id = incoming
    else:
        request.request_id = uuid.uuid4().hex
    g.request_started = time.perf_counter()


def _finish_request(response: Any) -> Any:
    response.headers[_REQUEST_ID_HEADER] = getattr(request, "request_id", "-")
    started = g.get("request_started")
    elapsed_ms = (time.perf_counter() - started) * 1000 if started else 0.0
    logger.info("%s %s -> %s in %.1f ms", request.method, request.path, response.status_code, elapsed_ms)
    return response


def create_base_app(import_name: str, config: Mapping[str, Any] | None = None, title: str = "Streaming course API") -> Flask:
    """Build the common app: settings, logging, errors, i18n, database, OpenAPI and CORS.

    ``config`` overrides settings from the environment (tests pass ``TESTING`` and a database URL).
    """
    app = Flask(import_name, instance_relative_config=True)
    settings = load_settings(config)
    app.config.update(settings)
    app.config.update(
        API_TITLE=title,
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/api",
        OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_SWAGGER_UI_PATH="/docs",
        OPENAPI_SWAGGER_UI_URL="https://cdn.jsdelivr.net/npm/swagger-ui-dist/",
        OPENAPI_REDOC_PATH="/redoc",
        OPENAPI_REDOC_URL="https://cdn.jsdelivr.net/npm/redoc/bundles/redoc.standalone.js",
        JSON_SORT_KEYS=False,
    )
    app.json.sort_keys = False
    app.json.ensure_ascii = False

    configure_logging(app.config["LOG_LEVEL"])
    app.before_request(_start_request)
    app.after_request(_finish_request)

    init_i18n(app)
    init_db(app)
    api = CourseApi(app, spec_kwargs={"extra_plugins": [ProblemResponsesPlugin()]})
    app.extensions["course_api"] = api
    app.extensions["events"] = EventBus()
    # After Api, whose own HTTPException handler this replaces.
    init_errors(app)

    origins = app.config["CORS_ORIGINS"]
    CORS(
        app,
        resources={r"/api/*": {"origins": origins}, r"/health": {"origins": origins}, r"/ready": {"origins": origins}},
        expose_headers=["ETag", "X-Request-ID", "Location"],
        allow_headers=["Authorization", "Content-Type", "If-Match", "Accept-Language", "X-Request-ID"],
    )
    return app


def register_api_blueprint(app: Flask, blueprint: Blueprint) -> None:
    """Register a flask-smorest blueprint on the app's Api (documented in OpenAPI)."""
    app.extensions["course_api"].register_blueprint(blueprint)


def finish_app(app: Flask) -> Flask:
    """Create missing tables once every module has registered its models."""
    create_tables(app)
    return app
