"""Database: Flask-SQLAlchemy bound to SQLite by default or MySQL/MariaDB via DATABASE_URL."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from flask import Flask
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import event, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import DeclarativeBase

logger = logging.getLogger(__name__)

# Tables are created with utf8mb4 on MySQL/MariaDB: their "utf8" is 3-byte and
# rejects 4-byte characters such as emoji.
MYSQL_TABLE_ARGS = {"mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_unicode_ci", "mysql_engine": "InnoDB"}


# Connections one process may open to MySQL/MariaDB (pool_size + max_overflow).
MYSQL_POOL_MAX = 100


class Base(DeclarativeBase):
    """Declarative base of every course table."""


db = SQLAlchemy(model_class=Base)


def database_uri(database_url: str, instance_path: str) -> str:
    """Return the SQLAlchemy URI: DATABASE_URL, or a SQLite file under the instance folder."""
    if database_url:
        url = make_url(database_url)
        if url.get_backend_name() == "mysql" and "charset" not in url.query:
            url = url.update_query_dict({"charset": "utf8mb4"})
        return url.render_as_string(hide_password=False)
    Path(instance_path).mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{Path(instance_path) / 'streaming.db'}"


def engine_options(uri: str) -> dict[str, Any]:
    """Return pool options: pre-ping (MySQL closes idle connections after wait_timeout) and pool limits.

    A request thread holds one connection while the event-bus listeners it runs
    (module 2 and 3 teardown) check out a second one. With SQLAlchemy's default
    cap of 15 connections, 16 concurrent hang-ups each waited for a second
    connection that never came, for pool_timeout (30 s), then failed with 500.
    SQLite connections are local files, so their overflow has no cap. MySQL and
    MariaDB refuse connections over max_connections (151 by default) with error
    1040, so their pool stops at 100 and leaves room for other clients.
    """
    backend = make_url(uri).get_backend_name()
    options: dict[str, Any] = {"pool_pre_ping": True}
    if backend == "mysql":
        options.update(pool_recycle=280, pool_size=10, max_overflow=MYSQL_POOL_MAX - 10)
    if backend == "sqlite":
        options.update(max_overflow=-1, connect_args={"timeout": 15, "check_same_thread": False})
    return options


@event.listens_for(Engine, "connect")
def _configure_sqlite(dbapi_connection: Any, connection_record: Any) -> None:
    # WAL lets readers run beside one writer; busy_timeout makes concurrent
    # writers wait instead of failing with "database is locked". In WAL mode,
    # synchronous=NORMAL syncs at checkpoints instead of at every commit: a
    # crash of the process loses nothing, a power cut may lose the last commits.
    module = type(dbapi_connection).__module__
    if not module.startswith("sqlite3"):
        return
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=15000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def init_db(app: Flask) -> None:
    """Bind the db extension and create missing tables."""
    uri = database_uri(app.config.get("DATABASE_URL", ""), app.instance_path)
    app.config["SQLALCHEMY_DATABASE_URI"] = uri
    app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", engine_options(uri))
    db.init_app(app)
    # Registered after Flask-SQLAlchemy's own teardown, so it runs first (Flask runs them in reverse).
    app.teardown_appcontext(_remove_session)


def _remove_session(exception: BaseException | None) -> None:
    """Close the request's session; a connection lost during the request must not turn the response into a 500.

    Closing rolls back on the connection. When MariaDB went away mid-request
    that rollback raises. An error raised in a teardown escapes Flask's error
    handlers, so the client would get the server's HTML 500 page in place of
    the 503 problem that the request already produced.
    """
    try:
        db.session.remove()
    except DBAPIError as error:
        # SQLAlchemy invalidates a connection it recognizes as lost, so the pool does not hand it out again.
        cause = getattr(error, "orig", None) or error
        logger.warning("closing the database session failed: %s %s", cause.__class__.__name__, cause.args[:1])
        db.session.registry.clear()


def create_tables(app: Flask) -> None:
    """Create every table of the registered models that does not exist yet."""
    with app.app_context():
        db.create_all()


def ping_database() -> tuple[bool, str]:
    """Run SELECT 1; return (ok, detail) without raising."""
    try:
        db.session.execute(text("SELECT 1"))
        db.session.rollback()
        return True, db.engine.url.get_backend_name()
    except Exception as exc:  # any driver error means "down"; the reason is reported
        db.session.rollback()
        logger.warning("database ping failed: %s", exc.__class__.__name__)
        return False, exc.__class__.__name__
