"""Read posted grades for pages, the CLI and exports: current grades with their amendment status, postings.

Every view carries `is_amendment` (the current grade is an amendment of the posted one) and the size of its
chain, so a report can show an amended grade as an amendment, never as if it had been posted that way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from lti_tool.lti.roster_sync import LIS_SYSTEM
from lti_tool.models import (
    AcademicSession,
    GradePosting,
    IdentifierSource,
    Org,
    PersonIdentifier,
    PostedGrade,
    PostedGradeStatus,
    SchoolClass,
    current_posted_grades_query,
)
from lti_tool.registrar.lookup import gradable_periods


@dataclass(frozen=True, slots=True)
class PostedGradeView:
    """A current posted grade (after every amendment), without its provenance."""

    posted_grade_id: int
    student_id: int
    sis_id: str | None
    class_id: int
    academic_session_id: int
    letter: str | None
    course_value: Decimal | None
    grade_points: Decimal | None
    status: PostedGradeStatus
    posted_at: datetime | None
    posted_by: str | None
    amendment_of_id: int | None
    amendment_reason: str | None
    amendment_count: int
    original_letter: str | None

    @property
    def is_amendment(self) -> bool:
        """True when the grade in force is an amendment of the posted one."""
        return self.amendment_of_id is not None


def sis_ids_of(session: Session, person_ids: Sequence[int]) -> dict[int, str]:
    """person id -> SIS sourcedId (one the SIS sync matched first, else the one the LMS reported)."""
    found: dict[int, str] = {}
    reported: dict[int, str] = {}
    ids = sorted(set(person_ids))
    for start in range(0, len(ids), 1000):
        for person_id, system, value in session.execute(
            select(PersonIdentifier.person_id, PersonIdentifier.system, PersonIdentifier.value)
            .where(
                PersonIdentifier.source == IdentifierSource.SIS,
                PersonIdentifier.person_id.in_(ids[start : start + 1000]),
            )
            .order_by(PersonIdentifier.id)
        ):
            (reported if system == LIS_SYSTEM else found).setdefault(person_id, value)
    return {**reported, **found}


def current_grade_views(
    session: Session, *, academic_session_id: int, org_id: int | None = None, class_id: int | None = None
) -> list[PostedGradeView]:
    """Current posted grades of a period (for one school or one class), by class then student."""
    current = current_posted_grades_query(class_id=class_id, academic_session_id=academic_session_id)
    query = current.with_only_columns(
        PostedGrade.id, PostedGrade.student_id, PostedGrade.class_id, PostedGrade.academic_session_id,
        PostedGrade.letter, PostedGrade.course_value, PostedGrade.grade_points, PostedGrade.status,
        PostedGrade.posted_at, PostedGrade.posted_by, PostedGrade.amendment_of_id, PostedGrade.amendment_reason,
        maintain_column_froms=True,
    )  # fmt: skip
    chains = (
        select(PostedGrade.student_id, PostedGrade.class_id, func.count().label("rows"))
        .where(PostedGrade.academic_session_id == academic_session_id)
        .group_by(PostedGrade.student_id, PostedGrade.class_id)
    )
    originals = select(PostedGrade.student_id, PostedGrade.class_id, PostedGrade.letter).where(
        PostedGrade.academic_session_id == academic_session_id, PostedGrade.amendment_of_id.is_(None)
    )
    if org_id is not None:
        in_school = select(SchoolClass.id).where(SchoolClass.org_id == org_id)
        query = query.where(PostedGrade.class_id.in_(in_school))
        chains = chains.where(PostedGrade.class_id.in_(in_school))
        originals = originals.where(PostedGrade.class_id.in_(in_school))
    if class_id is not None:
        chains = chains.where(PostedGrade.class_id == class_id)
        originals = originals.where(PostedGrade.class_id == class_id)
    rows = session.execute(query).all()
    counts = {(student, klass): count for student, klass, count in session.execute(chains)}
    first = {(student, klass): letter for student, klass, letter in session.execute(originals)}
    sis = sis_ids_of(session, [row[1] for row in rows])
    return [
        PostedGradeView(
            posted_grade_id=row[0], student_id=row[1], sis_id=sis.get(row[1]), class_id=row[2],
            academic_session_id=row[3], letter=row[4], course_value=row[5], grade_points=row[6], status=row[7],
            posted_at=row[8], posted_by=row[9], amendment_of_id=row[10], amendment_reason=row[11],
            amendment_count=counts.get((row[1], row[2]), 1) - 1, original_letter=first.get((row[1], row[2])),
        )
        for row in rows
    ]  # fmt: skip


@dataclass(frozen=True, slots=True)
class PeriodStatus:
    """A gradable period of a school and its posting, if any."""

    period: AcademicSession
    posting: GradePosting | None

    @property
    def is_posted(self) -> bool:
        """True once the period is posted."""
        return self.posting is not None


def period_statuses(session: Session, school: Org) -> list[PeriodStatus]:
    """Every gradable period of the school with its posting (oldest end date first)."""
    periods = gradable_periods(session, school)
    postings = {
        posting.academic_session_id: posting
        for posting in session.scalars(
            select(GradePosting).where(GradePosting.org_id == school.id).order_by(GradePosting.id.desc())
        )
    }
    return [PeriodStatus(period, postings.get(period.id)) for period in periods]


@dataclass(frozen=True, slots=True)
class ClassPostingSummary:
    """One class's posted grades in a period: how many, how many amended, how many insufficient."""

    class_id: int
    sourced_id: str | None
    title: str
    grades: int
    amended: int
    insufficient: int


def class_summaries(session: Session, *, org_id: int, academic_session_id: int) -> list[ClassPostingSummary]:
    """Per class of the school, its current posted grades in the period (one grouped query), by title."""
    current = current_posted_grades_query(academic_session_id=academic_session_id).order_by(None).subquery()
    rows = session.execute(
        select(
            SchoolClass.id, SchoolClass.sourced_id, SchoolClass.title, func.count(),
            func.count(current.c.amendment_of_id),
            func.sum(case((current.c.status == PostedGradeStatus.INSUFFICIENT_EVIDENCE.value, 1), else_=0)),
        )
        .join(current, current.c.class_id == SchoolClass.id)
        .where(SchoolClass.org_id == org_id)
        .group_by(SchoolClass.id, SchoolClass.sourced_id, SchoolClass.title)
    ).all()  # fmt: skip
    summaries = [
        ClassPostingSummary(class_id, sourced_id, title, grades, amended, int(insufficient or 0))
        for class_id, sourced_id, title, grades, amended, insufficient in rows
    ]
    return sorted(summaries, key=lambda item: (item.title.casefold(), item.class_id))
