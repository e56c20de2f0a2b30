"""Stream operations on a SQLAlchemy session: create, read, list, edit, delete and transitions.

Nothing here reads Flask's request or app: callers pass the session, the event
bus and the settings, so module 2 can call ``transition`` from its Janus event
thread and tests can call everything without an app.

Every change is one conditional UPDATE or DELETE that matches only the version
read just before (``WHERE id = ? AND version = ?``, plus the expected status).
When another request changed the row in between, it matches nothing: the
change is then re-checked on a fresh read, so two concurrent ``start`` calls
give one success and one 409 and never a lost update.
"""

from __future__ import annotations

import logging
import math
import uuid
from dataclasses import dataclass
from typing import Any, Iterable, Protocol

from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError, InvalidRequestError
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from common.auth import check_owner, hash_token, new_token
from common.errors import ApiError
from module1_streammeta.models import Stream, new_stream_id, search_text_for, utcnow
from module1_streammeta.state import (
    DELETABLE_STATUSES,
    EDITABLE_STATUSES,
    ENDED,
    LIVE,
    START,
    InvalidTransition,
    next_status,
)

logger = logging.getLogger(__name__)

# Attempts of a change that keeps meeting concurrent changes before it gives up with 409.
# A lost attempt means another writer committed, so N concurrent writers of one stream
# need at most N attempts; 5 made one of 8 racing edits fail under load.
MAX_ATTEMPTS = 20

_ORDERINGS = {
    "-createdAt": (Stream.created_at.desc(), Stream.id.desc()),
    "createdAt": (Stream.created_at.asc(), Stream.id.asc()),
    "title": (Stream.title.asc(), Stream.id.asc()),
    "-title": (Stream.title.desc(), Stream.id.desc()),
}


class EventPublisher(Protocol):
    """The part of common.events.EventBus that the service uses."""

    def publish(self, stream_id: str, event_type: str, data: dict[str, Any]) -> Any: ...


@dataclass
class StreamPage:
    """One page of a stream list, with the total number of matches."""

    items: list[Stream]
    total: int
    page: int
    page_size: int

    @property
    def total_pages(self) -> int:
        return math.ceil(self.total / self.page_size)


def _not_found(stream_id: str) -> ApiError:
    return ApiError("not_found", _l("No stream with id %(id)s.", id=stream_id))


def _canonical_id(stream_id: str) -> str | None:
    """Return the lower-case UUID form of ``stream_id``, or None when it is no UUID."""
    if len(stream_id) != 36:
        return None
    try:
        return str(uuid.UUID(stream_id))
    except ValueError:
        return None


def get_stream(session: Session, stream_id: str) -> Stream:
    """Return the stream with ``stream_id``; raise ApiError not_found (404) when there is none."""
    canonical = _canonical_id(stream_id)
    stream = session.get(Stream, canonical) if canonical else None
    if stream is None:
        raise _not_found(stream_id)
    return stream


def authorize(stream: Stream, authorization_header: str | None, admin_token: str) -> None:
    """Allow the stream's owner (its publish token) or the instructor (ADMIN_TOKEN).

    Raises ApiError unauthorized (401) without a bearer token, forbidden (403) with another token.
    """
    check_owner(authorization_header, stream.token_hash, admin_token)


def create_stream(
    session: Session,
    *,
    title: str,
    max_viewers: int,
    description: str = "",
    owner_name: str | None = None,
) -> tuple[Stream, str]:
    """Insert a CREATED stream and return it with its publish token.

    The token is returned only here; the table keeps its SHA-256 hash.
    """
    token = new_token()
    now = utcnow()
    stream = Stream(
        id=new_stream_id(),
        title=title,
        description=description,
        owner_name=owner_name or None,
        token_hash=hash_token(token),
        max_viewers=max_viewers,
        version=1,
        search_text=search_text_for(title, description),
        created_at=now,
        updated_at=now,
    )
    session.add(stream)
    session.commit()
    logger.info("stream %s created (max viewers %d)", stream.id, max_viewers)
    return stream, token


def list_streams(
    session: Session,
    *,
    statuses: Iterable[str] = (),
    query: str = "",
    sort: str = "-createdAt",
    page: int = 1,
    page_size: int = 20,
) -> StreamPage:
    """Return one page of streams filtered by status and by text in title or description.

    ``query`` matches case-insensitively anywhere in the text; ``%`` and ``_`` in it
    are literal characters, not LIKE wildcards. Ties in the order are broken by id,
    so pages never repeat or skip a stream while the data stays the same.
    """
    if sort not in _ORDERINGS:
        raise ValueError(f"unknown sort {sort!r}; expected one of {', '.join(_ORDERINGS)}")
    statuses = list(statuses)

    conditions: list[ColumnElement[bool]] = []
    if statuses:
        conditions.append(Stream.status.in_(statuses))
    if query:
        conditions.append(Stream.search_text.contains(query.casefold(), autoescape=True))

    total = session.scalar(select(func.count()).select_from(Stream).where(*conditions)) or 0
    offset = (page - 1) * page_size
    items: list[Stream] = []
    # Past the end there is nothing to fetch, and a huge OFFSET could overflow the database's integer.
    if offset < total:
        # Deferred join: OFFSET skips entries of the narrow (sort key, id) index, and only
        # the page's rows are read in full. A plain OFFSET reads every skipped row in full;
        # docs/benchmarks.md compares both at offset 49,980 of 100,000 rows.
        page_ids = select(Stream.id).where(*conditions).order_by(*_ORDERINGS[sort]).offset(offset).limit(page_size).subquery()
        statement = select(Stream).join(page_ids, Stream.id == page_ids.c.id).order_by(*_ORDERINGS[sort])
        items = list(session.scalars(statement))
    return StreamPage(items=items, total=total, page=page, page_size=page_size)


def _check_version(stream: Stream, expected_version: int | None) -> None:
    if expected_version is not None and stream.version != expected_version:
        raise ApiError("precondition_failed", currentVersion=stream.version, headers={"ETag": f'"{stream.version}"'})


def _update_if_unchanged(session: Session, stream: Stream, values: dict[str, Any], *conditions: ColumnElement[bool]) -> bool:
    """Apply ``values`` only if the row still has the version read; return whether it did."""
    statement = (
        update(Stream)
        .where(Stream.id == stream.id, Stream.version == stream.version, *conditions)
        .values(version=stream.version + 1, updated_at=utcnow(), **values)
        .execution_options(synchronize_session=False)
    )
    return session.execute(statement).rowcount == 1


def _reload(session: Session, stream: Stream, stream_id: str) -> Stream:
    """Read the committed row again; raise not_found (404) if a concurrent DELETE removed it meanwhile."""
    try:
        session.refresh(stream)
    except InvalidRequestError:
        raise _not_found(stream_id) from None
    return stream


def _invalid_transition(error: InvalidTransition) -> ApiError:
    if error.action == START:
        detail = _l("The stream is %(current)s, so it cannot start: only a CREATED stream can go LIVE.", current=error.current)
    else:
        detail = _l("The stream is %(current)s, so it cannot end: only a CREATED or LIVE stream can go to ENDED.", current=error.current)
    return ApiError(
        "invalid_transition",
        detail,
        currentStatus=error.current,
        targetStatus=error.target,
        action=error.action,
    )


def transition(
    session: Session,
    bus: EventPublisher,
    stream_id: str,
    action: str,
    expected_version: int | None = None,
) -> Stream:
    """Apply ``action`` ("start" or "end"), commit, then publish "stream.status" on ``bus``.

    Raises ApiError not_found (404), precondition_failed (412) when ``expected_version``
    is given and differs, invalid_transition (409) when the status does not allow
    the action, and conflict (409) after MAX_ATTEMPTS concurrent changes in a row.
    """
    for _attempt in range(MAX_ATTEMPTS):
        stream = get_stream(session, stream_id)
        _check_version(stream, expected_version)
        canonical_id = stream.id
        previous = stream.status
        try:
            target = next_status(previous, action)
        except InvalidTransition as error:
            session.rollback()
            raise _invalid_transition(error) from None

        now = utcnow()
        values: dict[str, Any] = {"status": target}
        if target == LIVE:
            values["started_at"] = now
        if target == ENDED:
            values["ended_at"] = now
        new_version = stream.version + 1

        if _update_if_unchanged(session, stream, values, Stream.status == previous):
            session.commit()
            logger.info("stream %s %s: %s -> %s (version %d)", canonical_id, action, previous, target, new_version)
            bus.publish(canonical_id, "stream.status", {"status": target, "previous": previous, "version": new_version})
            return _reload(session, stream, canonical_id)

        # Another request changed the row since it was read: read it again in a new transaction.
        session.rollback()
        logger.info("stream %s changed during %s; reading it again", stream_id, action)

    raise ApiError("conflict", _l("The stream kept changing during the request; try again."))


def update_stream(
    session: Session,
    stream_id: str,
    changes: dict[str, str],
    expected_version: int | None = None,
) -> Stream:
    """Change the title and/or description of a CREATED or LIVE stream.

    ``changes`` may hold "title" and "description". A request that changes nothing
    keeps the version. Raises ApiError not_found (404), precondition_failed (412),
    and conflict (409) when the stream has ENDED.
    """
    for _attempt in range(MAX_ATTEMPTS):
        stream = get_stream(session, stream_id)
        _check_version(stream, expected_version)
        status = stream.status
        if status not in EDITABLE_STATUSES:
            session.rollback()
            raise ApiError("conflict", _l("The stream has ENDED; its title and description can no longer change."), currentStatus=status)

        title = changes.get("title", stream.title)
        description = changes.get("description", stream.description)
        if title == stream.title and description == stream.description:
            session.rollback()
            return stream

        values = {"title": title, "description": description, "search_text": search_text_for(title, description)}
        if _update_if_unchanged(session, stream, values, Stream.status.in_(EDITABLE_STATUSES)):
            canonical_id = stream.id
            new_version = stream.version + 1
            session.commit()
            logger.info("stream %s edited (version %d)", canonical_id, new_version)
            return _reload(session, stream, canonical_id)

        session.rollback()
        logger.info("stream %s changed during an edit; reading it again", stream_id)

    raise ApiError("conflict", _l("The stream kept changing during the request; try again."))


def delete_stream(session: Session, stream_id: str, expected_version: int | None = None) -> None:
    """Delete a CREATED or ENDED stream.

    Raises ApiError not_found (404), precondition_failed (412), and conflict (409)
    while the stream is LIVE or while rows of later modules still refer to it.
    """
    for _attempt in range(MAX_ATTEMPTS):
        stream = get_stream(session, stream_id)
        _check_version(stream, expected_version)
        status = stream.status
        if status not in DELETABLE_STATUSES:
            session.rollback()
            raise ApiError("conflict", _l("The stream is LIVE; end it before deleting it."), currentStatus=status)

        statement = (
            delete(Stream)
            .where(Stream.id == stream.id, Stream.version == stream.version, Stream.status.in_(DELETABLE_STATUSES))
            .execution_options(synchronize_session=False)
        )
        try:
            deleted = session.execute(statement).rowcount == 1
            if deleted:
                session.commit()
        except IntegrityError as error:
            # A foreign key of a later module's table (sessions, viewers) points at this stream.
            session.rollback()
            logger.warning("stream %s not deleted: rows still refer to it (%s)", stream_id, error.orig.__class__.__name__)
            raise ApiError("conflict", _l("Other records still refer to this stream, so it cannot be deleted.")) from None

        if deleted:
            session.expunge(stream)
            logger.info("stream %s deleted (was %s)", stream_id, status)
            return

        session.rollback()
        logger.info("stream %s changed during a delete; reading it again", stream_id)

    raise ApiError("conflict", _l("The stream kept changing during the request; try again."))
