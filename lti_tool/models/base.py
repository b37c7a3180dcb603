"""Declarative base, naming convention and the column types every model shares."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import Enum
from typing import Any, TypeVar

from sqlalchemy import JSON, DateTime, Dialect, MetaData
from sqlalchemy import Enum as SqlEnum
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator, TypeEngine

# Stable constraint names on SQLite and PostgreSQL alike, so migrations can name what they drop.
# Every name stays under PostgreSQL's 63-character limit (tests/integration checks this).
NAMING_CONVENTION: dict[str, str] = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# Enum columns are VARCHAR plus a CHECK constraint: adding a value is a constraint change, not a type change.
ENUM_LENGTH = 32

E = TypeVar("E", bound=Enum)


def utcnow() -> datetime:
    """Return the current instant, timezone-aware in UTC (the default for *_at columns)."""
    return datetime.now(UTC)


class UtcDateTime(TypeDecorator[datetime]):
    """An instant: `DateTime(timezone=True)` that refuses naive values and always returns aware UTC.

    SQLite has no time zone type, so the value is stored there as naive UTC text and made aware on load.
    """

    impl = DateTime
    cache_ok = True

    def __init__(self) -> None:
        super().__init__(timezone=True)

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value.isoformat()} given for a timezone-aware column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _enum_values(enum_cls: type[Enum]) -> list[str]:
    return [str(member.value) for member in enum_cls]


def str_enum(enum_cls: type[E], name: str) -> SqlEnum:
    """Store `enum_cls` by value as VARCHAR with a CHECK constraint named `ck_<table>_<name>`."""
    return SqlEnum(
        enum_cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=ENUM_LENGTH,
        values_callable=_enum_values,
        validate_strings=True,
    )


def json_document() -> TypeEngine[Any]:
    """JSON on SQLite, JSONB on PostgreSQL (comparable and indexable there)."""
    return JSON().with_variant(JSONB(), "postgresql")


class Base(DeclarativeBase):
    """Root of every mapped class; its metadata carries the naming convention."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
