"""Value types that flow through the core: evidence, periods, courses, cut rows and course grades."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum

__all__ = [
    "Course",
    "CourseGrade",
    "CourseLevel",
    "CutRow",
    "Evidence",
    "EvidenceKind",
    "Exclusion",
    "GradeStatus",
    "GradingPeriod",
    "IndicatorResult",
    "NcaaArea",
]


class EvidenceKind(StrEnum):
    """Whether evidence was gathered during learning (formative) or from a transfer task (summative)."""

    FORMATIVE = "formative"
    SUMMATIVE = "summative"


@dataclass(frozen=True, slots=True)
class Evidence:
    """One scored demonstration of one performance indicator by one student."""

    student_id: str
    course_id: str
    indicator_id: str
    score: Decimal
    demonstrated_on: date
    kind: EvidenceKind = EvidenceKind.SUMMATIVE
    task: str | None = None


@dataclass(frozen=True, slots=True)
class GradingPeriod:
    """A reporting period (quarter, semester, year); `is_credit_bearing` marks the one whose grade earns credit."""

    period_id: str
    start: date
    end: date
    is_credit_bearing: bool = False


class CourseLevel(StrEnum):
    """The course level that decides a weighted-GPA bonus."""

    STANDARD = "standard"
    HONORS = "honors"
    AP = "ap"
    IB = "ib"
    DUAL = "dual"


class NcaaArea(StrEnum):
    """NCAA core-course subject area (ADDITIONAL covers foreign language, religion/philosophy and extras)."""

    ENGLISH = "english"
    MATH = "math"
    SCIENCE = "science"
    SOCIAL_SCIENCE = "social_science"
    ADDITIONAL = "additional"


@dataclass(frozen=True, slots=True)
class Course:
    """A course as the GPA and NCAA calculations need it."""

    course_id: str
    title: str = ""
    credits: Decimal = Decimal("1")
    level: CourseLevel = CourseLevel.STANDARD
    is_ncaa_core: bool = False
    ncaa_area: NcaaArea | None = None

    @property
    def ncaa_units(self) -> Decimal:
        """NCAA units: the credits, never more than 1 (year 1.0, semester 0.5, trimester 0.34, quarter 0.25)."""
        return min(self.credits, Decimal(1))


@dataclass(frozen=True, slots=True)
class CutRow:
    """One row of a letter table: values at or above `min_value` (and below the row above) earn `letter`."""

    letter: str
    min_value: Decimal
    points: Decimal


@dataclass(frozen=True, slots=True)
class Exclusion:
    """A piece of evidence left out of a calculation, and why in plain words."""

    evidence: Evidence
    reason: str


@dataclass(frozen=True, slots=True)
class IndicatorResult:
    """One indicator's proficiency and the evidence behind it (oldest first) or left out of it."""

    indicator_id: str
    proficiency: Decimal | None
    evidence: tuple[Evidence, ...]
    excluded: tuple[Exclusion, ...] = ()
    note: str = ""


class GradeStatus(StrEnum):
    """Whether a course grade could be given or the evidence was insufficient."""

    GRADED = "graded"
    INSUFFICIENT_EVIDENCE = "insufficient_evidence"


@dataclass(frozen=True, slots=True)
class CourseGrade:
    """One student's grade in one course for one period, with everything needed to explain it."""

    student_id: str
    course_id: str
    period_id: str
    status: GradeStatus
    course_value: Decimal | None
    letter: str
    grade_points: Decimal | None
    evidence_count: int
    indicators: tuple[IndicatorResult, ...]
    rule: str
    cut_row: CutRow | None
    policy_name: str
    policy_version: str
    method: str
    method_params: tuple[tuple[str, str], ...]
    percent: Decimal | None = None
