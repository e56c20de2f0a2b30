"""The publisher session lifecycle as a pure table, plus how Janus hangup reasons map onto it.

No database and no Flask here, so the rules can be read and unit-tested on their own.
"""

from __future__ import annotations

NEW = "NEW"
NEGOTIATING = "NEGOTIATING"
CONNECTED = "CONNECTED"
CLOSED = "CLOSED"
FAILED = "FAILED"
STATES = (NEW, NEGOTIATING, CONNECTED, CLOSED, FAILED)

# A session in one of these states owns its stream's single publisher slot.
ACTIVE_STATES = frozenset({NEW, NEGOTIATING, CONNECTED})
# CLOSED and FAILED are final: publishing again creates a new session.
FINAL_STATES = frozenset({CLOSED, FAILED})

# state -> states it may move to. NEW is the row before any Janus call,
# NEGOTIATING lasts from the first Janus call until Janus reports webrtcup.
ALLOWED: dict[str, frozenset[str]] = {
    NEW: frozenset({NEGOTIATING, CLOSED, FAILED}),
    NEGOTIATING: frozenset({CONNECTED, CLOSED, FAILED}),
    CONNECTED: frozenset({CLOSED, FAILED}),
    CLOSED: frozenset(),
    FAILED: frozenset(),
}

# Janus names why it hung up in the hangup event: "ICE failed" when connectivity
# broke, "DTLS alert" when the peer closed its DTLS session, "Detach" or
# "Janus API" after a local request (strings from Janus's ice.c and janus.c).
# A reason that contains one of FAILURE_WORDS counts as a failure.
FAILURE_WORDS = ("failed", "error", "timeout")


def can_change(current: str, target: str) -> bool:
    """Return whether a session in ``current`` may move to ``target``.

    Raises ValueError for a state that does not exist (a programming error).
    """
    for state in (current, target):
        if state not in ALLOWED:
            raise ValueError(f"unknown session state {state!r}; expected one of {', '.join(STATES)}")
    return target in ALLOWED[current]


def sources_of(target: str) -> list[str]:
    """Return the states that may move to ``target``, in lifecycle order."""
    if target not in ALLOWED:
        raise ValueError(f"unknown session state {target!r}; expected one of {', '.join(STATES)}")
    return [state for state in STATES if target in ALLOWED[state]]


def state_after_hangup(reason: str, was_connected: bool) -> str:
    """Return CLOSED or FAILED for a Janus hangup with ``reason``.

    A hangup before the media ever connected is a failed negotiation whatever
    Janus names it, because the publisher never went live.
    """
    if not was_connected:
        return FAILED
    lowered = reason.lower()
    if any(word in lowered for word in FAILURE_WORDS):
        return FAILED
    return CLOSED
