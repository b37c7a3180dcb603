"""`PackageRosterSource`: a OneRoster CSV package served through the same `RosterSource` protocol as the REST client.

Queries are evaluated in memory with the REST filter semantics (1.2 rostering §3.3.2): field names are
the OneRoster names (`dateLastModified`, `familyName`, `course`, ...), comparisons are on the typed
values (timestamps as timestamps), and a reference field such as `course` compares its sourcedId.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import fields as dataclass_fields
from dataclasses import is_dataclass
from datetime import UTC, date, datetime
from enum import Enum
from typing import Any, TypeVar

from connectors.oneroster.filters import Filter, Logical, Operator, Predicate, Query
from connectors.oneroster.records import (
    AcademicSession,
    Class,
    Course,
    Demographics,
    Enrollment,
    Org,
    User,
)
from connectors.oneroster_csv.records import FileMode, RosterPackage

R = TypeVar("R")

_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")
# OneRoster names whose attribute is not the plain snake_case of the name.
_ALIASES = {
    "enabledUser": "is_enabled",
    "primary": "is_primary",
    "parent": "parent_sourced_id",
    "orgs": "org_sourced_ids",
    "terms": "term_sourced_ids",
    "agents": "agent_sourced_ids",
}
_FILES = {
    "orgs": "orgs.csv",
    "academicSessions": "academicSessions.csv",
    "courses": "courses.csv",
    "classes": "classes.csv",
    "users": "users.csv",
    "enrollments": "enrollments.csv",
    "demographics": "demographics.csv",
}


def _attribute(record: object, name: str) -> str:
    if isinstance(record, User) and name == "role":
        return "role_names"  # 1.1 `role`; users may hold several roles across orgs
    if name in _ALIASES:
        return _ALIASES[name]
    snake = _CAMEL.sub("_", name).lower()
    known = {f.name for f in dataclass_fields(record)} if is_dataclass(record) else set()
    if snake in known:
        return snake
    if f"{snake}_sourced_id" in known:
        return f"{snake}_sourced_id"
    raise ValueError(f"unknown filter field {name!r} for {type(record).__name__}")


def _value(record: object, name: str) -> Any:
    return getattr(record, _attribute(record, name))


def _compare(have: Any, operator: Operator, want: str) -> bool:
    if isinstance(have, tuple | frozenset):
        # A multi-valued field matches when any of its values does (e.g. `terms='t1'`).
        return any(_compare(item, operator, want) for item in have)
    if have is None:
        return operator is Operator.NE
    left: Any
    right: Any
    if isinstance(have, datetime):
        parsed = datetime.fromisoformat(want)
        left, right = have, parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)
    elif isinstance(have, date):
        left, right = have, date.fromisoformat(want[:10])
    elif isinstance(have, bool):
        left, right = "true" if have else "false", want.lower()
    elif isinstance(have, Enum):
        left, right = str(have.value), want
    else:
        left, right = str(have), want
    if operator is Operator.CONTAINS:
        return str(right) in str(left)
    outcome: bool = {
        Operator.EQ: left == right,
        Operator.NE: left != right,
        Operator.GT: left > right,
        Operator.GE: left >= right,
        Operator.LT: left < right,
        Operator.LE: left <= right,
    }[operator]
    return outcome


def _matches(record: object, predicate: Predicate) -> bool:
    return _compare(_value(record, predicate.field), predicate.operator, predicate.value)


def matches(record: object, query_filter: Filter) -> bool:
    """Whether `record` passes `query_filter` (one or two predicates joined by AND or OR)."""
    first = _matches(record, query_filter.first)
    if query_filter.second is None:
        return first
    second = _matches(record, query_filter.second)
    return first and second if query_filter.logical is Logical.AND else first or second


def select(records: Sequence[R], query: Query | None) -> Iterator[R]:
    """`records` filtered and sorted as `query` asks; `fields` is ignored, records are always whole."""
    if query is None:
        yield from records
        return
    chosen = [r for r in records if query.filter is None or matches(r, query.filter)]
    if query.sort:
        key = query.sort
        chosen.sort(key=lambda r: str(_value(r, key) or ""), reverse=query.order_by == "desc")
    yield from chosen


class PackageRosterSource:
    """A `RosterSource` over a read `RosterPackage`; `is_delta` tells the pull whether absence means deletion."""

    def __init__(self, package: RosterPackage) -> None:
        self.package = package

    def mode(self, collection: str) -> FileMode:
        """How the manifest declared `collection` (e.g. "users"): absent, bulk or delta."""
        try:
            return self.package.manifest.mode(_FILES[collection])
        except KeyError:
            raise ValueError(f"unknown collection {collection!r}") from None

    def is_delta(self, collection: str) -> bool:
        """True when `collection` holds changes only: records it lacks were not deleted."""
        return self.mode(collection) is FileMode.DELTA

    def fetch_orgs(self, query: Query | None = None) -> Iterator[Org]:
        """Every org in the package."""
        return select(self.package.orgs, query)

    def fetch_academic_sessions(self, query: Query | None = None) -> Iterator[AcademicSession]:
        """Every academic session in the package."""
        return select(self.package.academic_sessions, query)

    def fetch_courses(self, query: Query | None = None) -> Iterator[Course]:
        """Every course in the package."""
        return select(self.package.courses, query)

    def fetch_classes(self, query: Query | None = None) -> Iterator[Class]:
        """Every class in the package."""
        return select(self.package.classes, query)

    def fetch_users(self, query: Query | None = None) -> Iterator[User]:
        """Every user in the package."""
        return select(self.package.users, query)

    def fetch_enrollments(self, query: Query | None = None) -> Iterator[Enrollment]:
        """Every enrollment in the package."""
        return select(self.package.enrollments, query)

    def fetch_demographics(self, query: Query | None = None) -> Iterator[Demographics]:
        """Every demographics record in the package."""
        return select(self.package.demographics, query)
