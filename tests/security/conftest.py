"""Fixtures of the security tests: the complete app and a seeder of streams, sessions and viewers."""

from __future__ import annotations

import pytest
from flask import Flask

from tests.services.api_client import ApiClient
from tests.services.seeds import Seeder, complete_app, complete_app_factory  # noqa: F401 (fixtures)


@pytest.fixture
def api(complete_app: Flask) -> ApiClient:  # noqa: F811 (the imported fixture)
    """A client for the complete app in-process."""
    return ApiClient(app=complete_app)


@pytest.fixture
def seeder(complete_app: Flask) -> Seeder:  # noqa: F811 (the imported fixture)
    """Make streams, sessions and viewers in known states on the app."""
    return Seeder(complete_app)
