"""Engines, sessions and Alembic migrations run from code (works from any working directory)."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, Dialect, Engine, create_engine, event, exc, make_url
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry, PoolProxiedConnection

# Inside the installed package, so `mastery-bridge db upgrade` works from any directory.
MIGRATIONS_LOCATION = "lti_tool:migrations"
# A pooled connection idle for longer than this is pinged before use (see make_engine).
PING_AFTER_IDLE_SECONDS = 10.0
# Connections are replaced after an hour, before server or firewall idle limits can cut them silently.
POOL_RECYCLE_SECONDS = 3600
_CHECKED_IN_AT = "mastery_bridge.checked_in_at"


def make_engine(url: str) -> Engine:
    """Create an engine for `url`; on SQLite also create the file's folder and fix transactions.

    PostgreSQL: a pooled connection is pinged before use only when it sat idle for more than
    `PING_AFTER_IDLE_SECONDS` (a dead one is replaced, so the request never sees it), not on every checkout
    as `pool_pre_ping` would: that cost a round trip per request, two per login + launch, for connections
    that under load were used a few milliseconds earlier. A server restart under load can then fail the
    requests that were already using a connection, as it would anyway, and SQLAlchemy replaces the pool at
    the first disconnect error.

    SQLite gets `PRAGMA foreign_keys=ON` on every connection and SQLAlchemy's documented pysqlite recipe
    ("Serializable isolation / Savepoints / Transactional DDL"): the driver's own BEGIN handling is switched
    off and the engine emits BEGIN itself, so SAVEPOINT and transactional DDL behave as on PostgreSQL.
    """
    sa_url = make_url(url)
    if sa_url.get_backend_name() != "sqlite":
        engine = create_engine(sa_url, pool_recycle=POOL_RECYCLE_SECONDS)
        dialect = engine.dialect

        def ping_if_idle(
            dbapi_connection: Any, record: ConnectionPoolEntry, _proxy: PoolProxiedConnection
        ) -> None:
            _ping_if_idle(dialect, dbapi_connection, record)

        event.listen(engine, "checkin", _remember_checkin)
        event.listen(engine, "checkout", ping_if_idle)
        return engine
    database = sa_url.database
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(sa_url)
    event.listen(engine, "connect", _sqlite_on_connect)
    event.listen(engine, "begin", _sqlite_on_begin)
    return engine


def _remember_checkin(_dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
    record.info[_CHECKED_IN_AT] = time.monotonic()


def _ping_if_idle(dialect: Dialect, dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
    checked_in_at = record.info.get(_CHECKED_IN_AT)
    if checked_in_at is None or time.monotonic() - checked_in_at < PING_AFTER_IDLE_SECONDS:
        return
    try:
        dialect.do_ping(dbapi_connection)
    except dialect.loaded_dbapi.Error as error:
        # The pool's documented signal: discard this connection and check out a new one (up to 3 tries).
        raise exc.DisconnectionError(
            f"pooled connection idle for over {PING_AFTER_IDLE_SECONDS:.0f} s is dead"
        ) from error


def _sqlite_on_connect(dbapi_connection: Any, connection_record: Any) -> None:
    # Stop pysqlite from issuing BEGIN (and COMMIT before DDL) on its own; `_sqlite_on_begin` does it.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA foreign_keys=ON")
    finally:
        cursor.close()


def _sqlite_on_begin(connection: Connection) -> None:
    connection.exec_driver_sql("BEGIN")


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Return the session factory for `engine`; callers own the transaction (nothing here commits)."""
    return sessionmaker(bind=engine, expire_on_commit=False)


def alembic_config(connection: Connection | None = None) -> Config:
    """Build the Alembic configuration in code; `connection`, if given, is the one migrations run on."""
    # Alembic's messages are logs, not data: stderr, so CLI stdout stays parseable.
    config = Config(stdout=sys.stderr)
    config.set_main_option("script_location", MIGRATIONS_LOCATION)
    config.set_main_option("path_separator", "os")
    config.set_main_option("file_template", "%%(rev)s_%%(slug)s")
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def upgrade_database(url: str) -> str:
    """Create or migrate the database at `url` to the newest revision; return that revision."""
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            command.upgrade(alembic_config(connection), "head")
            revision = MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()
    if revision is None:  # pragma: no cover - Alembic just wrote it
        raise RuntimeError(f"no Alembic revision recorded after upgrading {make_url(url)!r}")
    return revision


def database_revision(url: str) -> str | None:
    """Return the Alembic revision of the database at `url`, or None if it was never migrated."""
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()


def check_database(url: str) -> None:
    """Raise `alembic.util.exc.AutogenerateDiffsDetected` if the models and the migrated database differ.

    Also raises `alembic.util.exc.CommandError` if the database is not at the newest revision.
    """
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            command.check(alembic_config(connection))
    finally:
        engine.dispose()
