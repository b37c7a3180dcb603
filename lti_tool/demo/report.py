"""A plain-text grade report for a few demo students, computed from the database."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from lti_tool.grading import ClassGrades, final_grades, grade_class
from lti_tool.models import Org, Person, PersonIdentifier, SchoolClass
from lti_tool.policies import policy_from_row, policy_row_for_class
from mappings import Course as CoreCourse
from mappings import GradeStatus, compute_gpa, compute_ncaa, render_explanation

# One improver, one decliner, one steady student and one with sparse evidence (see district.py).
FEATURED_STUDENTS = ("STU0001", "STU0002", "STU0003", "STU0008")


def _person(session: Session, sourced_id: str) -> Person | None:
    return session.scalar(
        select(Person)
        .join(PersonIdentifier)
        .where(PersonIdentifier.value == sourced_id, PersonIdentifier.source == "sis")
    )


def render_demo_report(
    session: Session, school_sourced_id: str, students: Sequence[str] = FEATURED_STUDENTS
) -> str:
    """Period letters, GPA and NCAA figures for the featured students, and one grade explained."""
    school = session.scalar(select(Org).where(Org.sourced_id == school_sourced_id))
    if school is None:
        return f"No school {school_sourced_id!r} in the database; run `mastery-bridge demo load` first."
    classes = session.scalars(
        select(SchoolClass).where(SchoolClass.org_id == school.id).order_by(SchoolClass.id)
    ).all()
    graded: list[ClassGrades] = []
    policy = None
    for school_class in classes:
        row = policy_row_for_class(session, school_class)
        if row is None:
            continue
        policy = policy_from_row(row)
        graded.append(grade_class(session, school_class, policy))
    if policy is None:
        return "No class has a grading policy."
    lines = [f"{school.name}: snapshot grades under {policy.name} {policy.version}", ""]
    courses: dict[str, CoreCourse] = {item.course.course_id: item.course for item in graded}
    explained = None
    for sourced_id in students:
        person = _person(session, sourced_id)
        if person is None:
            continue
        lines.append(f"{sourced_id}")
        for item in graded:
            grades = item.grades.get(person.id)
            if not grades:
                continue
            cells = "  ".join(
                f"{p.period_id} {g.letter:<3}" for p, g in zip(item.periods, grades, strict=True)
            )
            lines.append(f"  {item.course.title:<24} {cells}")
            final = grades[-1]
            if explained is None and final.status is GradeStatus.GRADED and final.evidence_count >= 6:
                explained = (sourced_id, item.course.title, final)
        finals = final_grades(graded, person.id)
        gpa = compute_gpa(finals, courses, policy)
        ncaa = compute_ncaa(finals, courses, policy)
        lines.append(
            f"  GPA {gpa.gpa if gpa.gpa is not None else '-'}  weighted {gpa.weighted_gpa or '-'}  "
            f"NCAA core GPA {ncaa.core_gpa if ncaa.core_gpa is not None else '-'} over {ncaa.core_units} units"
        )
        lines.append("")
    if explained is not None:
        sourced_id, title, grade = explained
        lines.append(f"Why {sourced_id} has {grade.letter} in {title}:")
        lines.append(render_explanation(grade, course_title=title, policy=policy))
    return "\n".join(lines)
