"""Views over an export dataset shared by the renderers: period order, final grades, GPA and NCAA figures.

GPA and NCAA figures come from the mappings core (`compute_gpa`, `compute_ncaa`) over the credit-bearing
(final) posted grades; nothing here re-implements them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from connectors.exports.records import ExportDataset, ExportGrade, ExportSession, ScaleLevel
from mappings import (
    Course,
    CourseGrade,
    GpaResult,
    NcaaResult,
    compute_gpa,
    compute_ncaa,
)

__all__ = [
    "StudentFigures",
    "core_grade",
    "final_grades",
    "grades_by_student",
    "level_label",
    "period_sort_key",
    "student_figures",
    "student_gpa",
]


def period_sort_key(session: ExportSession) -> tuple[object, ...]:
    """Order periods as report cards read them: by end date, a final after the quarter it closes with."""
    return (session.end, session.is_credit_bearing, session.start, session.key)


def grades_by_student(grades: Iterable[ExportGrade]) -> dict[str, list[ExportGrade]]:
    """Grades grouped per student key (insertion order kept)."""
    grouped: dict[str, list[ExportGrade]] = defaultdict(list)
    for grade in grades:
        grouped[grade.student_key].append(grade)
    return grouped


def core_grade(dataset: ExportDataset, grade: ExportGrade) -> CourseGrade:
    """The mappings view of a posted grade (what compute_gpa / compute_ncaa read)."""
    return CourseGrade(
        student_id=grade.student_key,
        course_id=dataset.course_of(grade).code,
        period_id=grade.period_key,
        status=grade.status,
        course_value=grade.course_value,
        letter=grade.letter,
        grade_points=grade.grade_points,
        evidence_count=grade.evidence_count,
        indicators=(),
        rule="",
        cut_row=None,
        policy_name=grade.policy_name,
        policy_version=grade.policy_version,
        method="",
        method_params=(),
        percent=grade.percent,
    )


def final_grades(dataset: ExportDataset, grades: Sequence[ExportGrade]) -> list[ExportGrade]:
    """The credit-bearing grades among `grades`, one per class (the latest credit-bearing period wins)."""
    latest: dict[str, ExportGrade] = {}
    for grade in grades:
        period = dataset.sessions[grade.period_key]
        if not period.is_credit_bearing:
            continue
        held = latest.get(grade.class_key)
        if held is None or period_sort_key(period) > period_sort_key(dataset.sessions[held.period_key]):
            latest[grade.class_key] = grade
    return [latest[key] for key in sorted(latest)]


@dataclass(frozen=True, slots=True)
class StudentFigures:
    """A student's GPA and NCAA figures over the final grades posted so far."""

    finals: tuple[ExportGrade, ...]
    gpa: GpaResult
    ncaa: NcaaResult


def student_figures(dataset: ExportDataset, grades: Sequence[ExportGrade]) -> StudentFigures:
    """GPA (and weighted GPA when the school weights) and NCAA figures for one student's grades."""
    finals = final_grades(dataset, grades)
    courses: Mapping[str, Course] = {code: item.course for code, item in dataset.courses.items()}
    core = [core_grade(dataset, grade) for grade in finals]
    policy = dataset.school.policy
    return StudentFigures(
        tuple(finals), compute_gpa(core, courses, policy), compute_ncaa(core, courses, policy)
    )


def student_gpa(
    dataset: ExportDataset, grades: Sequence[ExportGrade], courses: Mapping[str, Course] | None = None
) -> tuple[list[ExportGrade], GpaResult]:
    """The final grades among one student's `grades` and the GPA over them, as in `student_figures`
    without the NCAA figures (transcripts print only the GPA; NCAA was 90% of their figures' time).

    `courses` is the dataset's catalogue by course code; pass it when calling per student of a school.
    """
    finals = final_grades(dataset, grades)
    if courses is None:
        courses = {code: item.course for code, item in dataset.courses.items()}
    core = [core_grade(dataset, grade) for grade in finals]
    return finals, compute_gpa(core, courses, dataset.school.policy)


def level_label(value: Decimal | None, levels: Sequence[ScaleLevel]) -> str:
    """The name of the highest scale level at or below `value` ("below <lowest>" under it; "" for None)."""
    if value is None:
        return ""
    found = None
    for level in levels:
        if value >= level.value:
            found = level.label
    if found is None:
        return f"below {levels[0].label}" if levels else ""
    return found
