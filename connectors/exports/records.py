"""Typed input of every export: a school's calendar, students, courses, classes and current posted grades.

`ExportDataset` is built by `lti_tool.exports` from the database (or by hand in tests) and is all a renderer
sees: renderers never read a clock, the environment or the network, so the same dataset gives the same bytes.
Keys (`*_key`) are stable strings chosen by the builder (SIS sourcedIds where known, else row ids); they join
records and decide sort order, and are never printed as a student's SIS number.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from functools import cached_property

from mappings import Course, GradeStatus, Policy

__all__ = [
    "ChartSeries",
    "ExportClass",
    "ExportCourse",
    "ExportDataset",
    "ExportGrade",
    "ExportSchool",
    "ExportSession",
    "ExportStudent",
    "HabitLevel",
    "IndicatorLevel",
    "IndicatorSource",
    "ScaleLevel",
    "SessionKind",
]


class SessionKind(StrEnum):
    """OneRoster academic session types, outermost first."""

    SCHOOL_YEAR = "school_year"
    SEMESTER = "semester"
    TERM = "term"
    GRADING_PERIOD = "grading_period"


class IndicatorSource(StrEnum):
    """Where per-indicator levels came from: the posting's own record, or evidence as of the period end."""

    PROVENANCE = "provenance"
    EVIDENCE = "evidence"


@dataclass(frozen=True, slots=True)
class ScaleLevel:
    """A level of the school's proficiency scale (ascending), e.g. 3 = Proficient."""

    value: Decimal
    label: str


@dataclass(frozen=True, slots=True)
class ExportSchool:
    """The school exported, its grading policy (the one its conversion scale publishes) and scale levels."""

    key: str
    name: str
    sourced_id: str | None
    policy: Policy
    is_policy_chosen: bool
    levels: tuple[ScaleLevel, ...]
    district_name: str | None = None


@dataclass(frozen=True, slots=True)
class ExportSession:
    """A node of the school calendar: year, semester/term or grading period."""

    key: str
    title: str
    kind: SessionKind
    start: date
    end: date
    parent_key: str | None = None
    is_credit_bearing: bool = False
    sourced_id: str | None = None


@dataclass(frozen=True, slots=True)
class ExportStudent:
    """A student; `sis_id` is the SIS student number (None when the SIS has not matched the student)."""

    key: str
    given_name: str
    family_name: str
    sis_id: str | None
    grade_level: str | None = None

    @property
    def display_name(self) -> str:
        """ "Family, Given" as registrars sort and print it."""
        return ", ".join(part for part in (self.family_name.strip(), self.given_name.strip()) if part)


@dataclass(frozen=True, slots=True)
class ExportCourse:
    """A catalogue course with the facts GPA and NCAA need (`course.course_id` is the course code)."""

    course: Course
    sourced_id: str | None = None

    @property
    def code(self) -> str:
        """The school's course code (PowerSchool COURSE_NUMBER)."""
        return self.course.course_id


@dataclass(frozen=True, slots=True)
class ExportClass:
    """A section of a course; `term_key` is the calendar session the section runs over (its credit term)."""

    key: str
    course_code: str
    title: str
    sourced_id: str | None = None
    section_code: str | None = None
    term_key: str | None = None


@dataclass(frozen=True, slots=True)
class IndicatorLevel:
    """One performance indicator's proficiency behind a grade (None: no proficiency yet)."""

    code: str
    level: Decimal | None
    statement: str = ""
    case_identifier: str | None = None


@dataclass(frozen=True, slots=True)
class ExportGrade:
    """A current posted grade (the end of its amendment chain) for a student in a class for a period."""

    student_key: str
    class_key: str
    period_key: str
    status: GradeStatus
    letter: str
    course_value: Decimal | None
    grade_points: Decimal | None
    posted_at: datetime
    percent: Decimal | None = None
    evidence_count: int = 0
    is_amendment: bool = False
    amendment_reason: str | None = None
    indicators: tuple[IndicatorLevel, ...] = ()
    indicator_source: IndicatorSource = IndicatorSource.PROVENANCE
    policy_name: str = ""
    policy_version: str = ""


@dataclass(frozen=True, slots=True)
class HabitLevel:
    """A habit of work in one class: its latest observation up to the period end and how many there were."""

    student_key: str
    class_key: str
    habit: str
    value: Decimal
    observed_on: date
    count: int


@dataclass(frozen=True, slots=True)
class ChartSeries:
    """One indicator's scored demonstrations (oldest first) and the running proficiency after each."""

    student_key: str
    class_key: str
    indicator_code: str
    points: tuple[tuple[date, Decimal], ...]
    proficiency: tuple[Decimal | None, ...]


@dataclass(frozen=True)  # no slots: cached_property needs an instance __dict__
class ExportDataset:
    """Everything an export shows for one school and one period.

    `grades` holds every current posted grade of the school in periods ending on or before `period` ends
    (transcripts and NCAA worksheets are cumulative); per-period exports pick `period_grades`. `as_of` is the
    date printed on documents: the latest posting time in the data, never the clock.
    """

    school: ExportSchool
    period: ExportSession
    sessions: Mapping[str, ExportSession]
    students: Mapping[str, ExportStudent]
    courses: Mapping[str, ExportCourse]
    classes: Mapping[str, ExportClass]
    grades: tuple[ExportGrade, ...]
    habits: tuple[HabitLevel, ...] = ()
    charts: tuple[ChartSeries, ...] = ()
    generated_at: datetime | None = None

    @cached_property
    def as_of(self) -> datetime:
        """The instant the documents describe: `generated_at`, else the latest posting among the grades."""
        if self.generated_at is not None:
            return self.generated_at
        if not self.grades:
            raise ValueError("an export dataset without grades has no date; nothing was posted")
        return max(grade.posted_at for grade in self.grades)

    @cached_property
    def period_grades(self) -> tuple[ExportGrade, ...]:
        """The grades posted for `period` itself."""
        return tuple(grade for grade in self.grades if grade.period_key == self.period.key)

    def course_of(self, grade: ExportGrade) -> ExportCourse:
        """The course a grade's class belongs to."""
        return self.courses[self.classes[grade.class_key].course_code]
