"""Typed records of the OneRoster 1.1 and 1.2 CSV binding: the manifest, the package read, gradebook rows written.

Rostering rows are read into the same `connectors.oneroster.records` types the REST client yields
(re-exported here), so the pull code has one input type. Vocabulary fields that OneRoster lets a producer
extend with `ext:` values are kept as `str` (checked on read); closed vocabularies are enums.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from connectors.oneroster.records import (
    AcademicSession,
    Class,
    Course,
    Demographics,
    Enrollment,
    OneRosterVersion,
    Org,
    Status,
    User,
    UserId,
    UserRole,
)

__all__ = [
    "AcademicSession",
    "Category",
    "Class",
    "Course",
    "Demographics",
    "Enrollment",
    "FileMode",
    "Gradebook",
    "LineItem",
    "LineItemLearningObjectiveId",
    "Manifest",
    "OneRosterVersion",
    "Org",
    "Result",
    "ResultLearningObjectiveId",
    "RosterPackage",
    "ScoreScale",
    "ScoreScaleValue",
    "Status",
    "User",
    "UserId",
    "UserRole",
]


class FileMode(StrEnum):
    """How manifest.csv declares a data file: not supplied, a full replacement, or changes only."""

    ABSENT = "absent"
    BULK = "bulk"
    DELTA = "delta"


@dataclass(frozen=True, slots=True)
class Manifest:
    """manifest.csv: versions, the mode of every data file it names, and the producing system."""

    manifest_version: str
    oneroster_version: OneRosterVersion
    files: tuple[tuple[str, FileMode], ...]  # (file name such as "users.csv", mode), sorted by name
    source_system_name: str | None = None
    source_system_code: str | None = None

    def mode(self, file_name: str) -> FileMode:
        """The declared mode of `file_name`; files the manifest does not name are absent."""
        return dict(self.files).get(file_name, FileMode.ABSENT)


@dataclass(frozen=True, slots=True)
class RosterPackage:
    """Everything read from a OneRoster CSV zip. Whether a file is bulk (the whole set) or delta (changes
    only, every row with status and dateLastModified) is in `manifest.mode(file_name)`."""

    manifest: Manifest
    orgs: tuple[Org, ...] = ()
    academic_sessions: tuple[AcademicSession, ...] = ()
    courses: tuple[Course, ...] = ()
    classes: tuple[Class, ...] = ()
    users: tuple[User, ...] = ()
    enrollments: tuple[Enrollment, ...] = ()
    demographics: tuple[Demographics, ...] = ()


# Gradebook records (written).


@dataclass(frozen=True, slots=True)
class Category:
    """categories.csv row; `weight` is 1.2 only."""

    sourced_id: str
    title: str
    status: Status | None = Status.ACTIVE
    date_last_modified: datetime | None = None
    weight: Decimal | None = None


@dataclass(frozen=True, slots=True)
class LineItem:
    """lineItems.csv row. `academic_session_sourced_id` is the grading period (1.1 `gradingPeriodSourcedId`);
    `school_sourced_id` is 1.2 only."""

    sourced_id: str
    title: str
    assign_date: date
    due_date: date
    class_sourced_id: str
    category_sourced_id: str
    academic_session_sourced_id: str | None = None
    description: str | None = None
    result_value_min: Decimal | None = None
    result_value_max: Decimal | None = None
    school_sourced_id: str | None = None
    status: Status | None = Status.ACTIVE
    date_last_modified: datetime | None = None


@dataclass(frozen=True, slots=True)
class Result:
    """results.csv row; `text_score`, `class_sourced_id` and the four flags are 1.2 only."""

    sourced_id: str
    line_item_sourced_id: str
    student_sourced_id: str
    score_status: str
    score_date: date
    score: Decimal | None = None
    comment: str | None = None
    text_score: str | None = None
    class_sourced_id: str | None = None
    in_progress: bool | None = None
    incomplete: bool | None = None
    late: bool | None = None
    missing: bool | None = None
    status: Status | None = Status.ACTIVE
    date_last_modified: datetime | None = None


@dataclass(frozen=True, slots=True)
class ScoreScaleValue:
    """One mapping of a score scale, e.g. `"3"` -> `"Proficient"`."""

    item_value_lhs: str
    item_value_rhs: str


@dataclass(frozen=True, slots=True)
class ScoreScale:
    """scoreScales.csv row (1.2)."""

    sourced_id: str
    title: str
    type: str
    class_sourced_id: str
    values: tuple[ScoreScaleValue, ...]
    org_sourced_id: str | None = None
    course_sourced_id: str | None = None
    status: Status | None = Status.ACTIVE
    date_last_modified: datetime | None = None


@dataclass(frozen=True, slots=True)
class LineItemLearningObjectiveId:
    """lineItemLearningObjectiveIds.csv row (1.2): a line item aligned to a learning objective."""

    sourced_id: str
    line_item_sourced_id: str
    learning_objective_id: str
    source: str = "case"
    status: Status | None = Status.ACTIVE
    date_last_modified: datetime | None = None


@dataclass(frozen=True, slots=True)
class ResultLearningObjectiveId:
    """resultLearningObjectiveIds.csv row (1.2): a result's mastery of one learning objective."""

    sourced_id: str
    result_sourced_id: str
    learning_objective_id: str
    source: str = "case"
    score: Decimal | None = None
    text_score: str | None = None
    status: Status | None = Status.ACTIVE
    date_last_modified: datetime | None = None


@dataclass(frozen=True, slots=True)
class Gradebook:
    """The gradebook files to write; rows are sorted by sourcedId on write, so input order does not matter."""

    categories: tuple[Category, ...] = ()
    line_items: tuple[LineItem, ...] = ()
    results: tuple[Result, ...] = ()
    score_scales: tuple[ScoreScale, ...] = ()
    line_item_learning_objective_ids: tuple[LineItemLearningObjectiveId, ...] = ()
    result_learning_objective_ids: tuple[ResultLearningObjectiveId, ...] = ()
