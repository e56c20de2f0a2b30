"""The streams table on SQLite and MariaDB: indexes, utf8mb4, UTC times and dropped connections."""

from __future__ import annotations

import time
from datetime import timezone

import pytest
from sqlalchemy import create_engine, inspect, select, text
from sqlalchemy.exc import OperationalError

from common.db import db
from module1_streammeta import create_app, service
from module1_streammeta.models import Stream
from tests.services.api_client import ApiClient

STREAMS = "/api/v1/streams"
# Long enough for the server to notice, short enough for a test: MariaDB checks idle connections about once a second.
SHORT_WAIT_TIMEOUT = 2
DEFAULT_WAIT_TIMEOUT = 28800


@pytest.fixture
def sqlite_app(app_config):
    """The module 1 app on a fresh SQLite file, for SQLite-only checks."""
    app = create_app(app_config)
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def mariadb_app(app_config, mariadb_url):
    """The module 1 app on a fresh MariaDB database, for MariaDB-only checks."""
    app = create_app({**app_config, "DATABASE_URL": mariadb_url})
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def test_indexes_back_list_queries(app) -> None:
    with app.app_context():
        indexes = {index["name"]: index["column_names"] for index in inspect(db.engine).get_indexes("streams")}

    assert indexes["ix_streams_status_created_at"] == ["status", "created_at", "id"]
    assert indexes["ix_streams_created_at"] == ["created_at", "id"]
    assert indexes["ix_streams_title"] == ["title", "id"]


@pytest.mark.parametrize(
    ("where", "order", "index"),
    [
        ("", "created_at DESC, id DESC", "ix_streams_created_at"),
        ("WHERE status = 'LIVE'", "created_at DESC, id DESC", "ix_streams_status_created_at"),
        ("", "title, id", "ix_streams_title"),
    ],
)
def test_sqlite_plan_uses_index(sqlite_app, where: str, order: str, index: str) -> None:
    with sqlite_app.app_context():
        plan = db.session.execute(text(f"EXPLAIN QUERY PLAN SELECT * FROM streams {where} ORDER BY {order} LIMIT 20")).all()

    details = " ".join(row[-1] for row in plan)
    assert index in details
    assert "TEMP B-TREE" not in details


def test_times_are_utc_aware(app) -> None:
    with app.app_context():
        stream, _token = service.create_stream(db.session, title="Reloj", max_viewers=5)
        db.session.expire_all()
        stored = db.session.get(Stream, stream.id)

        assert stored.created_at.tzinfo == timezone.utc
        assert stored.created_at.microsecond == stream.created_at.microsecond


def test_token_stored_hashed(app, api) -> None:
    body = api.post(STREAMS, json={"title": "Con token"}).json()

    with app.app_context():
        stored = db.session.get(Stream, body["id"])
        assert stored.token_hash != body["publishToken"]
        assert len(stored.token_hash) == 64
        assert body["publishToken"] not in stored.token_hash


@pytest.mark.mariadb
def test_mariadb_columns_utf8mb4(mariadb_app) -> None:
    with mariadb_app.app_context():
        rows = db.session.execute(
            text(
                "SELECT COLUMN_NAME, CHARACTER_SET_NAME, COLLATION_NAME, DATETIME_PRECISION"
                " FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'streams'"
            )
        ).all()
    columns = {row[0]: row[1:] for row in rows}

    assert columns["title"][:2] == ("utf8mb4", "utf8mb4_unicode_ci")
    assert columns["description"][0] == "utf8mb4"
    assert columns["search_text"][:2] == ("utf8mb4", "utf8mb4_bin")
    assert columns["created_at"][2] == 6


@pytest.mark.mariadb
def test_mariadb_emoji_title_stored(mariadb_app) -> None:
    title = "🎥 Clase en vivo 🚀 con 👩‍💻"

    body = ApiClient(app=mariadb_app).post(STREAMS, json={"title": title}).json()

    with mariadb_app.app_context():
        stored = db.session.execute(select(Stream.title, text("CHAR_LENGTH(title)")).where(Stream.id == body["id"])).one()
    assert stored[0] == title
    assert stored[1] == len(title)


@pytest.fixture
def short_wait_timeout(mariadb_server):
    """Make MariaDB close connections idle for SHORT_WAIT_TIMEOUT seconds (new connections only)."""
    mariadb_server.admin(f"SET GLOBAL wait_timeout = {SHORT_WAIT_TIMEOUT}")
    yield mariadb_server
    mariadb_server.admin(f"SET GLOBAL wait_timeout = {DEFAULT_WAIT_TIMEOUT}")


def _connection_id() -> int:
    return db.session.execute(text("SELECT CONNECTION_ID()")).scalar_one()


@pytest.mark.mariadb
def test_dropped_connection_recovered(short_wait_timeout, mariadb_url, app_config) -> None:
    app = create_app({**app_config, "DATABASE_URL": mariadb_url})
    api = ApiClient(app=app)
    try:
        assert api.post(STREAMS, json={"title": "Antes de la pausa"}).status_code == 201
        with app.app_context():
            first_connection = _connection_id()
            db.session.remove()

        time.sleep(SHORT_WAIT_TIMEOUT + 2)
        open_connections = short_wait_timeout.admin("SELECT ID FROM information_schema.PROCESSLIST").split()
        response = api.get(STREAMS)

        assert str(first_connection) not in open_connections, "the server did not drop the idle connection"
        assert response.status_code == 200, response.text
        assert response.json()["total"] == 1
        with app.app_context():
            assert _connection_id() != first_connection
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.mark.mariadb
def test_dropped_connection_fails_without_pre_ping(short_wait_timeout, mariadb_url) -> None:
    """The control case: the same idle period breaks a pool that does not ping first."""
    engine = create_engine(mariadb_url, pool_pre_ping=False, pool_size=1)
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))

        time.sleep(SHORT_WAIT_TIMEOUT + 2)

        with pytest.raises(OperationalError):
            with engine.connect() as connection:
                connection.execute(text("SELECT 1"))
    finally:
        engine.dispose()


def test_delete_referenced_stream_conflict(app, api, db_backend: str) -> None:
    """A row of a later module's table (here a stand-in) that refers to the stream blocks its delete."""
    table_options = " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci" if db_backend == "mariadb" else ""
    body = api.post(STREAMS, json={"title": "Con referencias"}).json()
    with app.app_context():
        db.session.execute(
            text(
                "CREATE TABLE stream_refs (id INTEGER PRIMARY KEY, stream_id VARCHAR(36) NOT NULL,"
                f" FOREIGN KEY (stream_id) REFERENCES streams (id)){table_options}"
            )
        )
        db.session.execute(text("INSERT INTO stream_refs (id, stream_id) VALUES (1, :id)"), {"id": body["id"]})
        db.session.commit()

    response = api.delete(f"{STREAMS}/{body['id']}", headers={"Authorization": f"Bearer {body['publishToken']}"})

    assert response.status_code == 409, response.text
    assert response.json()["code"] == "conflict"
    assert api.get(f"{STREAMS}/{body['id']}").status_code == 200
