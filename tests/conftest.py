"""Shared fixtures: the app under test, an API client for in-process or --base-url runs, services."""

from __future__ import annotations

import os

import pytest

from tests.grading.marker import collection_problems
from tests.services.api_client import ApiClient

pytest_plugins = [
    "tests.services.live_server",
    "tests.services.mariadb",
    "tests.services.coturn",
    "tests.services.janus",
    "tests.services.grading",
    "tests.services.chromium",
]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--base-url",
        default=os.environ.get("COURSE_BASE_URL", ""),
        help="Run the API tests against a live server at this URL instead of in-process.",
    )


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Stop the run when a graded test lacks its docstring or Spanish text, or names another module."""
    problems = collection_problems(items)
    if problems:
        raise pytest.UsageError("invalid grade markers:\n" + "\n".join(problems))


@pytest.fixture
def base_url(request: pytest.FixtureRequest) -> str:
    """The live server URL given with --base-url, or empty for in-process runs."""
    return request.config.getoption("--base-url").rstrip("/")


@pytest.fixture
def app_config(tmp_path) -> dict:
    """Settings for an in-process app: a fresh SQLite file and no reachable Janus."""
    return {
        "TESTING": True,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'test.db'}",
        "ADMIN_TOKEN": "test-admin-token",
        "JANUS_URL": "http://127.0.0.1:9/janus",
        "LOG_LEVEL": "WARNING",
    }
