"""Grade classes from the database: current evidence -> mappings core -> snapshot grades per period."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import groupby
from operator import itemgetter

from sqlalchemy import exists, select
from sqlalchemy.orm import Session, aliased

from lti_tool.models import (
    AcademicSession,
    ClassSession,
    CompetencyItem,
    Course,
    Enrollment,
    EnrollmentRole,
    SchoolClass,
    ScoreStatus,
    SessionType,
    Task,
    current_evidence_query,
)
from lti_tool.models import Evidence as EvidenceRow
from mappings import Course as CoreCourse
from mappings import (
    CourseGrade,
    CourseLevel,
    Evidence,
    EvidenceKind,
    GradingPeriod,
    NcaaArea,
    Policy,
    grade_periods,
)


@dataclass(frozen=True, slots=True)
class ClassGrades:
    """Every enrolled student's snapshot grade for each of a class's grading periods."""

    school_class: SchoolClass
    course: CoreCourse
    periods: tuple[GradingPeriod, ...]
    grades: dict[int, tuple[CourseGrade, ...]]  # person id -> one grade per period, in period order


def core_course(course: Course) -> CoreCourse:
    """The mappings view of a course row."""
    return CoreCourse(
        course_id=course.code,
        title=course.title,
        credits=course.credits,
        level=CourseLevel(course.level.value),
        is_ncaa_core=course.is_ncaa_core,
        ncaa_area=NcaaArea(course.ncaa_area.value) if course.ncaa_area else None,
    )


def class_periods(session: Session, class_id: int) -> tuple[GradingPeriod, ...]:
    """The class's grading periods (and credit-bearing terms), ordered by end date."""
    return school_class_periods(session, [class_id]).get(class_id, ())


def class_evidence(
    session: Session, school_class: SchoolClass, course_code: str
) -> dict[int, list[Evidence]]:
    """Current scored evidence of a class as mappings records, per student (person id).

    Not-yet-demonstrated, missing and excused entries carry no score and never become a zero.
    Only the columns the core needs are selected: building an ORM object per row cost 4x the rest of the
    mastery grid (benchmarks/pages.py).
    """
    query = (
        current_evidence_query(class_id=school_class.id)
        .where(EvidenceRow.score_status == ScoreStatus.SCORED)
        .with_only_columns(
            EvidenceRow.student_id,
            EvidenceRow.level_value,
            EvidenceRow.demonstrated_at,
            EvidenceRow.kind,
            CompetencyItem.code,
            Task.title,
            maintain_column_froms=True,
        )
        .join(CompetencyItem, CompetencyItem.id == EvidenceRow.indicator_id)
        .outerjoin(Task, Task.id == EvidenceRow.task_id)
    )
    kinds = {kind.value: kind for kind in EvidenceKind}
    by_student: dict[int, list[Evidence]] = defaultdict(list)
    for student_id, level_value, demonstrated_at, kind, indicator_code, task_title in session.execute(query):
        if level_value is None:  # impossible for scored rows (CHECK constraint); keeps mypy honest
            continue
        by_student[student_id].append(
            Evidence(
                student_id=str(student_id),
                course_id=course_code,
                indicator_id=indicator_code,
                score=level_value,
                demonstrated_on=demonstrated_at.date(),
                kind=kinds[kind.value],
                task=task_title,
            )
        )
    return by_student


def grade_class(session: Session, school_class: SchoolClass, policy: Policy) -> ClassGrades:
    """Snapshot grades for every active student of the class at each of its grading periods."""
    course = session.get(Course, school_class.course_id)
    if course is None:  # pragma: no cover - the foreign key makes this impossible
        raise LookupError(f"class {school_class.id} names a missing course")
    periods = class_periods(session, school_class.id)
    evidence = class_evidence(session, school_class, course.code)
    students = session.scalars(
        select(Enrollment.person_id)
        .where(Enrollment.class_id == school_class.id)
        .where(Enrollment.role == EnrollmentRole.STUDENT, Enrollment.is_active.is_(True))
        .order_by(Enrollment.person_id)
    ).all()
    grades = {
        person_id: grade_periods(
            policy, evidence.get(person_id, []), periods, student_id=str(person_id), course_id=course.code
        )
        for person_id in students
    }
    return ClassGrades(school_class=school_class, course=core_course(course), periods=periods, grades=grades)


def final_grades(class_grades: Sequence[ClassGrades], person_id: int) -> list[CourseGrade]:
    """A student's credit-bearing grades across classes (the ones GPA counts)."""
    finals = []
    for item in class_grades:
        if person_id not in item.grades:
            continue
        for period, grade in zip(item.periods, item.grades[person_id], strict=True):
            if period.is_credit_bearing:
                finals.append(grade)
    return finals


@dataclass(frozen=True, slots=True)
class StudentClassGrades:
    """One student's snapshot grades in one class, one per grading period (in period order)."""

    class_id: int
    student_id: int
    periods: tuple[GradingPeriod, ...]
    grades: tuple[CourseGrade, ...]


def school_class_periods(
    session: Session, class_ids: Sequence[int] | None = None
) -> dict[int, tuple[GradingPeriod, ...]]:
    """Grading periods (and credit-bearing terms) of many classes in one query, ordered by end date."""
    query = (
        select(ClassSession.class_id, AcademicSession)
        .join(AcademicSession, ClassSession.academic_session_id == AcademicSession.id)
        .where(
            (AcademicSession.type == SessionType.GRADING_PERIOD) | AcademicSession.is_credit_bearing.is_(True)
        )
        .order_by(
            ClassSession.class_id,
            AcademicSession.end_date,
            AcademicSession.is_credit_bearing,
            AcademicSession.id,
        )
    )
    if class_ids is not None:
        query = query.where(ClassSession.class_id.in_(class_ids))
    periods: dict[int, list[GradingPeriod]] = defaultdict(list)
    for class_id, row in session.execute(query):
        periods[class_id].append(
            GradingPeriod(
                period_id=row.sourced_id or str(row.id),
                start=row.start_date,
                end=row.end_date,
                is_credit_bearing=row.is_credit_bearing,
            )
        )
    return {class_id: tuple(items) for class_id, items in periods.items()}


def stream_class_grades(
    session: Session,
    policy: Policy,
    *,
    class_ids: Sequence[int] | None = None,
    batch_size: int = 20_000,
) -> Iterator[StudentClassGrades]:
    """Grade every student with evidence in the given classes (default: all), streaming the evidence.

    One ordered pass over current scored evidence (the order of the `ix_evidence_timeline` index, so the
    database streams it without sorting); each student x class is graded as soon as its rows are read.
    Tasks are not joined: explanations for stored grades are produced per class by `grade_class`.
    """
    indicator_codes: dict[int, str] = dict(
        session.execute(select(CompetencyItem.id, CompetencyItem.code)).all()
    )
    course_codes: dict[int, str] = dict(
        session.execute(
            select(SchoolClass.id, Course.code).join(Course, Course.id == SchoolClass.course_id)
        ).all()
    )
    periods = school_class_periods(session, class_ids)
    correction = aliased(EvidenceRow)
    query = (
        select(
            EvidenceRow.class_id,
            EvidenceRow.student_id,
            EvidenceRow.indicator_id,
            EvidenceRow.level_value,
            EvidenceRow.demonstrated_at,
            EvidenceRow.kind,
        )
        .where(EvidenceRow.score_status == ScoreStatus.SCORED)
        .where(~exists().where(correction.supersedes_id == EvidenceRow.id))
        .order_by(
            EvidenceRow.class_id,
            EvidenceRow.student_id,
            EvidenceRow.indicator_id,
            EvidenceRow.demonstrated_at,
        )
        .execution_options(yield_per=batch_size)
    )
    if class_ids is not None:
        query = query.where(EvidenceRow.class_id.in_(class_ids))
    kinds = {kind.value: EvidenceKind(kind.value) for kind in EvidenceKind}
    rows = session.execute(query)
    for (class_id, student_id), group in groupby(rows, key=itemgetter(0, 1)):
        course_code = course_codes[class_id]
        student = str(student_id)
        evidence = [
            Evidence(student, course_code, indicator_codes[indicator_id], value, shown_at.date(), kinds[kind])
            for _, _, indicator_id, value, shown_at, kind in group
            if value is not None
        ]
        class_periods_ = periods.get(class_id, ())
        yield StudentClassGrades(
            class_id=class_id,
            student_id=student_id,
            periods=class_periods_,
            grades=grade_periods(policy, evidence, class_periods_, student_id=student, course_id=course_code),
        )
