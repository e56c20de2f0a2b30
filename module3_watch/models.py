"""Module 3 tables: one row per viewer and one live viewer counter per stream."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from common.db import MYSQL_TABLE_ARGS, db
from module1_streammeta.models import UTCDateTime, utcnow

# A viewer is JOINING until it posts its answer, CONNECTING until Janus reports
# webrtcup, then WATCHING. LEFT and FAILED are final and free the viewer's slot.
JOINING = "JOINING"
CONNECTING = "CONNECTING"
WATCHING = "WATCHING"
LEFT = "LEFT"
FAILED = "FAILED"
ACTIVE_STATES = (JOINING, CONNECTING, WATCHING)
FINAL_STATES = (LEFT, FAILED)


def new_id() -> str:
    """Return a new random UUID as a string."""
    return str(uuid.uuid4())


class Viewer(db.Model):
    """One subscriber of a stream: its Janus handle, state and timestamps."""

    __tablename__ = "viewers"
    __table_args__ = MYSQL_TABLE_ARGS

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    stream_id: Mapped[str] = mapped_column(String(36), ForeignKey("streams.id", ondelete="CASCADE"), index=True)
    state: Mapped[str] = mapped_column(String(16), default=JOINING, index=True)
    reason: Mapped[str | None] = mapped_column(String(255), nullable=True)
    janus_session_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    handle_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    room_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    feed_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    # Set when Janus reports that media stopped flowing; cleared when it flows again.
    media_stopped_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    connected_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    left_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    @property
    def is_active(self) -> bool:
        """Whether the viewer still takes up one of the stream's viewer slots."""
        return self.state in ACTIVE_STATES


class StreamViewerCount(db.Model):
    """The number of active viewers of one stream, changed only by conditional UPDATEs.

    A row exists once the stream had its first viewer; no row means 0.
    """

    __tablename__ = "stream_viewer_counts"
    __table_args__ = MYSQL_TABLE_ARGS

    stream_id: Mapped[str] = mapped_column(String(36), ForeignKey("streams.id", ondelete="CASCADE"), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
