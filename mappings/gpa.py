"""Grade point average over final course grades: unweighted, and weighted with the policy's level bonus."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from mappings.errors import MappingError
from mappings.policy import Policy
from mappings.records import Course, CourseGrade, GradeStatus
from mappings.rounding import ARITHMETIC_CONTEXT, quantize

__all__ = ["GpaLine", "GpaResult", "compute_gpa"]

_CTX = ARITHMETIC_CONTEXT


@dataclass(frozen=True, slots=True)
class GpaLine:
    """One course's part in the GPA: its points, credits, bonus, and whether (and why not) it counts."""

    course_id: str
    letter: str
    points: Decimal | None
    credits: Decimal
    bonus: Decimal
    is_counted: bool
    reason: str


@dataclass(frozen=True, slots=True)
class GpaResult:
    """A GPA with the lines behind it; `weighted_gpa` is None unless the policy weights grades."""

    gpa: Decimal | None
    weighted_gpa: Decimal | None
    credits_attempted: Decimal
    credits_in_gpa: Decimal
    lines: tuple[GpaLine, ...]


def _exclusion(grade: CourseGrade, policy: Policy) -> str:
    if grade.status is GradeStatus.INSUFFICIENT_EVIDENCE:
        return f"insufficient evidence ({grade.letter}): left out of the GPA"
    if grade.letter in policy.gpa.excluded_letters:
        return f"{grade.letter} is left out of the GPA by the policy"
    if grade.letter in policy.ncaa.pass_codes:
        return f"{grade.letter} is a pass grade: credit without grade points"
    if grade.grade_points is None:
        return f"{grade.letter} carries no grade points"
    return ""


def compute_gpa(grades: Sequence[CourseGrade], courses: Mapping[str, Course], policy: Policy) -> GpaResult:
    """GPA = sum(points x credits) / sum(credits) over the credit-bearing final grades given.

    Insufficient-evidence codes, the policy's excluded letters and pass codes are left out (their credits
    are attempted but not in the GPA). The weighted GPA adds the policy's level bonus to every course with
    points above 0 (no bonus on an F). Both are rounded by the policy's GPA rule.
    """
    lines = []
    attempted = credits_in = points_sum = weighted_sum = Decimal(0)
    for grade in grades:
        course = courses.get(grade.course_id)
        if course is None:
            raise MappingError(f"no course record for course_id {grade.course_id!r} in the GPA calculation")
        attempted = _CTX.add(attempted, course.credits)
        reason = _exclusion(grade, policy)
        if reason or grade.grade_points is None:
            lines.append(
                GpaLine(grade.course_id, grade.letter, None, course.credits, Decimal(0), False, reason)
            )
            continue
        points = grade.grade_points
        bonus = policy.gpa.bonus_for(course.level) if policy.gpa.is_weighted and points > 0 else Decimal(0)
        credits_in = _CTX.add(credits_in, course.credits)
        points_sum = _CTX.add(points_sum, _CTX.multiply(points, course.credits))
        weighted_sum = _CTX.add(weighted_sum, _CTX.multiply(_CTX.add(points, bonus), course.credits))
        words = f"{points} points x {course.credits} credits" + (
            f", +{bonus} {course.level} bonus" if bonus else ""
        )
        lines.append(GpaLine(grade.course_id, grade.letter, points, course.credits, bonus, True, words))
    rules = policy.gpa
    gpa = weighted = None
    if credits_in > 0:
        gpa = quantize(_CTX.divide(points_sum, credits_in), rules.places, rules.rounding)
        if rules.is_weighted:
            weighted = quantize(_CTX.divide(weighted_sum, credits_in), rules.places, rules.rounding)
    return GpaResult(gpa, weighted, attempted, credits_in, tuple(lines))
