"""Model metadata and engine set-up that need no migrated database."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import CheckConstraint, Column, Index, Integer, MetaData, Table, create_engine, select
from sqlalchemy.dialects.postgresql.base import PGDialect
from sqlalchemy.dialects.sqlite.base import SQLiteDialect

import lti_tool.models as models
from lti_tool.db import make_engine
from lti_tool.models import Base, UtcDateTime

POSTGRESQL_MAX_IDENTIFIER = 63


def test_every_constraint_and_index_has_a_short_stable_name() -> None:
    for table in Base.metadata.tables.values():
        assert len(table.name) <= POSTGRESQL_MAX_IDENTIFIER
        names = [constraint.name for constraint in table.constraints]
        names += [index.name for index in table.indexes]
        for name in names:
            assert name is not None, f"unnamed constraint or index on {table.name}"
            assert len(str(name)) <= POSTGRESQL_MAX_IDENTIFIER, name


def test_every_enum_column_is_a_checked_string() -> None:
    checks = {
        str(constraint.name)
        for table in Base.metadata.tables.values()
        for constraint in table.constraints
        if isinstance(constraint, CheckConstraint)
    }
    assert "ck_evidence_score_status" in checks
    assert "ck_evidence_level_value_iff_scored" in checks
    assert "ck_enrollments_role" in checks


def test_models_package_exports_every_mapped_class() -> None:
    mapped = {mapper.class_.__name__ for mapper in Base.registry.mappers}
    assert mapped <= set(models.__all__)


def test_make_engine_creates_the_sqlite_folder_and_enforces_foreign_keys(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "folder" / "app.db"
    engine = make_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert path.parent.is_dir()
    finally:
        engine.dispose()


def test_sqlite_savepoints_roll_back_inner_work_only(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'savepoint.db'}")
    table = Table("t", MetaData(), Column("x", Integer))
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql("CREATE TABLE t (x INTEGER)")
        with engine.begin() as connection:
            connection.exec_driver_sql("INSERT INTO t VALUES (1)")
            savepoint = connection.begin_nested()
            connection.exec_driver_sql("INSERT INTO t VALUES (2)")
            savepoint.rollback()
        with engine.connect() as connection:
            assert connection.execute(select(table.c.x)).scalars().all() == [1]
    finally:
        engine.dispose()


def test_utc_datetime_renders_as_timestamp_with_time_zone() -> None:
    column_type = UtcDateTime()
    assert "WITH TIME ZONE" in str(column_type.compile(dialect=PGDialect()))
    assert str(column_type.compile(dialect=SQLiteDialect())) == "DATETIME"


def test_utc_datetime_refuses_naive_values() -> None:
    with pytest.raises(ValueError, match="naive datetime"):
        UtcDateTime().process_bind_param(datetime(2025, 1, 1), SQLiteDialect())


def test_utc_datetime_round_trips_through_sqlite() -> None:
    engine = create_engine("sqlite://")
    table = Table("instants", MetaData(), Column("at", UtcDateTime()))
    try:
        with engine.begin() as connection:
            table.create(connection)
            connection.execute(table.insert().values(at=datetime(2025, 1, 1, 12, tzinfo=UTC)))
            assert connection.execute(select(table.c.at)).scalar_one() == datetime(2025, 1, 1, 12, tzinfo=UTC)
    finally:
        engine.dispose()


def test_index_names_on_evidence_are_explicit() -> None:
    names = {index.name for index in Base.metadata.tables["evidence"].indexes if isinstance(index, Index)}
    assert "ix_evidence_timeline" in names
