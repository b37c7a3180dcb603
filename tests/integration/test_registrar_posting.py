"""Posting a grading period: provenance, locking, the audit row, the SIS outbox in the same transaction."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from lti_tool.db import make_engine, make_session_factory, upgrade_database
from lti_tool.grading import grade_class
from lti_tool.models import (
    AcademicSession,
    AssessmentKind,
    AuditLog,
    ClassSession,
    CompetencyItem,
    Evidence,
    EvidenceSource,
    GradePosting,
    GradingPolicy,
    Org,
    OutboxMessage,
    PostedGrade,
    PostedGradeStatus,
    SchoolClass,
    ScoreStatus,
    current_evidence_query,
)
from lti_tool.policies import policy_from_row, policy_row_for_class
from lti_tool.registrar.errors import PostingRefusedError
from lti_tool.registrar.posting import post_period
from lti_tool.registrar.precheck import IssueKind, check_before_posting
from mappings import render_explanation
from tests.integration.registrar_support import AFTER_Q1, AFTER_YEAR, Demo, add_sis_connection, load_demo


@pytest.fixture
def demo(db_session: Session) -> Demo:
    demo = load_demo(db_session)
    add_sis_connection(db_session, demo)
    return demo


def posted_rows(session: Session, posting_id: int) -> list[PostedGrade]:
    return list(
        session.scalars(
            select(PostedGrade).where(PostedGrade.posting_id == posting_id).order_by(PostedGrade.id)
        )
    )


def test_posting_stores_locked_grades_with_provenance_that_match_the_grading_path(
    db_session: Session, demo: Demo
) -> None:
    q1 = demo.periods["Q1"]
    expected = check_before_posting(db_session, demo.school, q1, now=AFTER_Q1)
    posting = post_period(db_session, demo.school, q1, actor="registrar@test", now=AFTER_Q1)

    rows = posted_rows(db_session, posting.id)
    assert len(rows) == expected.counts["grades"] == posting.counts["posted"]
    assert posting.posted_by == "registrar@test"
    assert posting.posted_at == AFTER_Q1
    assert posting.check_report["verdict"] == "ready"
    assert posting.counts["graded"] == expected.counts["graded"]
    assert all(
        row.is_locked and row.posted_by == "registrar@test" and row.posted_at == AFTER_Q1 for row in rows
    )
    assert all(row.amendment_of_id is None and row.academic_session_id == q1.id for row in rows)
    policy_row = db_session.get(GradingPolicy, demo.school.default_policy_id)
    assert policy_row is not None
    assert {row.policy_id for row in rows} == {policy_row.id}

    # Every class's posted grades are what lti_tool.grading computes for Q1, explanation included.
    case_ids = dict(db_session.execute(select(CompetencyItem.code, CompetencyItem.case_identifier)).all())
    for class_id in {row.class_id for row in rows}:
        school_class = db_session.get(SchoolClass, class_id)
        assert school_class is not None
        policy = policy_from_row(policy_row)
        graded = grade_class(db_session, school_class, policy)
        position = [period.period_id for period in graded.periods].index("Q1")
        for row in (r for r in rows if r.class_id == class_id):
            grade = graded.grades[row.student_id][position]
            assert (row.letter, row.course_value, row.grade_points) == (
                grade.letter, grade.course_value, grade.grade_points,
            )  # fmt: skip
            assert row.evidence_count == grade.evidence_count
            assert row.status.value == grade.status.value
            provenance = row.provenance
            assert provenance["policy"] == {"id": policy_row.id, "name": policy.name, "version": policy.version,
                                            "is_school_policy": True}  # fmt: skip
            assert provenance["method"]["name"] == policy.method.name
            assert provenance["rule"] == grade.rule
            assert provenance["as_of"] == "2026-10-30"
            assert provenance["explanation"] == render_explanation(
                grade, course_title=graded.course.title, policy=policy
            )
            assert [(i["code"], i["proficiency"]) for i in provenance["indicators"]] == [
                (r.indicator_id, None if r.proficiency is None else str(r.proficiency))
                for r in grade.indicators
            ]
            assert all(i["case_identifier"] == case_ids[i["code"]] for i in provenance["indicators"])

    # The evidence ids are exactly the student's current evidence demonstrated by the period's end.
    sample = next(row for row in rows if row.evidence_count > 3)
    cutoff = datetime(2026, 10, 31, tzinfo=UTC)
    current = db_session.scalars(
        current_evidence_query(class_id=sample.class_id, student_id=sample.student_id)
        .where(Evidence.demonstrated_at < cutoff, Evidence.score_status == ScoreStatus.SCORED)
        .with_only_columns(Evidence.id)
    ).all()
    assert sorted(sample.provenance["evidence_ids"]) == sorted(current)
    indicator_ids = [i for entry in sample.provenance["indicators"] for i in entry["evidence_ids"]]
    assert sorted(indicator_ids) == sorted(current)


def test_insufficient_evidence_is_posted_as_the_policy_code_never_an_f(
    db_session: Session, demo: Demo
) -> None:
    posting = post_period(db_session, demo.school, demo.periods["Q1"], actor="r", now=AFTER_Q1)
    rows = posted_rows(db_session, posting.id)
    insufficient = [row for row in rows if row.status is PostedGradeStatus.INSUFFICIENT_EVIDENCE]
    assert insufficient
    assert {(row.letter, row.course_value, row.grade_points) for row in insufficient} == {("I", None, None)}
    assert len(insufficient) == posting.counts["insufficient_evidence"]


def test_posting_writes_the_audit_row_and_the_sis_outbox_in_the_same_transaction(
    db_session: Session, demo: Demo
) -> None:
    q1 = demo.periods["Q1"]
    before = db_session.scalar(select(func.count()).select_from(OutboxMessage))
    savepoint = db_session.begin_nested()
    posting = post_period(db_session, demo.school, q1, actor="r", now=AFTER_Q1)
    rows = posted_rows(db_session, posting.id)
    results = db_session.scalars(select(OutboxMessage).where(OutboxMessage.topic.like("%result%"))).all()
    assert {message.payload["postedGradeId"] for message in results} == {row.id for row in rows}
    assert posting.counts["outbox"]["queued"]["result"] == len(rows)
    # Each result carries the per-indicator proficiencies posted with the grade, under their CASE ids.
    by_id = {row.id: row for row in rows}
    for message in results:
        row = by_id[message.payload["postedGradeId"]]
        sent = {o["learning_objective_id"]: o["score"] for o in message.payload["record"]["objective_scores"]}
        posted = {
            i["case_identifier"]: i["proficiency"] for i in row.provenance["indicators"] if i["proficiency"]
        }
        assert sent == posted
    # The rows the push read were shortened in memory only: the stored provenance keeps its explanation.
    assert all(row.provenance["explanation"].startswith(("English", "AP", "Algebra", "Honors", "Biology", "Studio"))
               for row in rows)  # fmt: skip
    audit = db_session.scalars(select(AuditLog).where(AuditLog.action == "grades.post")).all()
    assert [(entry.entity_type, entry.entity_id, entry.actor) for entry in audit] == [
        ("grade_posting", str(posting.id), "r")
    ]
    assert audit[0].detail["posted"] == len(rows)

    # Roll the posting back: no grade, no posting, no audit row and no outbox message survives.
    savepoint.rollback()
    assert db_session.scalar(select(func.count()).select_from(PostedGrade)) == 0
    assert db_session.scalar(select(func.count()).select_from(GradePosting)) == 0
    assert db_session.scalar(select(func.count()).select_from(OutboxMessage)) == before
    assert (
        db_session.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.action == "grades.post"))
        == 0
    )


def test_evidence_recorded_after_posting_never_changes_posted_grades(db_session: Session, demo: Demo) -> None:
    q1 = demo.periods["Q1"]
    posting = post_period(db_session, demo.school, q1, actor="r", now=AFTER_Q1)
    snapshot = {row.id: (row.letter, row.course_value, row.evidence_count, dict(row.provenance))
                for row in posted_rows(db_session, posting.id)}  # fmt: skip
    target = next(row for row in posted_rows(db_session, posting.id) if row.letter not in ("I", "F", "D-"))

    # Late evidence dated inside Q1 (a 1 on every indicator), and a correction of an existing score.
    late = AFTER_Q1 + timedelta(days=3)
    used = db_session.scalars(
        current_evidence_query(class_id=target.class_id, student_id=target.student_id).where(
            Evidence.demonstrated_at < datetime(2026, 10, 31, tzinfo=UTC)
        )
    ).all()
    for item in used:
        db_session.add(
            Evidence(
                student_id=item.student_id, class_id=item.class_id, indicator_id=item.indicator_id,
                task_id=item.task_id, score_status=ScoreStatus.SCORED, level_value=Decimal(1),
                demonstrated_at=datetime(2026, 10, 29, 10, tzinfo=UTC), recorded_at=late,
                kind=AssessmentKind.SUMMATIVE, source=EvidenceSource.LTI,
            )
        )  # fmt: skip
    db_session.add(
        Evidence(
            student_id=used[0].student_id, class_id=used[0].class_id, indicator_id=used[0].indicator_id,
            task_id=used[0].task_id, score_status=ScoreStatus.SCORED, level_value=Decimal(1),
            demonstrated_at=used[0].demonstrated_at, recorded_at=late, kind=used[0].kind,
            source=EvidenceSource.LTI, supersedes_id=used[0].id,
        )
    )  # fmt: skip
    db_session.flush()
    db_session.expire_all()

    after = {row.id: (row.letter, row.course_value, row.evidence_count, dict(row.provenance))
             for row in posted_rows(db_session, posting.id)}  # fmt: skip
    assert after == snapshot
    # The evidence did change what a fresh computation says: only the posted record stands still.
    school_class = db_session.get(SchoolClass, target.class_id)
    assert school_class is not None
    row = policy_row_for_class(db_session, school_class)
    assert row is not None
    graded = grade_class(db_session, school_class, policy_from_row(row))
    position = [period.period_id for period in graded.periods].index("Q1")
    assert graded.grades[target.student_id][position].letter != target.letter


def test_re_posting_a_posted_period_is_refused(db_session: Session, demo: Demo) -> None:
    q1 = demo.periods["Q1"]
    first = post_period(db_session, demo.school, q1, actor="r", now=AFTER_Q1)
    count = db_session.scalar(select(func.count()).select_from(PostedGrade))

    with pytest.raises(PostingRefusedError, match="already posted Quarter 1") as refused:
        post_period(db_session, demo.school, q1, actor="r", now=AFTER_Q1 + timedelta(days=1))

    assert refused.value.check is not None
    assert [issue.kind for issue in refused.value.check.blocking] == [IssueKind.ALREADY_POSTED]
    assert refused.value.check.posting_id == first.id
    assert db_session.scalar(select(func.count()).select_from(PostedGrade)) == count
    assert db_session.scalar(select(func.count()).select_from(GradePosting)) == 1
    check = check_before_posting(db_session, demo.school, q1, now=AFTER_Q1)
    assert check.is_blocked
    assert check.posting_id == first.id


def test_the_final_period_uses_all_evidence_to_the_end(db_session: Session, demo: Demo) -> None:
    y1 = demo.periods["Y1"]
    posting = post_period(db_session, demo.school, y1, actor="r", now=AFTER_YEAR)
    rows = posted_rows(db_session, posting.id)
    classes = set(
        db_session.scalars(select(ClassSession.class_id).where(ClassSession.academic_session_id == y1.id))
    )
    assert {row.class_id for row in rows} == classes
    total = db_session.scalar(
        select(func.count()).select_from(
            current_evidence_query().where(Evidence.class_id.in_(classes)).subquery()
        )
    )
    assert sum(row.evidence_count for row in rows) == total
    assert {row.provenance["as_of"] for row in rows} == {"2027-06-11"}


def test_a_class_without_a_school_policy_is_posted_with_the_shipped_default(
    db_session: Session, demo: Demo
) -> None:
    demo.school.default_policy_id = None
    db_session.flush()
    posting = post_period(db_session, demo.school, demo.periods["Q1"], actor="r", now=AFTER_Q1)
    rows = posted_rows(db_session, posting.id)
    policies = {row.policy_id for row in rows}
    assert len(policies) == 1
    stored = db_session.get(GradingPolicy, policies.pop())
    assert stored is not None
    assert stored.name == "four-point-plus-minus"
    assert {row.provenance["policy"]["is_school_policy"] for row in rows} == {False}
    assert IssueKind.NO_POLICY.value in {issue["kind"] for issue in posting.check_report["issues"]}


def test_a_blocked_period_posts_nothing(db_session: Session, demo: Demo) -> None:
    with pytest.raises(PostingRefusedError, match="not a grading period"):
        post_period(db_session, demo.school, demo.periods["SY2026"], actor="r", now=AFTER_Q1)
    assert db_session.scalar(select(func.count()).select_from(PostedGrade)) == 0
    assert db_session.scalar(select(func.count()).select_from(GradePosting)) == 0


def test_two_registrars_posting_at_once_post_once(empty_database_url: str) -> None:
    """PostgreSQL: the second posting waits for the first (row lock on the period), then refuses.
    SQLite has one writer at a time; there the unique index on original posted grades is the guard."""
    upgrade_database(empty_database_url)
    engine = make_engine(empty_database_url)
    factory = make_session_factory(engine)
    try:
        with factory.begin() as session:
            demo = load_demo(session)
            school_id, period_id = demo.school.id, demo.periods["Q1"].id
        first = factory()
        school, period = first.get(Org, school_id), first.get(AcademicSession, period_id)
        assert school is not None
        assert period is not None
        post_period(first, school, period, actor="first", now=AFTER_Q1)
        if engine.dialect.name != "postgresql":
            first.commit()
            first.close()
            with factory() as second:
                # Bypassing the check (as a buggy caller would): the database refuses a second original.
                row = second.scalars(select(PostedGrade).limit(1)).one()
                second.add(PostedGrade(student_id=row.student_id, class_id=row.class_id,
                                       academic_session_id=row.academic_session_id, policy_id=row.policy_id,
                                       letter="A", status=PostedGradeStatus.GRADED, computed_at=AFTER_Q1))  # fmt: skip
                with pytest.raises(IntegrityError):
                    second.flush()
            return
        outcome: list[BaseException | None] = []

        def second_registrar() -> None:
            with factory() as second:
                school2, period2 = second.get(Org, school_id), second.get(AcademicSession, period_id)
                try:
                    post_period(second, school2, period2, actor="second", now=AFTER_Q1)  # type: ignore[arg-type]
                    second.commit()
                    outcome.append(None)
                except PostingRefusedError as exc:
                    outcome.append(exc)

        thread = threading.Thread(target=second_registrar)
        thread.start()
        thread.join(timeout=1.5)
        assert thread.is_alive()  # waiting for the first posting's lock
        first.commit()
        first.close()
        thread.join(timeout=60)
        assert len(outcome) == 1
        assert isinstance(outcome[0], PostingRefusedError)
        assert "already posted" in str(outcome[0])
        with factory() as session:
            assert session.scalar(select(func.count()).select_from(GradePosting)) == 1
    finally:
        engine.dispose()
