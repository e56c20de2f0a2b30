"""The grade marker: check ids, descriptions, and the rules a graded test must follow.

A graded test carries ``@pytest.mark.grade(module=N, es="...", required=True)``. The grader
(tests/grade.py) runs only those tests and names each one by its check id. The collection hook
in tests/conftest.py rejects a run where a graded test breaks one of the rules below.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

MARKER = "grade"
MARKER_KEYS = {"module", "es", "required"}
# Graded tests live in tests/module<N>_<name>/ and N must match the marker's module.
MODULE_FOLDER = re.compile(r"(?:^|/)tests/module(\d+)_[^/]+/")
# The conftest parametrization that picks the database. Its value differs between in-process
# runs (sqlite, mariadb) and --base-url runs (live), so it is left out of the check id.
BACKEND_PARAMETER = "db_backend"


def grade_marker(item: pytest.Item) -> pytest.Mark | None:
    """Return the grade marker of ``item``, or None when the test is not graded."""
    return item.get_closest_marker(MARKER)


def check_id(item: pytest.Item) -> str:
    """Return the check id of a graded test: m<module>.<name without test_>[<parameter id>]."""
    marker = grade_marker(item)
    name = getattr(item, "originalname", item.name).removeprefix("test_")
    parameter_id = _parameter_id(item)
    suffix = f"[{parameter_id}]" if parameter_id else ""
    return f"m{marker.kwargs['module']}.{name}{suffix}"


def _parameter_id(item: pytest.Item) -> str:
    callspec = getattr(item, "callspec", None)
    if callspec is None:
        return ""
    parameter_id = callspec.id
    backend = callspec.params.get(BACKEND_PARAMETER)
    if backend is not None:
        # The backend parametrization comes first, so its id is the first part of the joined id.
        if parameter_id == backend:
            return ""
        parameter_id = parameter_id.removeprefix(f"{backend}-")
    return parameter_id


def english_description(item: pytest.Item) -> str:
    """Return the first line of the test's docstring."""
    doc = getattr(item, "function", None).__doc__ or ""
    return doc.strip().splitlines()[0].strip() if doc.strip() else ""


def marker_problems(nodeid: str, doc: str | None, args: tuple[Any, ...], kwargs: dict[str, Any]) -> list[str]:
    """Return what is wrong with one graded test's marker, docstring and folder (empty when nothing)."""
    problems: list[str] = []
    if args:
        problems.append("takes keyword arguments only (module=, es=, required=)")
    unknown = sorted(set(kwargs) - MARKER_KEYS)
    if unknown:
        problems.append(f"unknown keyword(s) {', '.join(unknown)}")

    module = kwargs.get("module")
    folder = MODULE_FOLDER.search(nodeid)
    if not isinstance(module, int) or isinstance(module, bool):
        problems.append(f"module must be an int, not {module!r}")
    elif folder is None:
        problems.append("graded tests must be in a tests/module<N>_*/ folder")
    elif int(folder.group(1)) != module:
        problems.append(f"module={module} but the test is in the module {folder.group(1)} folder")

    spanish = kwargs.get("es")
    if not isinstance(spanish, str) or not spanish.strip():
        problems.append("needs a Spanish description: es=\"...\"")
    if not isinstance(kwargs.get("required", True), bool):
        problems.append(f"required must be True or False, not {kwargs['required']!r}")
    if not (doc or "").strip():
        problems.append("needs a docstring: its first line is the English description")
    return problems


def collection_problems(items: list[pytest.Item]) -> list[str]:
    """Return one line per graded test among ``items`` whose marker breaks the rules."""
    lines: dict[str, None] = {}
    for item in items:
        marker = grade_marker(item)
        if marker is None:
            continue
        function = getattr(item, "function", None)
        # The rows of a parametrized test share one marker, so name the function once.
        test = item.nodeid.split("[", 1)[0]
        for problem in marker_problems(item.nodeid, getattr(function, "__doc__", None), marker.args, marker.kwargs):
            lines[f"{test}: grade marker {problem}"] = None
    return list(lines)
