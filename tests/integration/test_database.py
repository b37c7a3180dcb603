"""The migrated database: drift, constraints, append-only evidence, supersession, isolation, concurrency."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import exc, inspect, select, text, update
from sqlalchemy.orm import Session

from lti_tool.db import (
    alembic_config,
    check_database,
    database_revision,
    make_engine,
    make_session_factory,
    upgrade_database,
)
from lti_tool.models import (
    AcademicSession,
    AppendOnlyError,
    AssessmentKind,
    CompetencyItem,
    CompetencyKind,
    Course,
    Evidence,
    EvidenceSource,
    Framework,
    FrameworkSource,
    GradingPolicy,
    LtiRegistration,
    Org,
    OrgType,
    Person,
    PostedGrade,
    PostedGradeStatus,
    RegistrationSource,
    SchoolClass,
    ScoreStatus,
    SessionType,
    select_current_evidence,
    select_current_posted_grades,
)

T0 = datetime(2025, 9, 1, 8, 0, tzinfo=UTC)


@dataclass(frozen=True)
class School:
    """Ids of a minimal school: one class, two students, one indicator, one grading period."""

    class_id: int
    student_id: int
    other_student_id: int
    indicator_id: int
    grading_period_id: int


def build_school(session: Session) -> School:
    """Insert a minimal school and flush; the caller owns the transaction."""
    org = Org(name="Test High", type=OrgType.SCHOOL)
    session.add(org)
    session.flush()
    course = Course(org_id=org.id, code="ALG1", title="Algebra 1", credits=Decimal("1.00"))
    period = AcademicSession(
        org_id=org.id,
        title="Q1",
        type=SessionType.GRADING_PERIOD,
        start_date=date(2025, 9, 1),
        end_date=date(2025, 11, 1),
    )
    framework = Framework(title="Math", source=FrameworkSource.MANUAL)
    student = Person(given_name="Ada", family_name="Student")
    other = Person(given_name="Bo", family_name="Student")
    session.add_all([course, period, framework, student, other])
    session.flush()
    school_class = SchoolClass(course_id=course.id, org_id=org.id, title="Algebra 1 (1)")
    indicator = CompetencyItem(
        framework_id=framework.id,
        kind=CompetencyKind.PERFORMANCE_INDICATOR,
        code="M.1",
        statement="Solve linear equations",
    )
    session.add_all([school_class, indicator])
    session.flush()
    return School(school_class.id, student.id, other.id, indicator.id, period.id)


def make_evidence(school: School, **overrides: object) -> Evidence:
    """A scored formative demonstration by the school's student, with fields overridable."""
    fields: dict[str, object] = {
        "student_id": school.student_id,
        "class_id": school.class_id,
        "indicator_id": school.indicator_id,
        "score_status": ScoreStatus.SCORED,
        "level_value": Decimal("2.00"),
        "demonstrated_at": T0,
        "kind": AssessmentKind.FORMATIVE,
        "source": EvidenceSource.DEMO,
    }
    fields.update(overrides)
    return Evidence(**fields)


@pytest.fixture
def school(db_session: Session) -> School:
    return build_school(db_session)


# -- migrations ---------------------------------------------------------------------------------------


def test_upgrade_from_empty_reaches_head_and_downgrades_to_nothing(empty_database_url: str) -> None:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert database_revision(empty_database_url) is None

    assert upgrade_database(empty_database_url) == head
    assert database_revision(empty_database_url) == head
    check_database(empty_database_url)

    engine = make_engine(empty_database_url)
    try:
        with engine.begin() as connection:
            command.downgrade(alembic_config(connection), "base")
        with engine.connect() as connection:
            assert set(inspect(connection).get_table_names()) <= {"alembic_version"}
    finally:
        engine.dispose()
    assert database_revision(empty_database_url) is None


def test_models_and_migrations_agree(engine: object, database_url: str) -> None:
    """`alembic check`: autogenerate finds nothing to add, on SQLite and on PostgreSQL."""
    check_database(database_url)


# -- constraints --------------------------------------------------------------------------------------


def test_foreign_keys_are_enforced(db_session: Session) -> None:
    db_session.add(SchoolClass(course_id=999_999, org_id=999_999, title="Nowhere"))
    with pytest.raises(exc.IntegrityError):
        db_session.flush()
    db_session.rollback()


def test_registration_is_unique_per_issuer_and_client_id(db_session: Session) -> None:
    def registration(issuer: str, client_id: str) -> LtiRegistration:
        return LtiRegistration(
            issuer=issuer,
            client_id=client_id,
            name="Canvas",
            auth_login_url=f"{issuer}/login",
            auth_token_url=f"{issuer}/token",
            key_set_url=f"{issuer}/jwks",
            source=RegistrationSource.CLI,
        )

    db_session.add(registration("https://canvas.example", "10000000000001"))
    db_session.add(registration("https://moodle.example", "10000000000001"))
    db_session.flush()

    db_session.add(registration("https://canvas.example", "10000000000001"))
    with pytest.raises(exc.IntegrityError):
        db_session.flush()
    db_session.rollback()


def test_enum_columns_refuse_unknown_values(db_session: Session) -> None:
    with pytest.raises(exc.IntegrityError):
        db_session.connection().execute(text("INSERT INTO orgs (name, type) VALUES ('X', 'galaxy')"))
    db_session.rollback()


@pytest.mark.parametrize(
    ("status", "level"),
    [(ScoreStatus.SCORED, None), (ScoreStatus.MISSING, Decimal("0.00")), (ScoreStatus.EXCUSED, Decimal("1"))],
)
def test_level_value_present_exactly_when_scored(
    db_session: Session, school: School, status: ScoreStatus, level: Decimal | None
) -> None:
    db_session.add(make_evidence(school, score_status=status, level_value=level))
    with pytest.raises(exc.IntegrityError):
        db_session.flush()
    db_session.rollback()


def test_instants_are_aware_utc_and_levels_are_exact_decimals(db_session: Session, school: School) -> None:
    east = datetime(2025, 9, 2, 10, 30, tzinfo=UTC).astimezone(tz=None)
    evidence = make_evidence(school, demonstrated_at=east, level_value=Decimal("3.5"))
    db_session.add(evidence)
    db_session.flush()
    db_session.expire_all()

    loaded = db_session.get_one(Evidence, evidence.id)
    assert loaded.demonstrated_at == datetime(2025, 9, 2, 10, 30, tzinfo=UTC)
    assert loaded.demonstrated_at.tzinfo == UTC
    assert loaded.level_value == Decimal("3.50")
    assert isinstance(loaded.level_value, Decimal)


def test_naive_datetimes_are_refused(db_session: Session, school: School) -> None:
    db_session.add(make_evidence(school, demonstrated_at=datetime(2025, 9, 2, 10, 30)))
    with pytest.raises(exc.StatementError, match="naive datetime"):
        db_session.flush()
    db_session.rollback()


# -- append-only evidence -----------------------------------------------------------------------------


def test_orm_refuses_to_update_evidence(db_session: Session, school: School) -> None:
    evidence = make_evidence(school)
    db_session.add(evidence)
    db_session.flush()

    evidence.level_value = Decimal("4.00")
    with pytest.raises(AppendOnlyError, match="append-only"):
        db_session.flush()
    db_session.rollback()


def test_orm_refuses_to_delete_evidence(db_session: Session, school: School) -> None:
    evidence = make_evidence(school)
    db_session.add(evidence)
    db_session.flush()

    db_session.delete(evidence)
    with pytest.raises(AppendOnlyError, match="append-only"):
        db_session.flush()
    db_session.rollback()


def test_orm_refuses_bulk_update_of_evidence(db_session: Session, school: School) -> None:
    db_session.add(make_evidence(school))
    db_session.flush()
    with pytest.raises(AppendOnlyError, match="bulk UPDATE"):
        db_session.execute(update(Evidence).values(comment="rewritten"))
    db_session.rollback()


def test_orm_flushes_other_work_while_evidence_is_loaded(db_session: Session, school: School) -> None:
    db_session.add(make_evidence(school))
    db_session.commit()
    db_session.expire_all()
    loaded = db_session.scalars(select(Evidence).where(Evidence.student_id == school.student_id)).one()

    db_session.add(make_evidence(school, supersedes_id=loaded.id))
    db_session.flush()


@pytest.mark.parametrize(
    "statement",
    ["UPDATE evidence SET comment = 'rewritten' WHERE id = {id}", "DELETE FROM evidence WHERE id = {id}"],
    ids=["update", "delete"],
)
def test_database_trigger_refuses_raw_sql(db_session: Session, school: School, statement: str) -> None:
    evidence = make_evidence(school)
    db_session.add(evidence)
    db_session.flush()

    with pytest.raises(exc.IntegrityError, match="append-only"):
        db_session.connection().exec_driver_sql(statement.format(id=int(evidence.id)))
    db_session.rollback()


# -- supersession -------------------------------------------------------------------------------------


def test_correction_supersedes_and_order_is_by_demonstration(db_session: Session, school: School) -> None:
    later_work = make_evidence(
        school, demonstrated_at=T0 + timedelta(days=9), recorded_at=T0 + timedelta(days=19)
    )
    earlier_work_recorded_last = make_evidence(
        school,
        demonstrated_at=T0 + timedelta(days=4),
        recorded_at=T0 + timedelta(days=20),
        level_value=Decimal("1.00"),
    )
    db_session.add_all([later_work, earlier_work_recorded_last])
    db_session.flush()
    correction = make_evidence(
        school,
        demonstrated_at=later_work.demonstrated_at,
        level_value=Decimal("3.00"),
        supersedes_id=later_work.id,
        comment="re-scored after norming",
    )
    db_session.add(correction)
    db_session.flush()

    current = select_current_evidence(db_session, student_id=school.student_id)

    assert [row.id for row in current] == [earlier_work_recorded_last.id, correction.id]
    assert (
        select_current_evidence(db_session, class_id=school.class_id, student_id=school.other_student_id)
        == []
    )


def test_evidence_is_superseded_at_most_once(db_session: Session, school: School) -> None:
    original = make_evidence(school)
    db_session.add(original)
    db_session.flush()
    db_session.add(make_evidence(school, supersedes_id=original.id))
    db_session.flush()

    db_session.add(make_evidence(school, supersedes_id=original.id))
    with pytest.raises(exc.IntegrityError):
        db_session.flush()
    db_session.rollback()


def test_correction_must_belong_to_the_same_student(db_session: Session, school: School) -> None:
    original = make_evidence(school)
    db_session.add(original)
    db_session.flush()

    db_session.add(make_evidence(school, student_id=school.other_student_id, supersedes_id=original.id))
    with pytest.raises(exc.IntegrityError):
        db_session.flush()
    db_session.rollback()


# -- posted grades ------------------------------------------------------------------------------------


def test_amendments_chain_and_one_original_per_period(db_session: Session, school: School) -> None:
    policy = GradingPolicy(name="test-policy", version=1, effective_year=2025, document="")
    db_session.add(policy)
    db_session.flush()

    def grade(**overrides: object) -> PostedGrade:
        fields: dict[str, object] = {
            "student_id": school.student_id,
            "class_id": school.class_id,
            "academic_session_id": school.grading_period_id,
            "policy_id": policy.id,
            "course_value": Decimal("3.00"),
            "letter": "B",
            "status": PostedGradeStatus.GRADED,
            "computed_at": T0,
        }
        fields.update(overrides)
        return PostedGrade(**fields)

    original = grade()
    db_session.add(original)
    db_session.flush()
    amendment = grade(letter="A", amendment_of_id=original.id, amendment_reason="late evidence scored")
    db_session.add(amendment)
    db_session.flush()

    assert [row.id for row in select_current_posted_grades(db_session, class_id=school.class_id)] == [
        amendment.id
    ]

    db_session.add(grade(letter="C"))
    with pytest.raises(exc.IntegrityError):
        db_session.flush()
    db_session.rollback()


# -- isolation and concurrency ------------------------------------------------------------------------

ISOLATION_ISSUER = "https://isolation.example"


@pytest.mark.parametrize("attempt", [1, 2])
def test_rows_do_not_leak_between_tests(db_session: Session, attempt: int) -> None:
    """Both runs see an empty slot: the first run's committed row was rolled back with its test."""
    query = select(LtiRegistration).where(LtiRegistration.issuer == ISOLATION_ISSUER)
    assert db_session.scalars(query).all() == []
    db_session.add(
        LtiRegistration(
            issuer=ISOLATION_ISSUER,
            client_id="isolation",
            name=f"attempt {attempt}",
            auth_login_url="https://isolation.example/login",
            auth_token_url="https://isolation.example/token",
            key_set_url="https://isolation.example/jwks",
            source=RegistrationSource.CLI,
        )
    )
    db_session.commit()
    assert len(db_session.scalars(query).all()) == 1


def test_concurrent_inserts_for_one_student_both_persist(empty_database_url: str) -> None:
    upgrade_database(empty_database_url)
    engine = make_engine(empty_database_url)
    try:
        sessions = make_session_factory(engine)
        with sessions.begin() as session:
            school = build_school(session)
        start = threading.Barrier(2)

        def record(day: int) -> int:
            with sessions() as session:
                start.wait(timeout=10)
                evidence = make_evidence(school, demonstrated_at=T0 + timedelta(days=day))
                session.add(evidence)
                session.commit()
                return evidence.id

        with ThreadPoolExecutor(max_workers=2) as pool:
            ids = list(pool.map(record, [1, 2]))

        with sessions() as session:
            current = select_current_evidence(session, student_id=school.student_id)
            assert sorted(row.id for row in current) == sorted(ids)
    finally:
        engine.dispose()
