"""The stream lifecycle as a pure table: which action moves which status where.

No database and no Flask here, so the rules can be read and unit-tested on their own.
"""

from __future__ import annotations

CREATED = "CREATED"
LIVE = "LIVE"
ENDED = "ENDED"
STATUSES = (CREATED, LIVE, ENDED)

START = "start"
END = "end"
ACTIONS = (START, END)

# (current status, action) -> next status. A pair missing here is not allowed.
# "end" on a CREATED stream cancels it before it ever went live. ENDED is final.
TRANSITIONS: dict[tuple[str, str], str] = {
    (CREATED, START): LIVE,
    (LIVE, END): ENDED,
    (CREATED, END): ENDED,
}

# Each action has one target status, whatever the current status is.
ACTION_TARGETS: dict[str, str] = {START: LIVE, END: ENDED}

# Title and description can change until the stream has ended.
EDITABLE_STATUSES = frozenset({CREATED, LIVE})
# A live stream must be ended before it can be deleted.
DELETABLE_STATUSES = frozenset({CREATED, ENDED})


class InvalidTransition(Exception):
    """The action is not allowed from the current status."""

    def __init__(self, current: str, action: str) -> None:
        self.current = current
        self.action = action
        self.target = ACTION_TARGETS[action]
        super().__init__(f"cannot {action} a stream in status {current} (it would go to {self.target})")


def _check_known(current: str, action: str) -> None:
    if current not in STATUSES:
        raise ValueError(f"unknown stream status {current!r}; expected one of {', '.join(STATUSES)}")
    if action not in ACTIONS:
        raise ValueError(f"unknown stream action {action!r}; expected one of {', '.join(ACTIONS)}")


def next_status(current: str, action: str) -> str:
    """Return the status that ``action`` moves ``current`` to.

    Raises InvalidTransition when the table has no such move, and ValueError for a
    status or action that does not exist at all (a programming error, not user input).
    """
    _check_known(current, action)
    try:
        return TRANSITIONS[(current, action)]
    except KeyError:
        raise InvalidTransition(current, action) from None


def allowed_sources(action: str) -> list[str]:
    """Return the statuses ``action`` may start from, in lifecycle order."""
    if action not in ACTIONS:
        raise ValueError(f"unknown stream action {action!r}; expected one of {', '.join(ACTIONS)}")
    return [status for status in STATUSES if (status, action) in TRANSITIONS]


def can_edit(current: str) -> bool:
    """Return whether title and description may change in status ``current``."""
    return current in EDITABLE_STATUSES


def can_delete(current: str) -> bool:
    """Return whether a stream in status ``current`` may be deleted."""
    return current in DELETABLE_STATUSES
