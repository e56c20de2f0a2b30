"""Fixtures of the module 1 tests: the app on SQLite and on MariaDB, and one API client for it or for --base-url.

Tests that take ``api`` run three ways: in-process on SQLite, in-process on a
MariaDB server started by the fixture, or (with --base-url) against a live server,
where only ``api`` tests run and the ones that need the app in-process skip.
"""

from __future__ import annotations

import os
from typing import Any, Callable, Iterator

import pytest
from flask import Flask

from common.db import db
from module1_streammeta import create_app
from tests.services.api_client import ApiClient

ADMIN_TOKEN_VARIABLE = "COURSE_ADMIN_TOKEN"


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run each test that needs a database once per backend, or once against --base-url."""
    if "db_backend" not in metafunc.fixturenames:
        return
    if metafunc.config.getoption("--base-url"):
        metafunc.parametrize("db_backend", ["live"])
    else:
        metafunc.parametrize("db_backend", ["sqlite", pytest.param("mariadb", marks=pytest.mark.mariadb)])


@pytest.fixture
def app(db_backend: str, app_config: dict, request: pytest.FixtureRequest) -> Iterator[Flask]:
    """The module 1 app on a fresh SQLite file or a fresh MariaDB database."""
    if db_backend == "live":
        pytest.skip("needs the app in-process; with --base-url only the HTTP-level tests run")
    config = dict(app_config)
    if db_backend == "mariadb":
        config["DATABASE_URL"] = request.getfixturevalue("mariadb_url")

    app = create_app(config)
    yield app

    # Close pooled connections before the fixture drops the MariaDB database.
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def api(db_backend: str, base_url: str, request: pytest.FixtureRequest) -> ApiClient:
    """A client for the app in-process, or for the live server given with --base-url."""
    if base_url:
        return ApiClient(base_url=base_url)
    return ApiClient(app=request.getfixturevalue("app"))


@pytest.fixture
def server_url(db_backend: str, base_url: str, request: pytest.FixtureRequest) -> str:
    """A real HTTP server for tests with concurrent clients: --base-url, or the app served in a thread."""
    if base_url:
        return base_url
    live_server_factory = request.getfixturevalue("live_server_factory")
    return live_server_factory(request.getfixturevalue("app")).url


@pytest.fixture
def admin_token(base_url: str, app_config: dict) -> str:
    """The instructor token of the server under test (COURSE_ADMIN_TOKEN for --base-url runs)."""
    if not base_url:
        return app_config["ADMIN_TOKEN"]
    token = os.environ.get(ADMIN_TOKEN_VARIABLE, "")
    if not token:
        pytest.skip(f"[needs_admin_token] set {ADMIN_TOKEN_VARIABLE} to the server's ADMIN_TOKEN to run admin tests against --base-url")
    return token


@pytest.fixture
def make_stream(api: ApiClient) -> Callable[..., tuple[dict[str, Any], str]]:
    """Create a stream through the API; return its JSON (without the token) and its publish token."""

    def make(title: str = "Clase de prueba", **fields: Any) -> tuple[dict[str, Any], str]:
        response = api.post("/api/v1/streams", json={"title": title, **fields})
        assert response.status_code == 201, response.text
        body = response.json()
        token = body.pop("publishToken")
        return body, token

    return make


@pytest.fixture
def read_stream(api: ApiClient) -> Callable[[str], dict[str, Any]]:
    """Read a stream through the API and return its JSON."""

    def read(stream_id: str) -> dict[str, Any]:
        response = api.get(f"/api/v1/streams/{stream_id}")
        assert response.status_code == 200, response.text
        return response.json()

    return read
