"""The stream lifecycle table, tested without a database or an app."""

from __future__ import annotations

import itertools

import pytest

from module1_streammeta import state
from module1_streammeta.state import CREATED, END, ENDED, LIVE, START, InvalidTransition

ALLOWED = [
    (CREATED, START, LIVE),
    (LIVE, END, ENDED),
    (CREATED, END, ENDED),
]

REJECTED = [
    (LIVE, START),
    (ENDED, START),
    (ENDED, END),
]


@pytest.mark.parametrize(("current", "action", "expected"), ALLOWED)
def test_next_status_allowed(current: str, action: str, expected: str) -> None:
    assert state.next_status(current, action) == expected


@pytest.mark.parametrize(("current", "action"), REJECTED)
def test_next_status_rejected(current: str, action: str) -> None:
    with pytest.raises(InvalidTransition) as caught:
        state.next_status(current, action)

    assert caught.value.current == current
    assert caught.value.action == action
    assert caught.value.target == state.ACTION_TARGETS[action]
    assert current in str(caught.value)
    assert caught.value.target in str(caught.value)


def test_table_covers_every_pair() -> None:
    pairs = set(itertools.product(state.STATUSES, state.ACTIONS))
    allowed = {(current, action) for current, action, _ in ALLOWED}
    rejected = set(REJECTED)

    assert allowed | rejected == pairs
    assert set(state.TRANSITIONS) == allowed


def test_ended_is_final() -> None:
    for action in state.ACTIONS:
        with pytest.raises(InvalidTransition):
            state.next_status(ENDED, action)


def test_targets_match_table() -> None:
    for (current, action), target in state.TRANSITIONS.items():
        assert state.ACTION_TARGETS[action] == target, (current, action)


@pytest.mark.parametrize(("current", "action"), [("PAUSED", START), (CREATED, "pause"), ("live", START)])
def test_unknown_status_or_action(current: str, action: str) -> None:
    with pytest.raises(ValueError):
        state.next_status(current, action)


def test_allowed_sources() -> None:
    assert state.allowed_sources(START) == [CREATED]
    assert state.allowed_sources(END) == [CREATED, LIVE]
    with pytest.raises(ValueError):
        state.allowed_sources("pause")


@pytest.mark.parametrize(
    ("current", "editable", "deletable"),
    [(CREATED, True, True), (LIVE, True, False), (ENDED, False, True)],
)
def test_edit_and_delete_rules(current: str, editable: bool, deletable: bool) -> None:
    assert state.can_edit(current) is editable
    assert state.can_delete(current) is deletable
