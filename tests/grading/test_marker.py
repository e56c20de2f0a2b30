"""The rules of the grade marker: what the collection hook rejects, and the check ids."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from tests.conftest import pytest_collection_modifyitems
from tests.grading.marker import marker_problems

NODE = "tests/module1_streammeta/test_streams_api.py::test_create_defaults"
GOOD = {"module": 1, "es": "Crea una emisión"}

# (node id, docstring, marker args, marker kwargs, expected problem fragment or None)
ROWS = [
    (NODE, "Create a stream.", (), GOOD, None),
    (NODE, "Create a stream.", (), {**GOOD, "required": False}, None),
    (NODE, None, (), GOOD, "needs a docstring"),
    (NODE, "   ", (), GOOD, "needs a docstring"),
    (NODE, "Create a stream.", (), {"module": 1}, "needs a Spanish description"),
    (NODE, "Create a stream.", (), {"module": 1, "es": "  "}, "needs a Spanish description"),
    (NODE, "Create a stream.", (), {**GOOD, "module": 0}, "module=0 but the test is in the module 1 folder"),
    (NODE, "Create a stream.", (), {**GOOD, "module": "1"}, "module must be an int"),
    (NODE, "Create a stream.", (), {"es": "x"}, "module must be an int"),
    ("tests/common/test_http.py::test_x", "Doc.", (), GOOD, "must be in a tests/module<N>_*/ folder"),
    (NODE, "Create a stream.", (1,), GOOD, "keyword arguments only"),
    (NODE, "Create a stream.", (), {**GOOD, "en": "Create"}, "unknown keyword(s) en"),
    (NODE, "Create a stream.", (), {**GOOD, "required": "yes"}, "required must be True or False"),
]


@pytest.mark.parametrize(("nodeid", "doc", "args", "kwargs", "expected"), ROWS)
def test_marker_problems(nodeid: str, doc: str | None, args: tuple, kwargs: dict, expected: str | None) -> None:
    problems = marker_problems(nodeid, doc, args, kwargs)

    if expected is None:
        assert problems == []
    else:
        assert len(problems) == 1, problems
        assert expected in problems[0]


def _item(nodeid: str, doc: str | None, **kwargs: object) -> SimpleNamespace:
    """A stand-in for a collected pytest item: its node id, function and grade marker."""

    def function() -> None:
        pass

    function.__doc__ = doc
    marker = pytest.mark.grade(**kwargs).mark
    return SimpleNamespace(nodeid=nodeid, function=function, get_closest_marker=lambda name: marker if name == "grade" else None)


def test_hook_rejects_bad_marker_once_per_test() -> None:
    rows = [_item(f"{NODE}[row{index}]", None, **GOOD) for index in range(2)]
    good = _item("tests/module0_preflight/test_health.py::test_health_ok", "GET /health.", module=0, es="Salud")

    with pytest.raises(pytest.UsageError) as caught:
        pytest_collection_modifyitems([good, *rows])

    lines = str(caught.value).splitlines()
    assert lines == ["invalid grade markers:", f"{NODE}: grade marker needs a docstring: its first line is the English description"]


def test_hook_accepts_good_markers() -> None:
    good = _item("tests/module0_preflight/test_health.py::test_health_ok", "GET /health.", module=0, es="Salud")

    assert pytest_collection_modifyitems([good]) is None
