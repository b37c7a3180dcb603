"""NCAA initial-eligibility figures: core-course GPA, core units by area, and Division I/II checks.

Facts follow the NCAA Eligibility Center's Guide for the College-Bound Student-Athlete and its Division I
and Division II initial-eligibility quick-reference sheets: core GPA on a 4-point scale from transcript
letters (A=4, B=3, C=2, D=1, F=0), pluses and minuses ignored, honors/AP weighting only when the high school
weights grades and never more than +1.00 per course, and the unit distributions checked below.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from enum import StrEnum
from typing import Final

from mappings.errors import MappingError
from mappings.policy import Policy
from mappings.records import Course, CourseGrade, GradeStatus, NcaaArea
from mappings.rounding import ARITHMETIC_CONTEXT, Rounding, quantize

__all__ = [
    "DivisionCheck",
    "NcaaCourseGrade",
    "NcaaLine",
    "NcaaOutcome",
    "NcaaResult",
    "Requirement",
    "RequirementStatus",
    "compute_ncaa",
]

_CTX = ARITHMETIC_CONTEXT
_QUALITY: Final = {"A": Decimal(4), "B": Decimal(3), "C": Decimal(2), "D": Decimal(1), "F": Decimal(0)}
_MAX_BONUS: Final = Decimal("1.00")  # NCAA: weighting may add at most one quality point per course
_EMS: Final = (NcaaArea.ENGLISH, NcaaArea.MATH, NcaaArea.SCIENCE)


@dataclass(frozen=True, slots=True)
class NcaaCourseGrade:
    """A final course grade plus the high-school semester (1-8) in which the course was completed."""

    grade: CourseGrade
    completed_semester: int | None = None


@dataclass(frozen=True, slots=True)
class NcaaLine:
    """One course as the NCAA reads it: letter, quality points, bonus, units and whether it counts."""

    course_id: str
    area: NcaaArea | None
    letter: str
    ncaa_letter: str | None
    quality_points: Decimal | None
    bonus: Decimal
    units: Decimal
    completed_semester: int | None
    is_counted: bool
    note: str


class RequirementStatus(StrEnum):
    """Whether one requirement is met, unmet, or cannot be told from the data given."""

    MET = "met"
    UNMET = "unmet"
    CANNOT_TELL = "cannot_tell"


@dataclass(frozen=True, slots=True)
class Requirement:
    """One eligibility requirement with what is needed, what the student has and why, in plain words."""

    name: str
    status: RequirementStatus
    required: str
    actual: str
    reason: str


class NcaaOutcome(StrEnum):
    """The overall academic outcome of one division's check."""

    QUALIFIER = "qualifier"
    PARTIAL_QUALIFIER = "partial_qualifier"
    NOT_MET = "not_met"
    CANNOT_TELL = "cannot_tell"


@dataclass(frozen=True, slots=True)
class DivisionCheck:
    """The requirements of one NCAA division and the outcome they add up to."""

    division: str
    outcome: NcaaOutcome
    requirements: tuple[Requirement, ...]

    @property
    def is_met(self) -> bool:
        """True only for a full qualifier."""
        return self.outcome is NcaaOutcome.QUALIFIER


@dataclass(frozen=True, slots=True)
class NcaaResult:
    """Core GPA (3 places, truncated), core units in total and per area, per-course lines and both checks."""

    core_gpa: Decimal | None
    core_units: Decimal
    units_by_area: tuple[tuple[NcaaArea, Decimal], ...]
    lines: tuple[NcaaLine, ...]
    division_i: DivisionCheck
    division_ii: DivisionCheck

    def units_in(self, area: NcaaArea) -> Decimal:
        """Passed core units in one area."""
        return dict(self.units_by_area).get(area, Decimal(0))


def _line(item: NcaaCourseGrade, course: Course, policy: Policy) -> NcaaLine:
    grade = item.grade
    units = course.ncaa_units
    base = NcaaLine(grade.course_id, course.ncaa_area, grade.letter, None, None, Decimal(0), units,
                    item.completed_semester, False, "")  # fmt: skip
    if not course.is_ncaa_core:
        return replace(base, note="not an NCAA core course")
    if course.ncaa_area is None:
        raise MappingError(f"NCAA core course {course.course_id!r} has no ncaa_area")
    letter, note = grade.letter, ""
    if grade.status is GradeStatus.INSUFFICIENT_EVIDENCE:
        return replace(base, note=f"{letter}: no grade earned yet, so not counted")
    if letter in policy.ncaa.pass_codes:
        letter = policy.ncaa.lowest_passing_letter
        note = f"pass grade {grade.letter} counts as {letter}, the school's lowest passing letter; "
    ncaa_letter = letter[:1].upper()
    if ncaa_letter not in _QUALITY or letter[1:] not in ("", "+", "-"):
        return replace(base, note=f"{letter} is not a letter grade the NCAA can read, so not counted")
    if letter[1:]:
        note += f"{letter} is read as {ncaa_letter} (pluses and minuses are dropped); "
    points = _QUALITY[ncaa_letter]
    bonus = Decimal(0)
    if policy.gpa.is_weighted and points > 0:
        bonus = min(policy.gpa.bonus_for(course.level), _MAX_BONUS)
        if bonus:
            note += f"+{bonus} for a weighted {course.level} course; "
    note += f"{points + bonus} quality points x {units} units"
    return replace(
        base, ncaa_letter=ncaa_letter, quality_points=points, bonus=bonus, is_counted=True, note=note
    )


def _units(lines: Sequence[NcaaLine]) -> dict[NcaaArea, Decimal]:
    # An F counts in the core GPA but earns no units toward the distribution.
    units = dict.fromkeys(NcaaArea, Decimal(0))
    for line in lines:
        if line.is_counted and line.area is not None and line.ncaa_letter != "F":
            units[line.area] = _CTX.add(units[line.area], line.units)
    return units


def _status(is_met: bool) -> RequirementStatus:
    return RequirementStatus.MET if is_met else RequirementStatus.UNMET


def _distribution(units: Mapping[NcaaArea, Decimal], needs: Mapping[str, Decimal]) -> list[Requirement]:
    """Units per area, filling each area's need first; extra English/math/science fill the "more" bucket,
    and anything beyond (from any area) counts as additional core, as the NCAA allows."""
    english, math, science, social = (
        needs["english"],
        needs["math"],
        needs["science"],
        needs["social_science"],
    )
    used = {
        NcaaArea.ENGLISH: min(units[NcaaArea.ENGLISH], english),
        NcaaArea.MATH: min(units[NcaaArea.MATH], math),
        NcaaArea.SCIENCE: min(units[NcaaArea.SCIENCE], science),
        NcaaArea.SOCIAL_SCIENCE: min(units[NcaaArea.SOCIAL_SCIENCE], social),
    }
    spare_ems = sum((units[a] - used[a] for a in _EMS), Decimal(0))
    more = min(spare_ems, needs["more_ems"])
    spare = spare_ems - more + units[NcaaArea.SOCIAL_SCIENCE] - used[NcaaArea.SOCIAL_SCIENCE]
    additional = units[NcaaArea.ADDITIONAL] + spare
    total = sum(units.values(), Decimal(0))
    rows = [
        ("English", used[NcaaArea.ENGLISH], english),
        ("math (Algebra I or higher; course level is not checked here)", used[NcaaArea.MATH], math),
        ("natural/physical science", used[NcaaArea.SCIENCE], science),
        ("more English, math or science", more, needs["more_ems"]),
        ("social science", used[NcaaArea.SOCIAL_SCIENCE], social),
        ("additional core (any area, foreign language, religion/philosophy)", min(additional, _FOUR), _FOUR),
        ("total core units", total, Decimal(16)),
    ]
    return [
        Requirement(
            name=name,
            status=_status(have >= need),
            required=f"{need} units",
            actual=f"{have} units",
            reason=f"{'has' if have >= need else 'needs'} {need} units of {name}; has {have}",
        )
        for name, have, need in rows
    ]


def _gpa_requirement(gpa: Decimal | None, need: Decimal, division: str) -> Requirement:
    if gpa is None:
        return Requirement(f"{division} core GPA", RequirementStatus.UNMET, f"{need}", "none",
                           "no graded core courses yet")  # fmt: skip
    met = gpa >= need
    reason = (
        f"core GPA {gpa} is {'at or above' if met else 'below'} {need} (truncated to 3 places, never rounded)"
    )
    return Requirement(f"{division} core GPA", _status(met), f"{need}", f"{gpa}", reason)


def _ten_seven(lines: Sequence[NcaaLine]) -> Requirement:
    # Division I: 10 core courses completed before the seventh semester, 7 of them English/math/science.
    known = known_ems = unknown = unknown_ems = Decimal(0)
    for line in lines:
        if not line.is_counted or line.ncaa_letter == "F":
            continue
        is_ems = line.area in _EMS
        if line.completed_semester is None:
            unknown += line.units
            unknown_ems += line.units if is_ems else 0
        elif line.completed_semester <= 6:
            known += line.units
            known_ems += line.units if is_ems else 0
    name, required = "10 core units before the seventh semester, 7 in English/math/science", "10 (7 E/M/S)"
    actual = f"{known} ({known_ems} E/M/S)"
    if known >= 10 and known_ems >= 7:
        return Requirement(
            name, RequirementStatus.MET, required, actual, f"has {actual} by the end of semester 6"
        )
    if known + unknown >= 10 and known_ems + unknown_ems >= 7:
        reason = f"cannot tell: {unknown} units have no completed semester; with them it could be met"
        return Requirement(name, RequirementStatus.CANNOT_TELL, required, actual, reason)
    return Requirement(name, RequirementStatus.UNMET, required, actual, f"has only {actual} by semester 6")


def _outcome(requirements: Sequence[Requirement]) -> NcaaOutcome:
    statuses = {r.status for r in requirements}
    if RequirementStatus.UNMET in statuses:
        return NcaaOutcome.NOT_MET
    if RequirementStatus.CANNOT_TELL in statuses:
        return NcaaOutcome.CANNOT_TELL
    return NcaaOutcome.QUALIFIER


_FOUR: Final = Decimal(4)
_DIVISION_I: Final = {k: Decimal(v) for k, v in (("english", 4), ("math", 3), ("science", 2), ("more_ems", 1),
                                                  ("social_science", 2))}  # fmt: skip
_DIVISION_II: Final = {k: Decimal(v) for k, v in (("english", 3), ("math", 2), ("science", 2), ("more_ems", 3),
                                                   ("social_science", 2))}  # fmt: skip


def compute_ncaa(
    grades: Sequence[NcaaCourseGrade | CourseGrade], courses: Mapping[str, Course], policy: Policy
) -> NcaaResult:
    """NCAA core GPA, units and Division I/II checks from final course grades (a bare CourseGrade has an
    unknown completion semester, so the 10/7 rule may say "cannot tell")."""
    lines = []
    for item in grades:
        wrapped = item if isinstance(item, NcaaCourseGrade) else NcaaCourseGrade(item)
        course = courses.get(wrapped.grade.course_id)
        if course is None:
            raise MappingError(
                f"no course record for course_id {wrapped.grade.course_id!r} in the NCAA calculation"
            )
        lines.append(_line(wrapped, course, policy))
    counted = [line for line in lines if line.is_counted]
    units_sum = sum((line.units for line in counted), Decimal(0))
    gpa = None
    if units_sum > 0:
        points = sum((_CTX.multiply((line.quality_points or Decimal(0)) + line.bonus, line.units) for line in counted),
                     Decimal(0))  # fmt: skip
        # NCAA core GPA is truncated at 3 places: 2.2999 is 2.299, which does not reach 2.300.
        gpa = quantize(_CTX.divide(points, units_sum), 3, Rounding.TRUNCATE)
    units = _units(lines)
    total = sum(units.values(), Decimal(0))

    first = [*_distribution(units, _DIVISION_I), _gpa_requirement(gpa, Decimal("2.300"), "Division I"),
             _ten_seven(lines)]  # fmt: skip
    division_i = DivisionCheck("Division I", _outcome(first), tuple(first))

    second = [*_distribution(units, _DIVISION_II), _gpa_requirement(gpa, Decimal("2.200"), "Division II")]
    outcome = _outcome(second)
    others_met = all(r.status is RequirementStatus.MET for r in second[:-1])
    if outcome is NcaaOutcome.NOT_MET and others_met and gpa is not None and gpa >= Decimal("2.000"):
        # Division II partial qualifier: the 16 units are in place and the core GPA is 2.000-2.199.
        outcome = NcaaOutcome.PARTIAL_QUALIFIER
    division_ii = DivisionCheck("Division II", outcome, tuple(second))
    return NcaaResult(gpa, total, tuple(units.items()), tuple(lines), division_i, division_ii)
