"""Module 2 tables: one row per publisher session and one Janus videoroom room per stream."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from common.db import MYSQL_TABLE_ARGS, db
from module1_streammeta.models import UTCDateTime, utcnow
from module2_session.state import ACTIVE_STATES, NEW

PUBLISHER = "publisher"
REASON_MAX_LENGTH = 255


def new_session_id() -> str:
    """Return a new random session id (a UUID string)."""
    return str(uuid.uuid4())


class StreamSession(db.Model):
    """One publisher's signaling session: its Janus ids, state and last Janus event.

    ``active_stream_id`` equals ``stream_id`` while the session is NEW, NEGOTIATING
    or CONNECTED and is NULL afterwards. Its unique index lets the database reject
    a second active publisher of the same stream, even when two requests race:
    unique indexes on SQLite and MySQL accept any number of NULLs.
    """

    __tablename__ = "stream_sessions"
    __table_args__ = (
        Index("ix_stream_sessions_stream_id_created_at", "stream_id", "created_at"),
        Index("ix_stream_sessions_state", "state"),
        MYSQL_TABLE_ARGS,
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_session_id)
    stream_id: Mapped[str] = mapped_column(String(36), ForeignKey("streams.id", ondelete="CASCADE"), nullable=False)
    active_stream_id: Mapped[str | None] = mapped_column(String(36), nullable=True, unique=True)
    role: Mapped[str] = mapped_column(String(16), nullable=False, default=PUBLISHER)
    state: Mapped[str] = mapped_column(String(16), nullable=False, default=NEW)
    failure_reason: Mapped[str | None] = mapped_column(String(REASON_MAX_LENGTH), nullable=True)
    # Janus ids; never serialized, because anyone who can reach Janus could
    # drive a session or handle whose id they know.
    janus_session_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    handle_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    room_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    # Never serialized: it allows destroying or editing the room.
    room_secret: Mapped[str | None] = mapped_column(String(64), nullable=True)
    feed_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    # {"kind": "media", "at": "...Z", "data": {...}} of the latest handle event.
    last_event: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    # {"audio": bool, "video": bool}: whether Janus last reported receiving each kind.
    media: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)
    connected_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    @property
    def is_active(self) -> bool:
        """Whether the session owns its stream's publisher slot."""
        return self.state in ACTIVE_STATES

    def __repr__(self) -> str:
        return f"<StreamSession {self.id} stream={self.stream_id} {self.state}>"


class StreamRoom(db.Model):
    """The Janus videoroom room of one stream, kept across its publisher sessions.

    A publisher whose connection dropped and who publishes again within the
    reconnect window joins the same room. The row is deleted when the room is
    destroyed: when the stream ends, and when its owner hangs up with DELETE.
    """

    __tablename__ = "stream_rooms"
    __table_args__ = MYSQL_TABLE_ARGS

    stream_id: Mapped[str] = mapped_column(String(36), ForeignKey("streams.id", ondelete="CASCADE"), primary_key=True)
    room_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    # Never serialized: it allows destroying or editing the room.
    room_secret: Mapped[str] = mapped_column(String(64), nullable=False)
    # The Janus session that created the room; rooms outlive sessions but not a Janus restart.
    janus_session_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)

    def __repr__(self) -> str:
        return f"<StreamRoom stream={self.stream_id} room={self.room_id}>"
