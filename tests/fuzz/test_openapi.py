"""Fuzz every operation of the served OpenAPI document and check each response against it.

schemathesis generates valid and invalid requests from /api/openapi.json and sends
them to the complete app through WSGI, once with Janus unreachable and once with a
real Janus. A response fails when it is a server error other than 503/504 (Janus
unavailable or timed out), when its status, content type, headers or body are not
the documented ones, or when invalid input gets anything but a 4xx.

NOTE: no case reaches a working publisher or viewer. Seeded sessions have FAILED and
seeded viewers have LEFT, because both need real media (a connected publisher), so
the 201 of POST .../viewers and the success paths of .../answer and .../candidates stay
unfuzzed. The module 2 and 3 media tests cover those paths.

FUZZ_MAX_EXAMPLES sets the cases per operation and generation mode (default 10,
for CI). ``make fuzz`` runs 250, which sends more than 5,000 requests in all.
"""

from __future__ import annotations

import os
from collections import Counter
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings, strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.module1_streammeta.helpers import bearer
from tests.services.seeds import STREAM_STATES, Seeder

MAX_EXAMPLES = int(os.environ.get("FUZZ_MAX_EXAMPLES", "10"))

# Janus unavailable (503) and Janus timeout (504) are the server errors the API documents.
EXPECTED_SERVER_ERRORS = frozenset({503, 504})

GENERATED = "generated"
# Where the path's id comes from: the fuzzer, or a fresh stream (with a session
# or viewer where the path needs one) in one of the stream states.
TARGETS = (GENERATED, *STREAM_STATES)
# Which Authorization header the request carries.
AUTHS = (GENERATED, "none", "owner", "admin", "other stream")

def no_unexpected_server_error(ctx: schemathesis.CheckContext, response: schemathesis.Response, case: schemathesis.Case) -> bool | None:
    """Fail on a 5xx response other than 503 and 504."""
    if response.status_code >= 500 and response.status_code not in EXPECTED_SERVER_ERRORS:
        raise AssertionError(f"server error {response.status_code}: {response.text[:500]}")
    return None


def _too_long_only_by_whitespace(case: schemathesis.Case) -> bool:
    """Whether every change that made the case invalid is a too-long string with surrounding whitespace.

    The API trims surrounding whitespace before it checks a text field's length, so
    such a string may fit after all.
    """
    mutations = getattr(case.meta.phase.data, "mutations", ()) if case.meta is not None else ()
    return bool(mutations) and all(
        mutation.keywords == ("maxLength",) and isinstance(mutation.new_value, str) and mutation.new_value.strip() != mutation.new_value
        for mutation in mutations
    )


def rejects_invalid_input(ctx: schemathesis.CheckContext, response: schemathesis.Response, case: schemathesis.Case) -> bool | None:
    """Fail when invalid input gets anything but a 4xx; schemathesis's own list of 4xx lacks 413."""
    if 400 <= response.status_code < 500 or _too_long_only_by_whitespace(case):
        return None
    return negative_data_rejection(ctx, response, case)


CHECKS = [
    no_unexpected_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    rejects_invalid_input,
]


def _aim(case: schemathesis.Case, target: str, auth: str, seeder: Seeder, admin_token: str) -> None:
    """Point the case's path at seeded resources and set its Authorization header."""
    params: dict[str, Any] = case.path_parameters if case.path_parameters is not None else {}
    headers: dict[str, Any] = case.headers if case.headers is not None else {}
    stream = None

    if target != GENERATED:
        stream = seeder.stream("CREATED")
        session_id = seeder.failed_session(stream) if "session_id" in params else None
        stream = seeder.move(stream, target)
        if "stream_id" in params:
            params["stream_id"] = stream.id
        if session_id is not None:
            params["session_id"] = session_id
        if "viewer_id" in params:
            params["viewer_id"] = seeder.left_viewer(stream)

    if auth == "none":
        headers.pop("Authorization", None)
    elif auth == "admin":
        headers.update(bearer(admin_token))
    elif auth == "other stream":
        headers.update(bearer(seeder.stream("CREATED").token))
    elif auth == "owner" and stream is not None:
        headers.update(bearer(stream.token))

    case.path_parameters = params or case.path_parameters
    case.headers = headers


def _fuzz_operation(operation: Any, mode: GenerationMode, seeder: Seeder, case_tally: Counter) -> None:
    """Run MAX_EXAMPLES generated cases of one operation; raise the first failure Hypothesis finds."""
    admin_token = seeder.app.config["ADMIN_TOKEN"]

    @given(case=operation.as_strategy(generation_mode=mode), target=st.sampled_from(TARGETS), auth=st.sampled_from(AUTHS))
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def run(case: schemathesis.Case, target: str, auth: str) -> None:
        _aim(case, target, auth, seeder, admin_token)

        response = case.call_and_validate(checks=CHECKS)
        case_tally[(case.operation.label, response.status_code)] += 1

    run()


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=lambda mode: mode.value)
def test_openapi_conformance(mode: GenerationMode, api_schema: schemathesis.BaseSchema, seeder: Seeder, case_tally: Counter) -> None:
    failures: dict[str, str] = {}
    for result in api_schema.get_all_operations():
        operation = result.ok()
        try:
            _fuzz_operation(operation, mode, seeder, case_tally)
        except Unsatisfiable:
            # No invalid request exists, e.g. an operation whose only input is a free-form id.
            assert mode is GenerationMode.NEGATIVE, f"no valid request for {operation.label}"
        # Any other exception: collect the failure of every operation, not only the first one.
        except Exception as error:
            failures[operation.label] = f"{type(error).__name__}: {error}"

    assert not failures, "\n\n".join(f"{label}:\n{failure}" for label, failure in failures.items())


def test_database_routes_document_503(complete_app_factory) -> None:
    # During a database outage these routes return 503 database_unavailable (tests/faults).
    document = complete_app_factory().test_client().get("/api/openapi.json").get_json()
    paths = document["paths"]
    database_paths = [path for path in paths if path.startswith(("/api/v1/streams", "/api/v1/sessions", "/api/v1/viewers"))]

    assert len(database_paths) >= 8
    for path in database_paths:
        operations = {method: operation for method, operation in paths[path].items() if method in {"get", "post", "put", "patch", "delete"}}
        for method, operation in operations.items():
            response = operation["responses"].get("503")
            assert response is not None, f"{method.upper()} {path}"
            if "$ref" in response:
                response = document["components"]["responses"][response["$ref"].rsplit("/", 1)[1]]
            assert "application/problem+json" in response["content"]
