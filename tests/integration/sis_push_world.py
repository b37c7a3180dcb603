"""A small district for grade-push tests: a school with classes, students with SIS ids, a period, posted grades.

Every sourcedId carries a random tag, so several worlds live in one database (module-scoped databases in
the push and worker tests). Posted grades are created directly (the registrar's posting is not needed).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, make_url, select
from sqlalchemy.orm import Session, sessionmaker

from lti_tool.db import make_engine, make_session_factory, upgrade_database
from lti_tool.models import (
    AcademicSession,
    AssessmentKind,
    ClassIndicator,
    ClassSession,
    CompetencyItem,
    CompetencyKind,
    Course,
    Enrollment,
    EnrollmentRole,
    Evidence,
    EvidenceSource,
    Framework,
    FrameworkSource,
    IdentifierSource,
    Org,
    OrgType,
    OutboxMessage,
    Person,
    PersonIdentifier,
    PostedGrade,
    PostedGradeStatus,
    ScoreStatus,
    SessionType,
    SisConnection,
)
from lti_tool.policies import DEFAULT_POLICY_NAME, shipped_policy_document, store_policy
from lti_tool.sis.connection import create_connection
from lti_tool.sis.outbox import payload_body

SECRET_KEY = "grade-push-tests-secret-key"
CLIENT_ID = "district-client"
CLIENT_SECRET = "s3cret&key=+/"  # the fake's default test credential
POSTED_AT = datetime(2026, 11, 2, 15, 0, tzinfo=UTC)
LETTERS = (("A", "3.50"), ("B+", "3.00"), ("B", "2.70"), ("C", "2.10"), ("A-", "3.25"))


@dataclass
class World:
    """Ids of what `build_world` made."""

    tag: str
    connection_id: int
    connection_name: str
    school_id: int
    period_id: int
    period_sid: str
    policy_id: int
    class_ids: list[int]
    class_sids: dict[int, str]
    student_ids: list[int]
    student_sids: dict[int, str]
    indicator_ids: list[int]
    case_ids: dict[str, str]  # indicator code -> CASE identifier
    enrollments: dict[int, list[int]] = field(default_factory=dict)  # class id -> student ids


def build_world(
    session: Session,
    *,
    base_url: str = "https://sis.riverbend.example/district-x/api",
    token_url: str | None = "https://sis.riverbend.example/district-x/api/token",
    profile: str = "generic-1.2",
    version: str = "1.2",
    auth: str = "oauth2",
    classes: int = 1,
    students: int = 3,
    students_without_sis_id: int = 0,
    connection_org: bool = True,
) -> World:
    """A district, a school with `classes` classes of `students` each, a Q1 period and an SIS connection."""
    tag = uuid.uuid4().hex[:10]
    district = Org(sourced_id=f"district-{tag}", name=f"District {tag}", type=OrgType.DISTRICT)
    session.add(district)
    session.flush()
    school = Org(sourced_id=f"school-{tag}", name=f"School {tag}", type=OrgType.SCHOOL, parent_id=district.id)
    session.add(school)
    session.flush()
    year = AcademicSession(
        sourced_id=f"year-{tag}", org_id=school.id, title="2026-27", type=SessionType.SCHOOL_YEAR,
        start_date=date(2026, 8, 20), end_date=date(2027, 6, 10),
    )  # fmt: skip
    session.add(year)
    session.flush()
    period = AcademicSession(
        sourced_id=f"q1-{tag}", org_id=school.id, title="Q1", type=SessionType.GRADING_PERIOD,
        parent_id=year.id, start_date=date(2026, 8, 20), end_date=date(2026, 10, 30),
    )  # fmt: skip
    session.add(period)
    policy = store_policy(session, shipped_policy_document(DEFAULT_POLICY_NAME), source=DEFAULT_POLICY_NAME)
    framework = Framework(title=f"Math {tag}", source=FrameworkSource.CASE, case_identifier=str(uuid.uuid4()))
    session.add(framework)
    session.flush()
    indicators = []
    case_ids: dict[str, str] = {}
    for number in (1, 2):
        code = f"M.{number}"
        case_id = str(uuid.uuid4())
        item = CompetencyItem(
            framework_id=framework.id, kind=CompetencyKind.PERFORMANCE_INDICATOR, code=code,
            statement=f"Indicator {number}", case_identifier=case_id, sequence=number,
        )  # fmt: skip
        session.add(item)
        indicators.append(item)
        case_ids[code] = case_id
    connection = create_connection(
        session,
        name=f"sis-{tag}",
        profile=profile,
        base_url=base_url,
        version=version,
        auth=auth,
        client_id=CLIENT_ID,
        secret=CLIENT_SECRET,
        secret_key=SECRET_KEY,
        settings={"token_url": token_url} if auth == "oauth2" else {},
        org=school.id if connection_org else None,
    )
    session.flush()
    world = World(
        tag=tag, connection_id=connection.id, connection_name=connection.name, school_id=school.id,
        period_id=period.id, period_sid=f"q1-{tag}", policy_id=policy.id, class_ids=[], class_sids={},
        student_ids=[], student_sids={}, indicator_ids=[i.id for i in indicators], case_ids=case_ids,
    )  # fmt: skip
    teacher = Person(given_name="Teacher", family_name=tag)
    session.add(teacher)
    session.flush()
    session.add(
        PersonIdentifier(person_id=teacher.id, source=IdentifierSource.SIS, system=connection.name,
                         value=f"teacher-{tag}")
    )  # fmt: skip
    for class_number in range(classes):
        course = Course(
            sourced_id=f"course-{tag}-{class_number}", org_id=school.id, code=f"ALG{class_number}-{tag}",
            title=f"Algebra {class_number + 1}", credits=Decimal("1"),
        )  # fmt: skip
        session.add(course)
        session.flush()
        school_class = _add_class(session, world, course, school.id, class_number)
        session.add(ClassSession(class_id=school_class.id, academic_session_id=period.id))
        for item in indicators:
            session.add(ClassIndicator(class_id=school_class.id, indicator_id=item.id))
        session.add(Enrollment(class_id=school_class.id, person_id=teacher.id, role=EnrollmentRole.TEACHER))
        world.enrollments[school_class.id] = []
        for number in range(students):
            person = Person(given_name="Student", family_name=f"{tag}-{class_number}-{number}")
            session.add(person)
            session.flush()
            world.student_ids.append(person.id)
            world.enrollments[school_class.id].append(person.id)
            session.add(
                Enrollment(class_id=school_class.id, person_id=person.id, role=EnrollmentRole.STUDENT)
            )
            if number < students - students_without_sis_id:
                sid = f"stu-{tag}-{class_number}-{number}"
                world.student_sids[person.id] = sid
                session.add(
                    PersonIdentifier(person_id=person.id, source=IdentifierSource.SIS, system=connection.name,
                                     value=sid)
                )  # fmt: skip
    session.flush()
    return world


def _add_class(session: Session, world: World, course: Course, school_id: int, number: int) -> object:
    from lti_tool.models import SchoolClass

    school_class = SchoolClass(
        sourced_id=f"class-{world.tag}-{number}", course_id=course.id, org_id=school_id,
        title=f"{course.title} section {number + 1}",
    )  # fmt: skip
    session.add(school_class)
    session.flush()
    world.class_ids.append(school_class.id)
    world.class_sids[school_class.id] = school_class.sourced_id or ""
    return school_class


def provenance_for(world: World, proficiencies: Sequence[str | None]) -> dict[str, object]:
    """A provenance document in the shape lti_tool.registrar.posting stores."""
    return {
        "policy": {"name": DEFAULT_POLICY_NAME},
        "indicators": [
            {"code": code, "case_identifier": world.case_ids[code], "proficiency": value, "evidence_ids": []}
            for code, value in zip(sorted(world.case_ids), proficiencies, strict=False)
        ],
    }


def post_grades(
    session: Session, world: World, *, with_provenance: bool = True, posted_at: datetime = POSTED_AT
) -> list[PostedGrade]:
    """One posted grade per enrolled student (letters cycle through LETTERS)."""
    rows: list[PostedGrade] = []
    index = 0
    for class_id in world.class_ids:
        for student_id in world.enrollments[class_id]:
            letter, value = LETTERS[index % len(LETTERS)]
            index += 1
            rows.append(
                PostedGrade(
                    student_id=student_id,
                    class_id=class_id,
                    academic_session_id=world.period_id,
                    policy_id=world.policy_id,
                    course_value=Decimal(value),
                    letter=letter,
                    grade_points=Decimal("3.0"),
                    status=PostedGradeStatus.GRADED,
                    evidence_count=2,
                    provenance=provenance_for(world, [value, "2.50"]) if with_provenance else {},
                    computed_at=posted_at,
                    posted_at=posted_at,
                    posted_by="registrar",
                    is_locked=True,
                )
            )
    session.add_all(rows)
    session.flush()
    return rows


def amend(session: Session, grade: PostedGrade, *, letter: str, value: str, at: datetime) -> PostedGrade:
    """An amendment row for `grade` (a new row in its chain)."""
    row = PostedGrade(
        student_id=grade.student_id, class_id=grade.class_id, academic_session_id=grade.academic_session_id,
        policy_id=grade.policy_id, course_value=Decimal(value), letter=letter, grade_points=grade.grade_points,
        status=grade.status, evidence_count=grade.evidence_count, provenance=grade.provenance,
        computed_at=at, posted_at=at, posted_by="registrar", is_locked=True, amendment_of_id=grade.id,
        amendment_reason="late work scored",
    )  # fmt: skip
    session.add(row)
    session.flush()
    return row


def add_evidence(
    session: Session, *, student_id: int, class_id: int, indicator_id: int, level: str, on: date
) -> None:
    """One scored demonstration."""
    session.add(
        Evidence(
            student_id=student_id,
            class_id=class_id,
            indicator_id=indicator_id,
            score_status=ScoreStatus.SCORED,
            level_value=Decimal(level),
            demonstrated_at=datetime(on.year, on.month, on.day, 12, tzinfo=UTC),
            kind=AssessmentKind.SUMMATIVE,
            source=EvidenceSource.IMPORT,
        )
    )
    session.flush()


def messages(session: Session, connection_id: int) -> list[OutboxMessage]:
    """The connection's outbox messages, oldest first."""
    return list(
        session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.connection_id == connection_id)
            .order_by(OutboxMessage.id)
        )
    )


def body_of(session: Session, row: OutboxMessage) -> dict[str, Any]:
    """The body the worker PUTs for an outbox message (built from its record, as when it is sent)."""
    connection = session.get(SisConnection, row.connection_id)
    assert connection is not None
    return payload_body(connection, row.payload)


def outbox_count(session: Session, connection_id: int | None = None) -> int:
    """How many outbox messages (of one connection) exist."""
    query = select(func.count()).select_from(OutboxMessage)
    if connection_id is not None:
        query = query.where(OutboxMessage.connection_id == connection_id)
    return session.scalar(query) or 0


@pytest.fixture(scope="module")
def committed_url(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A migrated database for tests whose code commits (the worker): a file on SQLite, a schema on PostgreSQL."""
    sa_url = make_url(database_url)
    if sa_url.get_backend_name() == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('push') / 'push.db'}"
        upgrade_database(url)
        yield url
        Path(url.removeprefix("sqlite:///")).unlink(missing_ok=True)
        return
    schema = f"test_push_{uuid.uuid4().hex[:10]}"
    admin = make_engine(database_url)
    try:
        with admin.begin() as connection:
            connection.exec_driver_sql(f"CREATE SCHEMA {schema}")
        url = sa_url.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(
            hide_password=False
        )
        upgrade_database(url)
        yield url
        with admin.begin() as connection:
            connection.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
    finally:
        admin.dispose()


@pytest.fixture(scope="module")
def committed_engine(committed_url: str) -> Iterator[Engine]:
    """An engine on `committed_url`."""
    engine = make_engine(committed_url)
    yield engine
    engine.dispose()


@pytest.fixture
def factory(committed_engine: Engine) -> sessionmaker[Session]:
    """The session factory the worker uses (it commits its own short transactions)."""
    return make_session_factory(committed_engine)
