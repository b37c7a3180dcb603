"""What a posting covers: the classes of a school running in a grading period, and their snapshot grades.

Shared by the pre-posting check and the posting itself, so both see the same classes, students and grades.
`load_scope` is a handful of set-based queries; `stream_period_grades` makes one ordered pass over the
current scored evidence up to the period's end and grades each student x class as soon as its rows are
read, so 20,000 students x 6 classes never hold their evidence in memory at once.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from sqlalchemy import Select, exists, or_, select
from sqlalchemy.orm import Session

from lti_tool.lti.roster_sync import LIS_SYSTEM
from lti_tool.models import (
    AcademicSession,
    ClassIndicator,
    ClassSession,
    CompetencyItem,
    Course,
    Enrollment,
    EnrollmentRole,
    GradePosting,
    GradingPolicy,
    IdentifierSource,
    IdentityReview,
    LtiContext,
    Org,
    PersonIdentifier,
    PostedGrade,
    SchoolClass,
    SessionType,
    SisConnection,
)
from lti_tool.policies import DEFAULT_POLICY_NAME, policy_from_row
from lti_tool.registrar.evidence_stream import StudentEvidence, stream_evidence
from mappings import CourseGrade, GradingPeriod, Policy, grade_period, load_shipped_policy
from mappings import Evidence as CoreEvidence


@dataclass(frozen=True, slots=True)
class ScopeClass:
    """One class running in the period: its course, its policy and its active students (person ids)."""

    class_id: int
    sourced_id: str | None
    title: str
    course_code: str
    course_title: str
    policy: Policy
    policy_row_id: int | None  # None: no school policy, the shipped default grades the class
    student_ids: tuple[int, ...]
    lms_only_ids: tuple[int, ...]  # active students the LMS enrolled but the SIS did not (no sourcedId)
    case_identifiers: Mapping[str, str | None]  # indicator code -> CASE identifier
    connection: str | None  # name of the SIS connection its grades go to (None: see `connection_problem`)
    connection_problem: str = ""

    @property
    def has_policy(self) -> bool:
        """True when the school (or the class) chose the policy; False when the shipped default is used."""
        return self.policy_row_id is not None


@dataclass(frozen=True, slots=True)
class OpenReview:
    """An identity review nobody has resolved yet (ids only: the external value may be an email)."""

    review_id: int
    kind: str
    person_id: int | None
    class_id: int | None


@dataclass(frozen=True, slots=True)
class PeriodScope:
    """Everything a check or a posting needs to know before grading."""

    school: Org
    period: AcademicSession
    grading_period: GradingPeriod
    classes: tuple[ScopeClass, ...]
    identifiers: Mapping[
        int, Mapping[str, str]
    ]  # person id -> {system: SIS sourcedId} (system "lis": LMS-reported)
    posting_id: int | None  # the posting already made for this school and period
    has_posted_grades: bool  # posted grades exist for these classes and this period (with or without posting)
    open_reviews: tuple[OpenReview, ...]

    @property
    def is_gradable(self) -> bool:
        """True for a grading period or a credit-bearing term (a school year is neither)."""
        return self.period.type == SessionType.GRADING_PERIOD or self.period.is_credit_bearing

    def sis_id(self, person_id: int, system: str | None = None) -> str | None:
        """A student's SIS sourcedId: the one for `system` (a connection name), else any the SIS sync stored,
        else the one the LMS reported (lis_person_sourcedid)."""
        known = self.identifiers.get(person_id, {})
        if system is not None and system in known:
            return known[system]
        synced = [value for name, value in known.items() if name != LIS_SYSTEM]
        return synced[0] if synced else known.get(LIS_SYSTEM)

    def is_matched(self, person_id: int, scope_class: ScopeClass) -> bool:
        """True when the student has a sourcedId in the SIS the class's grades go to."""
        system = scope_class.connection
        return system is not None and system in self.identifiers.get(person_id, {})


@dataclass(frozen=True, slots=True)
class GradedStudent:
    """One student's snapshot grade in one class, with the database ids of the evidence objects it used."""

    scope_class: ScopeClass
    person_id: int
    grade: CourseGrade
    evidence_ids: Mapping[int, int]  # id() of a mappings Evidence -> evidence row id


def owner_org_ids(school: Org) -> list[int]:
    """The school and, when it has one, its district (calendars and SIS connections may hang off either)."""
    return [school.id] if school.parent_id is None else [school.id, school.parent_id]


def end_of_day(day: object) -> datetime:
    """The first instant after `day` (UTC): evidence demonstrated before it is on or before `day`."""
    return datetime.combine(day, time(0), tzinfo=UTC) + timedelta(days=1)  # type: ignore[arg-type]


def serving_connection(school: Org, connections: Sequence[tuple[str, int | None]]) -> tuple[str | None, str]:
    """The SIS connection a school's grades go to, or why there is none: the school's, else its district's,
    else the only enabled one (the rule of lti_tool.sis.push_facts, so the check predicts the push)."""
    for org_id in owner_org_ids(school):
        names = sorted(name for name, owner in connections if owner == org_id)
        if len(names) == 1:
            return names[0], ""
        if len(names) > 1:
            return None, f"several SIS connections ({', '.join(names)}) serve org {org_id}"
    if len(connections) == 1:
        return connections[0][0], ""
    if not connections:
        return None, "no SIS connection is enabled"
    return (
        None,
        f"no SIS connection is assigned to the school or its district, and {len(connections)} are enabled",
    )


def _scope_class_ids(school: Org, period: AcademicSession) -> Select[int]:
    return (
        select(SchoolClass.id)
        .join(ClassSession, ClassSession.class_id == SchoolClass.id)
        .where(SchoolClass.org_id == school.id, ClassSession.academic_session_id == period.id)
    )


def class_policies(
    session: Session, school: Org, rows: list[tuple[int, int | None]]
) -> dict[int | None, Policy]:
    """Each distinct policy row used by the classes parsed once (key None: the shipped default)."""
    wanted = {policy_id for _, policy_id in rows if policy_id is not None}
    if school.default_policy_id is not None:
        wanted.add(school.default_policy_id)
    parsed: dict[int | None, Policy] = {}
    for row in session.scalars(select(GradingPolicy).where(GradingPolicy.id.in_(sorted(wanted)))):
        parsed[row.id] = policy_from_row(row)
    parsed[None] = load_shipped_policy(DEFAULT_POLICY_NAME)
    return parsed


def load_scope(session: Session, school: Org, period: AcademicSession) -> PeriodScope:
    """The classes of `school` linked to `period` (ClassSession), their policies, students and identities."""
    class_ids = _scope_class_ids(school, period)
    class_rows = session.execute(
        select(
            SchoolClass.id, SchoolClass.sourced_id, SchoolClass.title, SchoolClass.policy_id,
            Course.code, Course.title,
        )
        .join(Course, Course.id == SchoolClass.course_id)
        .where(SchoolClass.id.in_(class_ids))
        .order_by(SchoolClass.id)
    ).all()  # fmt: skip
    policies = class_policies(session, school, [(row[0], row[3]) for row in class_rows])

    students: dict[int, list[int]] = defaultdict(list)
    lms_only: dict[int, list[int]] = defaultdict(list)
    for class_id, person_id, sourced_id in session.execute(
        select(Enrollment.class_id, Enrollment.person_id, Enrollment.sourced_id)
        .where(Enrollment.class_id.in_(class_ids))
        .where(Enrollment.role == EnrollmentRole.STUDENT, Enrollment.is_active.is_(True))
        .order_by(Enrollment.class_id, Enrollment.person_id)
    ):
        students[class_id].append(person_id)
        if sourced_id is None:
            lms_only[class_id].append(person_id)

    case_ids: dict[int, dict[str, str | None]] = defaultdict(dict)
    for class_id, code, case_identifier in session.execute(
        select(ClassIndicator.class_id, CompetencyItem.code, CompetencyItem.case_identifier)
        .join(CompetencyItem, CompetencyItem.id == ClassIndicator.indicator_id)
        .where(ClassIndicator.class_id.in_(class_ids))
    ):
        case_ids[class_id][code] = case_identifier

    connections = session.execute(
        select(SisConnection.name, SisConnection.org_id)
        .where(SisConnection.is_enabled.is_(True))
        .order_by(SisConnection.id)
    ).all()
    connection, connection_problem = serving_connection(school, [(name, org) for name, org in connections])
    classes = []
    for class_id, sourced_id, title, policy_id, course_code, course_title in class_rows:
        row_id = policy_id if policy_id is not None else school.default_policy_id
        classes.append(
            ScopeClass(
                class_id=class_id,
                sourced_id=sourced_id,
                title=title,
                course_code=course_code,
                course_title=course_title,
                policy=policies[row_id],
                policy_row_id=row_id,
                student_ids=tuple(students.get(class_id, ())),
                # A class the SIS never sent (no sourcedId) has nothing to disagree with.
                lms_only_ids=tuple(lms_only.get(class_id, ())) if sourced_id is not None else (),
                case_identifiers=case_ids.get(class_id, {}),
                connection=connection,
                connection_problem=connection_problem,
            )
        )

    student_ids = (
        select(Enrollment.person_id)
        .where(Enrollment.class_id.in_(class_ids))
        .where(Enrollment.role == EnrollmentRole.STUDENT, Enrollment.is_active.is_(True))
    )
    identifiers: dict[int, dict[str, str]] = defaultdict(dict)
    for person_id, system, value in session.execute(
        select(PersonIdentifier.person_id, PersonIdentifier.system, PersonIdentifier.value)
        .where(PersonIdentifier.source == IdentifierSource.SIS, PersonIdentifier.person_id.in_(student_ids))
        .order_by(PersonIdentifier.person_id, PersonIdentifier.id)
    ):
        identifiers[person_id].setdefault(system, value)

    posting_id = session.scalar(
        select(GradePosting.id)
        .where(GradePosting.org_id == school.id, GradePosting.academic_session_id == period.id)
        .order_by(GradePosting.id)
        .limit(1)
    )
    has_posted = session.scalar(
        select(
            exists().where(PostedGrade.academic_session_id == period.id, PostedGrade.class_id.in_(class_ids))
        )
    )
    return PeriodScope(
        school=school,
        period=period,
        grading_period=GradingPeriod(
            period_id=period.sourced_id or str(period.id),
            start=period.start_date,
            end=period.end_date,
            is_credit_bearing=period.is_credit_bearing,
        ),
        classes=tuple(classes),
        identifiers=identifiers,
        posting_id=posting_id,
        has_posted_grades=bool(has_posted),
        open_reviews=_open_reviews(session, school, class_ids, student_ids),
    )


def _open_reviews(
    session: Session, school: Org, class_ids: Select[int], student_ids: Select[int]
) -> tuple[OpenReview, ...]:
    """Open identity reviews about these students or classes, or from the school's SIS connections."""
    connections = select(SisConnection.id).where(
        or_(SisConnection.org_id.in_(owner_org_ids(school)), SisConnection.org_id.is_(None))
    )
    contexts = select(LtiContext.id).where(LtiContext.class_id.in_(class_ids))
    rows = session.execute(
        select(
            IdentityReview.id, IdentityReview.kind,
            IdentityReview.candidate_person_id, IdentityReview.candidate_class_id,
        )
        .where(IdentityReview.resolved_at.is_(None))
        .where(
            or_(
                IdentityReview.candidate_person_id.in_(student_ids),
                IdentityReview.candidate_class_id.in_(class_ids),
                IdentityReview.lti_context_id.in_(contexts),
                IdentityReview.connection_id.in_(connections),
            )
        )
        .order_by(IdentityReview.id)
    ).all()  # fmt: skip
    return tuple(OpenReview(row[0], row[1].value, row[2], row[3]) for row in rows)


def stream_period_grades(session: Session, scope: PeriodScope) -> Iterator[GradedStudent]:
    """The snapshot grade at the period's end of every active student of every class in scope.

    A snapshot uses ALL evidence demonstrated up to the period's end (domain.md: "a quarter grade is a
    snapshot ... using all evidence so far"; the final period therefore uses everything to the end).
    Students without evidence get the policy's insufficient-evidence grade, never an F.
    Classes come in id order, students in person-id order.
    """
    groups = stream_evidence(
        session,
        [item.class_id for item in scope.classes],
        before=end_of_day(scope.period.end_date),
        course_codes={item.class_id: item.course_code for item in scope.classes},
    )
    return grade_students(scope.classes, groups, scope.grading_period)


def grade_students(
    classes: Sequence[ScopeClass], groups: Iterator[StudentEvidence], period: GradingPeriod
) -> Iterator[GradedStudent]:
    """Grade every active student of `classes` (in the order given) from `groups`, the students' evidence in
    class and student order (`stream_evidence`); evidence of anyone not actively enrolled is skipped."""
    pending = next(groups, None)
    for scope_class in classes:
        course = scope_class.course_code
        for person_id in scope_class.student_ids:
            key = (scope_class.class_id, person_id)
            # Skip evidence of students with no active enrollment: they are not graded.
            while pending is not None and (pending.class_id, pending.student_id) < key:
                pending = next(groups, None)
            items: list[CoreEvidence] = []
            evidence_ids: dict[int, int] = {}
            if pending is not None and (pending.class_id, pending.student_id) == key:
                items, evidence_ids = pending.evidence, pending.evidence_ids
                pending = next(groups, None)
            grade = grade_period(
                scope_class.policy, items, period, student_id=str(person_id), course_id=course
            )
            yield GradedStudent(scope_class, person_id, grade, evidence_ids)
