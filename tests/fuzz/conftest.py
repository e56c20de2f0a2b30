"""Fixtures of the fuzzing tests: the complete app, its OpenAPI schema and a tally of the cases run."""

from __future__ import annotations

from collections import Counter

import pytest
import schemathesis
from flask import Flask

from tests.services.seeds import Seeder, complete_app, complete_app_factory  # noqa: F401 (fixtures)

# Counts of (operation, status) over the whole run, printed at the end.
CASE_TALLY: Counter[tuple[str, int]] = Counter()


@pytest.fixture
def api_schema(complete_app: Flask) -> schemathesis.BaseSchema:  # noqa: F811 (the imported fixture)
    """The OpenAPI document the app serves, loaded by schemathesis to call the app through WSGI."""
    return schemathesis.openapi.from_wsgi("/api/openapi.json", complete_app)


@pytest.fixture
def seeder(complete_app: Flask) -> Seeder:  # noqa: F811 (the imported fixture)
    """Make streams, sessions and viewers in known states on the fuzzed app."""
    return Seeder(complete_app)


@pytest.fixture
def case_tally() -> Counter[tuple[str, int]]:
    """The run-wide count of fuzzed cases per operation and response status."""
    return CASE_TALLY


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print how many cases the fuzzer sent and which statuses came back."""
    if not CASE_TALLY:
        return
    by_status: Counter[int] = Counter()
    for (_operation, status), count in CASE_TALLY.items():
        by_status[status] += count
    statuses = ", ".join(f"{status}: {count}" for status, count in sorted(by_status.items()))
    operations = len({operation for operation, _status in CASE_TALLY})
    terminalreporter.write_line(f"fuzzing: {sum(CASE_TALLY.values())} cases on {operations} operations ({statuses})")
