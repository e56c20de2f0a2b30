"""Fixtures of the common package's tests: module 0's app plus a small API that exercises every error path."""

from __future__ import annotations

from typing import Any, Callable, Iterator

import pytest
from flask import Flask
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

import module0_preflight
from common.app import create_base_app, finish_app, register_api_blueprint
from common.db import db
from tests.services.api_client import ApiClient

# A small body limit, so the 413 test needs no large payload.
MAX_BODY = 256


class EchoSchema(Schema):
    """A body with two required fields, for validation errors."""

    name = fields.String(required=True, validate=validate.Length(min=1, max=20))
    count = fields.Integer(required=True, validate=validate.Range(min=0))


def _errors_blueprint() -> Blueprint:
    """Routes that only these tests use: a validated JSON echo and a route that crashes."""
    blueprint = Blueprint("errors_probe", __name__, url_prefix="/api/v1/test")

    @blueprint.route("/echo", methods=["POST"])
    @blueprint.arguments(EchoSchema)
    @blueprint.response(200, EchoSchema)
    def echo(body: dict) -> dict:
        return body

    @blueprint.route("/crash")
    def crash() -> Any:
        raise RuntimeError("an unexpected failure with a secret-looking value s3cr3t")

    return blueprint


@pytest.fixture
def make_app(app_config: dict, base_url: str) -> Iterator[Callable[..., Flask]]:
    """Build module 0's app with the test routes and extra settings; skips with --base-url."""
    if base_url:
        pytest.skip("needs the app in-process with test routes; --base-url runs only the HTTP-level tests")
    apps: list[Flask] = []

    def build(**settings: Any) -> Flask:
        app = create_base_app(__name__, {**app_config, "MAX_CONTENT_LENGTH": MAX_BODY, **settings})
        module0_preflight.register(app)
        register_api_blueprint(app, _errors_blueprint())
        apps.append(finish_app(app))
        return app

    yield build
    for app in apps:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    return make_app()


@pytest.fixture
def client(app: Flask) -> ApiClient:
    """A client for the app with the test routes (in-process only)."""
    return ApiClient(app=app)


@pytest.fixture
def api(base_url: str, request: pytest.FixtureRequest) -> ApiClient:
    """A client for the in-process app, or for the live server given with --base-url."""
    if base_url:
        return ApiClient(base_url=base_url)
    return ApiClient(app=request.getfixturevalue("app"))
