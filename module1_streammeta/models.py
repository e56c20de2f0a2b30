"""The streams table: one row per stream, with its status, owner token hash and version."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import DateTime, Index, Integer, String, Text
from sqlalchemy.dialects import mysql
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from common.db import MYSQL_TABLE_ARGS, db
from module1_streammeta.state import CREATED

TITLE_MAX_LENGTH = 120
DESCRIPTION_MAX_LENGTH = 2000
OWNER_NAME_MAX_LENGTH = 80
MAX_VIEWERS_LIMIT = 10_000


def utcnow() -> datetime:
    """Return the current time as a timezone-aware UTC datetime."""
    return datetime.now(timezone.utc)


def new_stream_id() -> str:
    """Return a new random stream id (a UUID string)."""
    return str(uuid.uuid4())


def search_text_for(title: str, description: str) -> str:
    """Return the case-folded text that the list's ``q`` search matches against."""
    return f"{title}\n{description}".casefold()


class UTCDateTime(TypeDecorator):
    """A datetime stored as naive UTC and read back as timezone-aware UTC.

    SQLite and MySQL DATETIME columns keep no time zone, so the offset is
    removed on the way in and put back on the way out. MySQL gets
    microsecond precision (DATETIME(6)); its default DATETIME drops fractions.
    """

    impl = DateTime
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> Any:
        if dialect.name in {"mysql", "mariadb"}:
            return dialect.type_descriptor(mysql.DATETIME(fsp=6))
        return dialect.type_descriptor(DateTime())

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("UTCDateTime needs a timezone-aware datetime")
        return value.astimezone(timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc)


# SQLite compares titles with NOCASE so sorting by title ignores ASCII case, as
# MySQL's utf8mb4_unicode_ci collation does (that one also ignores accents).
_TITLE_TYPE = String(TITLE_MAX_LENGTH).with_variant(String(TITLE_MAX_LENGTH, collation="NOCASE"), "sqlite")
# search_text is already case-folded, so a binary collation is correct on MySQL
# and avoids utf8mb4_unicode_ci's other rules: it ignores accents, and it even
# compares all emoji as equal ('🚀' = '🎥' is 1 on MariaDB 10.11).
_SEARCH_TEXT_TYPE = Text().with_variant(mysql.TEXT(collation="utf8mb4_bin"), "mysql", "mariadb")


class Stream(db.Model):
    """A live stream: metadata, lifecycle status and the hash of its owner's publish token."""

    __tablename__ = "streams"
    __table_args__ = (
        # Each index ends with id because every list order uses id as its tiebreak.
        Index("ix_streams_status_created_at", "status", "created_at", "id"),
        Index("ix_streams_created_at", "created_at", "id"),
        Index("ix_streams_title", "title", "id"),
        MYSQL_TABLE_ARGS,
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_stream_id)
    title: Mapped[str] = mapped_column(_TITLE_TYPE, nullable=False)
    description: Mapped[str] = mapped_column(String(DESCRIPTION_MAX_LENGTH), nullable=False, default="")
    owner_name: Mapped[str | None] = mapped_column(String(OWNER_NAME_MAX_LENGTH), nullable=True)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default=CREATED)
    token_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    max_viewers: Mapped[int] = mapped_column(Integer, nullable=False)
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    # Never serialized: case-folded title and description, written by the service.
    search_text: Mapped[str] = mapped_column(_SEARCH_TEXT_TYPE, nullable=False, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    # Not a column: the routes fill it from the viewer count provider before dumping.
    viewer_count = 0

    def __repr__(self) -> str:
        return f"<Stream {self.id} {self.status} v{self.version}>"
