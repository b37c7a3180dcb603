"""The pre-posting check on the demo district: counts, blocking issues, warnings, and no names in reports."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from lti_tool.demo.load import SIS_SYSTEM
from lti_tool.grading import grade_class
from lti_tool.models import (
    ClassSession,
    Course,
    Enrollment,
    EnrollmentRole,
    IdentifierSource,
    IdentityReview,
    Person,
    PersonIdentifier,
    SchoolClass,
)
from lti_tool.policies import policy_from_row, policy_row_for_class
from lti_tool.registrar.errors import NotFoundError
from lti_tool.registrar.lookup import resolve_period, resolve_school
from lti_tool.registrar.precheck import IssueKind, Severity, check_before_posting
from tests.integration.registrar_support import AFTER_Q1, Demo, add_sis_connection, load_demo


@pytest.fixture
def demo(db_session: Session) -> Demo:
    return load_demo(db_session)


def kinds(check: object, severity: Severity | None = None) -> set[IssueKind]:
    issues = getattr(check, "issues", ())
    return {issue.kind for issue in issues if severity is None or issue.severity is severity}


def test_check_counts_every_class_of_the_period_and_agrees_with_the_grading_path(
    db_session: Session, demo: Demo
) -> None:
    add_sis_connection(db_session, demo)
    q1 = demo.periods["Q1"]
    check = check_before_posting(db_session, demo.school, q1, now=AFTER_Q1)

    assert not check.is_blocked
    linked = db_session.scalars(
        select(ClassSession.class_id).where(ClassSession.academic_session_id == q1.id)
    ).all()
    assert {item.class_id for item in check.classes} == set(linked)
    assert check.counts["classes"] == len(linked)
    active = db_session.scalar(
        select(func.count())
        .select_from(Enrollment)
        .where(Enrollment.class_id.in_(linked), Enrollment.role == EnrollmentRole.STUDENT)
    )
    assert check.counts["grades"] == active
    assert check.counts["students"] == 40
    assert check.counts["unmatched_students"] == 0
    # The insufficient-evidence list is exactly what lti_tool.grading computes for Q1, class by class.
    for item in check.classes:
        school_class = db_session.get(SchoolClass, item.class_id)
        assert school_class is not None
        row = policy_row_for_class(db_session, school_class)
        assert row is not None
        graded = grade_class(db_session, school_class, policy_from_row(row))
        position = [period.period_id for period in graded.periods].index("Q1")
        expected = {pid for pid, grades in graded.grades.items() if grades[position].letter == "I"}
        assert {ref.person_id for ref in item.insufficient} == expected
        assert item.graded_count == item.student_count - len(expected)
    assert check.counts["insufficient_evidence"] > 0  # the demo's sparse students
    assert IssueKind.INSUFFICIENT_EVIDENCE in kinds(check, Severity.WARNING)


def test_report_names_students_by_id_and_sis_id_never_by_name(db_session: Session, demo: Demo) -> None:
    add_sis_connection(db_session, demo)
    check = check_before_posting(db_session, demo.school, demo.periods["Q1"], now=AFTER_Q1)
    text = json.dumps(check.to_dict())

    refs = [ref for item in check.classes for ref in item.insufficient]
    assert refs
    assert all(ref.sis_id and ref.sis_id.startswith("STU") for ref in refs)
    for given, family, email in db_session.execute(
        select(Person.given_name, Person.family_name, Person.email)
    ):
        assert f'"{given}' not in text
        assert family not in text
        assert email is None or email not in text


def test_a_posted_period_a_school_year_and_an_empty_period_block(db_session: Session, demo: Demo) -> None:
    year = demo.periods["SY2026"]
    check = check_before_posting(db_session, demo.school, year, now=AFTER_Q1)
    assert IssueKind.NOT_A_GRADING_PERIOD in kinds(check, Severity.BLOCKING)
    assert check.is_blocked

    db_session.execute(delete(ClassSession).where(ClassSession.academic_session_id == demo.periods["Q2"].id))
    empty = check_before_posting(db_session, demo.school, demo.periods["Q2"], now=AFTER_Q1)
    assert kinds(empty, Severity.BLOCKING) == {IssueKind.NO_CLASSES}
    assert empty.to_dict()["verdict"] == "blocked"


def test_warnings_for_missing_policy_evidence_sis_ids_reviews_and_roster_mismatches(
    db_session: Session, demo: Demo
) -> None:
    add_sis_connection(db_session, demo)
    q1 = demo.periods["Q1"]
    demo.school.default_policy_id = None
    art = db_session.scalar(select(Course).where(Course.code == "ART"))
    assert art is not None
    # A class with students but no evidence at all, and an LMS-only student in an SIS section.
    empty = SchoolClass(course_id=art.id, org_id=demo.school.id, title="Studio Art (9)", sourced_id="ART-9")
    db_session.add(empty)
    db_session.flush()
    db_session.add(ClassSession(class_id=empty.id, academic_session_id=q1.id))
    student_ids = db_session.scalars(
        select(Enrollment.person_id).where(Enrollment.role == EnrollmentRole.STUDENT).distinct().limit(3)
    ).all()
    db_session.add_all(
        Enrollment(
            class_id=empty.id, person_id=pid, role=EnrollmentRole.STUDENT, sourced_id=f"ENR-ART-9-{pid}"
        )
        for pid in student_ids[:2]
    )
    lms_only = Person(given_name="Lms", family_name="Only")
    db_session.add(lms_only)
    db_session.flush()
    alg = db_session.scalar(select(SchoolClass).where(SchoolClass.sourced_id == "ALG2-1"))
    assert alg is not None
    db_session.add(Enrollment(class_id=alg.id, person_id=lms_only.id, role=EnrollmentRole.STUDENT))
    # One student loses their SIS id; another has an identity review open.
    db_session.execute(
        delete(PersonIdentifier).where(
            PersonIdentifier.person_id == student_ids[2], PersonIdentifier.source == IdentifierSource.SIS
        )
    )
    db_session.add(
        IdentityReview(source=IdentifierSource.SIS, system=SIS_SYSTEM, external_value="STU9999",
                       candidate_person_id=student_ids[0], reason="two candidates")
    )  # fmt: skip
    db_session.flush()

    check = check_before_posting(db_session, demo.school, q1, now=datetime(2026, 10, 20, tzinfo=UTC))

    assert not check.is_blocked
    found = kinds(check, Severity.WARNING)
    assert {
        IssueKind.NO_POLICY, IssueKind.NO_EVIDENCE, IssueKind.UNMATCHED_STUDENTS, IssueKind.OPEN_REVIEWS,
        IssueKind.ROSTER_MISMATCH, IssueKind.PERIOD_NOT_ENDED,
    } <= found  # fmt: skip
    by_id = {item.class_id: item for item in check.classes}
    assert not by_id[empty.id].has_evidence
    assert by_id[empty.id].student_count == 2
    assert all(not item.has_policy and item.policy_name == "four-point-plus-minus" for item in check.classes)
    assert [ref.person_id for ref in by_id[alg.id].lms_only] == [lms_only.id]
    unmatched = {ref.person_id for item in check.classes for ref in item.unmatched}
    assert {student_ids[2], lms_only.id} <= unmatched
    assert [review.person_id for review in check.open_reviews] == [student_ids[0]]


def test_without_an_sis_connection_grades_are_stored_but_not_sent(db_session: Session, demo: Demo) -> None:
    check = check_before_posting(db_session, demo.school, demo.periods["Q1"], now=AFTER_Q1)
    assert IssueKind.NO_SIS_CONNECTION in kinds(check, Severity.WARNING)
    assert not check.is_blocked
    assert check.counts["unmatched_students"] == 0  # nothing to match against


def test_school_and_period_are_found_by_sourced_id_id_or_title(db_session: Session, demo: Demo) -> None:
    assert resolve_school(db_session, "RHS").id == demo.school.id
    assert resolve_school(db_session, "riverbend high school").id == demo.school.id
    assert resolve_school(db_session, str(demo.school.id)).id == demo.school.id
    assert resolve_period(db_session, demo.school, "Q1").id == demo.periods["Q1"].id
    assert resolve_period(db_session, demo.school, "quarter 2").id == demo.periods["Q2"].id
    assert resolve_period(db_session, demo.school, "Final (year)").id == demo.periods["Y1"].id
    with pytest.raises(
        NotFoundError, match=r"no school 'Nowhere'; the schools are: RHS \(Riverbend High School\)"
    ):
        resolve_school(db_session, "Nowhere")
    with pytest.raises(NotFoundError, match=r"no grading period 'Q9' .*: Q1 \(Quarter 1\), Q2 \(Quarter 2\)"):
        resolve_period(db_session, demo.school, "Q9")
    # The school year is not a grading period: not offered.
    with pytest.raises(NotFoundError):
        resolve_period(db_session, demo.school, "SY2026")
