"""Fixtures of the fuzzing tests: the complete app (without and with Janus), its OpenAPI schema and a tally of the cases run."""

from __future__ import annotations

from collections import Counter
from typing import Callable

import pytest
import schemathesis
from flask import Flask

from tests.services.seeds import Seeder, complete_app_factory  # noqa: F401 (a fixture)

# Counts of (operation, status) over the whole run, printed at the end.
CASE_TALLY: Counter[tuple[str, int]] = Counter()


@pytest.fixture(params=["janus unreachable", pytest.param("real janus", marks=pytest.mark.janus)])
def fuzz_app(request: pytest.FixtureRequest, complete_app_factory: Callable[..., Flask]) -> Flask:  # noqa: F811 (the imported fixture)
    """The complete app under fuzzing, once with Janus unreachable and once with a real Janus."""
    if request.param == "real janus":
        janus = request.getfixturevalue("janus_server")
        return complete_app_factory(JANUS_URL=janus.url)
    return complete_app_factory()


@pytest.fixture
def api_schema(fuzz_app: Flask) -> schemathesis.BaseSchema:
    """The OpenAPI document the app serves, loaded by schemathesis to call the app through WSGI."""
    return schemathesis.openapi.from_wsgi("/api/openapi.json", fuzz_app)


@pytest.fixture
def seeder(fuzz_app: Flask) -> Seeder:
    """Make streams, sessions and viewers in known states on the fuzzed app."""
    return Seeder(fuzz_app)


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
