"""The session state table and how Janus hangup reasons map onto CLOSED and FAILED."""

from __future__ import annotations

import pytest

from module2_session.state import (
    ACTIVE_STATES,
    CLOSED,
    CONNECTED,
    FAILED,
    NEGOTIATING,
    NEW,
    STATES,
    can_change,
    sources_of,
    state_after_hangup,
)


@pytest.mark.parametrize(
    ("current", "target", "allowed"),
    [
        (NEW, NEGOTIATING, True),
        (NEW, FAILED, True),
        (NEW, CLOSED, True),
        (NEW, CONNECTED, False),
        (NEGOTIATING, CONNECTED, True),
        (NEGOTIATING, FAILED, True),
        (NEGOTIATING, NEW, False),
        (CONNECTED, CLOSED, True),
        (CONNECTED, FAILED, True),
        (CONNECTED, NEGOTIATING, False),
        (CLOSED, CONNECTED, False),
        (CLOSED, FAILED, False),
        (FAILED, CLOSED, False),
        (FAILED, NEGOTIATING, False),
    ],
)
def test_can_change_table(current, target, allowed) -> None:
    assert can_change(current, target) is allowed


def test_final_states_have_no_exit() -> None:
    for state in (CLOSED, FAILED):
        assert [target for target in STATES if can_change(state, target)] == []


def test_sources_of_connected() -> None:
    assert sources_of(CONNECTED) == [NEGOTIATING]


def test_sources_of_failed_are_active() -> None:
    assert set(sources_of(FAILED)) == set(ACTIVE_STATES)


@pytest.mark.parametrize("state", ["", "LIVE", "connected"])
def test_unknown_state_raises(state) -> None:
    with pytest.raises(ValueError):
        can_change(state, CLOSED)
    with pytest.raises(ValueError):
        sources_of(state)


@pytest.mark.parametrize(
    ("reason", "was_connected", "expected"),
    [
        ("DTLS alert", True, CLOSED),
        ("Close PC", True, CLOSED),
        ("Janus API", True, CLOSED),
        ("ICE failed", True, FAILED),
        ("Gathering error", True, FAILED),
        ("Consent freshness timeout", True, FAILED),
        ("DTLS alert", False, FAILED),
        ("Janus API", False, FAILED),
    ],
)
def test_state_after_hangup(reason, was_connected, expected) -> None:
    assert state_after_hangup(reason, was_connected) == expected
