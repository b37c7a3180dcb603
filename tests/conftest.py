"""Shared fixtures: a migrated database (SQLite, or PostgreSQL from DATABASE_URL) and per-test sessions."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, make_url
from sqlalchemy.orm import Session

from lti_tool.db import make_engine, upgrade_database


def drop_everything(url: str) -> None:
    """Remove every table, trigger and function in the database at `url` (test databases only)."""
    sa_url = make_url(url)
    if sa_url.get_backend_name() == "sqlite":
        if sa_url.database and sa_url.database != ":memory:":
            Path(sa_url.database).unlink(missing_ok=True)
        return
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql("DROP SCHEMA public CASCADE")
            connection.exec_driver_sql("CREATE SCHEMA public")
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """DATABASE_URL if set (CI points it at PostgreSQL), else a SQLite file in a pytest tmp folder."""
    url = os.environ.get("DATABASE_URL")
    if url:
        return url
    return f"sqlite:///{tmp_path_factory.mktemp('database') / 'test.db'}"


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    """An engine on a database emptied and then migrated to head once per test run."""
    drop_everything(database_url)
    upgrade_database(database_url)
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def db_session(engine: Engine) -> Iterator[Session]:
    """A session inside a transaction rolled back after the test, so nothing leaks between tests.

    The session's own commits and rollbacks act on a SAVEPOINT (`join_transaction_mode="create_savepoint"`),
    so code under test may commit freely.
    """
    with engine.connect() as connection:
        transaction = connection.begin()
        session = Session(bind=connection, join_transaction_mode="create_savepoint")
        try:
            yield session
        finally:
            session.close()
            if transaction.is_active:
                transaction.rollback()


@pytest.fixture
def empty_database_url(database_url: str, tmp_path: Path) -> Iterator[str]:
    """A URL for a new, empty database of the same kind as `database_url`, removed after the test.

    For tests that must commit (concurrency, migrations). On PostgreSQL it is a fresh schema selected
    through `search_path`; on SQLite a new file.
    """
    sa_url = make_url(database_url)
    if sa_url.get_backend_name() == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    schema = f"test_{uuid.uuid4().hex[:12]}"
    admin = make_engine(database_url)
    try:
        with admin.begin() as connection:
            connection.exec_driver_sql(f"CREATE SCHEMA {schema}")
        yield sa_url.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(
            hide_password=False
        )
        with admin.begin() as connection:
            connection.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
    finally:
        admin.dispose()
