"""Typed records of the OneRoster 1.1 and 1.2 CSV binding: the manifest, rostering rows read, gradebook rows written.

These are CSV-binding records; the REST records live in `connectors.oneroster.records` (written separately)
and may absorb these later. Vocabulary fields that OneRoster lets a producer extend with `ext:` values are
kept as `str` (checked on read); closed vocabularies are enums.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum


class OneRosterVersion(StrEnum):
    """The `oneroster.version` a package declares."""

    V1_1 = "1.1"
    V1_2 = "1.2"


class FileMode(StrEnum):
    """How manifest.csv declares a data file: not supplied, a full replacement, or changes only."""

    ABSENT = "absent"
    BULK = "bulk"
    DELTA = "delta"


class Status(StrEnum):
    """Record status; 1.0's `inactive` is read as `tobedeleted` (OneRoster 1.1 and 1.2 say so)."""

    ACTIVE = "active"
    TO_BE_DELETED = "tobedeleted"


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
class Org:
    """orgs.csv row."""

    sourced_id: str
    status: Status | None
    date_last_modified: datetime | None
    name: str
    type: str
    identifier: str | None
    parent_sourced_id: str | None


@dataclass(frozen=True, slots=True)
class AcademicSession:
    """academicSessions.csv row; `school_year` is the ending year, e.g. "2026" for 2025-26."""

    sourced_id: str
    status: Status | None
    date_last_modified: datetime | None
    title: str
    type: str
    start_date: date
    end_date: date
    parent_sourced_id: str | None
    school_year: str


@dataclass(frozen=True, slots=True)
class Course:
    """courses.csv row."""

    sourced_id: str
    status: Status | None
    date_last_modified: datetime | None
    school_year_sourced_id: str | None
    title: str
    course_code: str | None
    grades: tuple[str, ...]
    org_sourced_id: str
    subjects: tuple[str, ...]
    subject_codes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class RosterClass:
    """classes.csv row (a section of a course)."""

    sourced_id: str
    status: Status | None
    date_last_modified: datetime | None
    title: str
    grades: tuple[str, ...]
    course_sourced_id: str
    class_code: str | None
    class_type: str
    location: str | None
    school_sourced_id: str
    term_sourced_ids: tuple[str, ...]
    subjects: tuple[str, ...]
    subject_codes: tuple[str, ...]
    periods: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class UserId:
    """One `{type:identifier}` entry of users.csv `userIds`."""

    type: str
    identifier: str


@dataclass(frozen=True, slots=True)
class User:
    """users.csv row. `org_sourced_ids` and `role` exist in 1.1 only (1.2 moved them to roles.csv);
    the preferred names, `user_master_identifier`, `primary_org_sourced_id` and `pronouns` in 1.2 only."""

    sourced_id: str
    status: Status | None
    date_last_modified: datetime | None
    enabled_user: bool
    username: str
    user_ids: tuple[UserId, ...]
    given_name: str
    family_name: str
    middle_name: str | None
    identifier: str | None
    email: str | None
    sms: str | None
    phone: str | None
    agent_sourced_ids: tuple[str, ...]
    grades: tuple[str, ...]
    org_sourced_ids: tuple[str, ...] = ()
    role: str | None = None
    user_master_identifier: str | None = None
    preferred_given_name: str | None = None
    preferred_middle_name: str | None = None
    preferred_family_name: str | None = None
    primary_org_sourced_id: str | None = None
    pronouns: str | None = None


@dataclass(frozen=True, slots=True)
class Enrollment:
    """enrollments.csv row."""

    sourced_id: str
    status: Status | None
    date_last_modified: datetime | None
    class_sourced_id: str
    school_sourced_id: str
    user_sourced_id: str
    role: str
    primary: bool | None
    begin_date: date | None
    end_date: date | None


@dataclass(frozen=True, slots=True)
class Demographics:
    """demographics.csv row; `sourced_id` is the user's sourcedId."""

    sourced_id: str
    status: Status | None
    date_last_modified: datetime | None
    birth_date: date | None
    sex: str | None
    american_indian_or_alaska_native: bool | None
    asian: bool | None
    black_or_african_american: bool | None
    native_hawaiian_or_other_pacific_islander: bool | None
    white: bool | None
    demographic_race_two_or_more_races: bool | None
    hispanic_or_latino_ethnicity: bool | None
    country_of_birth_code: str | None
    state_of_birth_abbreviation: str | None
    city_of_birth: str | None
    public_school_residence_status: str | None


@dataclass(frozen=True, slots=True)
class RosterPackage:
    """Everything read from a OneRoster CSV zip. Whether a file is bulk (the whole set) or delta (changes
    only, every row with status and dateLastModified) is in `manifest.mode(file_name)`."""

    manifest: Manifest
    orgs: tuple[Org, ...] = ()
    academic_sessions: tuple[AcademicSession, ...] = ()
    courses: tuple[Course, ...] = ()
    classes: tuple[RosterClass, ...] = ()
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
