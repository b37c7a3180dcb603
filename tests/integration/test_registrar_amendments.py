"""Amendments: a required reason, a chain of rows, the audit trail (who, when, old -> new, why), a new SIS push."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lti_tool.models import AuditLog, OutboxMessage, PostedGrade, PostedGradeStatus
from lti_tool.registrar.amendments import amend_grade, grade_history
from lti_tool.registrar.errors import AmendmentError, NotFoundError
from lti_tool.registrar.posting import post_period
from lti_tool.registrar.queries import class_summaries, current_grade_views
from tests.integration.registrar_support import AFTER_Q1, Demo, add_sis_connection, load_demo

LATER = AFTER_Q1 + timedelta(days=5)


@pytest.fixture
def demo(db_session: Session) -> Demo:
    demo = load_demo(db_session)
    add_sis_connection(db_session, demo)
    return demo


@pytest.fixture
def posted(db_session: Session, demo: Demo) -> PostedGrade:
    posting = post_period(db_session, demo.school, demo.periods["Q1"], actor="registrar", now=AFTER_Q1)
    row = db_session.scalar(
        select(PostedGrade)
        .where(PostedGrade.posting_id == posting.id, PostedGrade.letter == "B")
        .order_by(PostedGrade.id)
    )
    assert row is not None
    return row


def count(session: Session, model: type[object]) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0  # type: ignore[arg-type]


@pytest.mark.parametrize("reason", ["", "   "])
def test_an_amendment_needs_a_reason(db_session: Session, posted: PostedGrade, reason: str) -> None:
    rows = count(db_session, PostedGrade)
    with pytest.raises(AmendmentError, match="reason: an amendment needs a reason"):
        amend_grade(db_session, posted.id, letter="A", reason=reason, actor="registrar")
    assert count(db_session, PostedGrade) == rows


def test_a_letter_amendment_chains_audits_and_requeues(db_session: Session, posted: PostedGrade) -> None:
    results_before = db_session.scalar(
        select(func.count()).select_from(OutboxMessage).where(OutboxMessage.topic.like("%result%"))
    )
    amended = amend_grade(db_session, posted.id, letter="A-", reason="Portfolio re-scored by the department",
                          actor="registrar-2", now=LATER)  # fmt: skip

    assert amended.id != posted.id
    assert amended.amendment_of_id == posted.id
    assert (amended.letter, amended.grade_points, amended.course_value) == ("A-", Decimal("3.67"), None)
    assert amended.status is PostedGradeStatus.GRADED
    assert amended.is_locked
    assert amended.posted_by == "registrar-2"
    assert amended.posted_at == LATER
    assert amended.amendment_reason == "Portfolio re-scored by the department"
    assert amended.posting_id == posted.posting_id
    assert amended.provenance["explanation"] == posted.provenance["explanation"]
    assert amended.provenance["amendment"]["old"]["letter"] == "B"
    db_session.refresh(posted)
    assert posted.letter == "B"  # the original row is never edited

    (audit,) = db_session.scalars(select(AuditLog).where(AuditLog.action == "grades.amend")).all()
    assert (audit.actor, audit.at, audit.entity_type, audit.entity_id) == (
        "registrar-2", LATER, "posted_grade", str(amended.id),
    )  # fmt: skip
    assert audit.detail["amends"] == posted.id
    assert audit.detail["old"] == {"letter": "B", "course_value": str(posted.course_value),
                                   "grade_points": str(posted.grade_points), "status": "graded"}  # fmt: skip
    assert audit.detail["new"] == {
        "letter": "A-",
        "course_value": None,
        "grade_points": "3.67",
        "status": "graded",
    }
    assert audit.detail["reason"] == "Portfolio re-scored by the department"

    results = db_session.scalars(select(OutboxMessage).where(OutboxMessage.topic.like("%result%"))).all()
    assert len(results) == (results_before or 0) + 1
    assert amended.id in {message.payload["postedGradeId"] for message in results}


def test_a_course_value_amendment_takes_its_letter_from_the_policy(
    db_session: Session, posted: PostedGrade
) -> None:
    amended = amend_grade(
        db_session, posted.id, course_value=Decimal("3.456"), reason="Recalculated", actor="r"
    )
    assert (amended.course_value, amended.letter, amended.grade_points) == (
        Decimal("3.46"),
        "A",
        Decimal("4.0"),
    )

    with pytest.raises(AmendmentError, match=r"course value: 5 is outside the scale .* \(0 to 4\)"):
        amend_grade(db_session, amended.id, course_value=Decimal(5), reason="x", actor="r")


def test_unknown_letters_repeats_and_old_rows_are_refused(db_session: Session, posted: PostedGrade) -> None:
    with pytest.raises(AmendmentError, match=r"letter: 'E' is not in the letter table .*allowed: A\+, A, A-"):
        amend_grade(db_session, posted.id, letter="E", reason="typo", actor="r")
    with pytest.raises(AmendmentError, match="needs a new letter or a new course value"):
        amend_grade(db_session, posted.id, reason="nothing", actor="r")
    with pytest.raises(AmendmentError, match="is already B"):
        amend_grade(
            db_session, posted.id, letter="B", course_value=posted.course_value, reason="same", actor="r"
        )
    newer = amend_grade(db_session, posted.id, letter="B+", reason="first", actor="r")
    with pytest.raises(
        AmendmentError, match=f"already amended \\(by {newer.id}\\); amend the current grade {newer.id}"
    ):
        amend_grade(db_session, posted.id, letter="A", reason="second", actor="r")
    with pytest.raises(NotFoundError, match="no posted grade 999999"):
        amend_grade(db_session, 999_999, letter="A", reason="x", actor="r")


def test_the_insufficient_code_and_pass_codes_have_no_points(
    db_session: Session, posted: PostedGrade
) -> None:
    insufficient = amend_grade(db_session, posted.id, letter="I", reason="Evidence withdrawn", actor="r")
    assert (insufficient.status, insufficient.grade_points, insufficient.course_value) == (
        PostedGradeStatus.INSUFFICIENT_EVIDENCE, None, None,
    )  # fmt: skip
    passed = amend_grade(db_session, insufficient.id, letter="P", reason="Credit by exam", actor="r")
    assert (passed.status, passed.grade_points) == (PostedGradeStatus.GRADED, None)


def test_history_and_reports_show_amendments_as_amendments(
    db_session: Session, demo: Demo, posted: PostedGrade
) -> None:
    first = amend_grade(db_session, posted.id, letter="B+", reason="one", actor="a", now=LATER)
    second = amend_grade(
        db_session, first.id, letter="A-", reason="two", actor="b", now=LATER + timedelta(hours=1)
    )

    for start in (posted.id, first.id, second.id):
        history = grade_history(db_session, start)
        assert [entry.posted_grade_id for entry in history.entries] == [posted.id, first.id, second.id]
    assert [e.is_amendment for e in history.entries] == [False, True, True]
    assert [e.is_current for e in history.entries] == [False, False, True]
    assert [e.reason for e in history.entries] == [None, "one", "two"]
    assert [e.posted_by for e in history.entries] == ["registrar", "a", "b"]
    assert history.original.values.letter == "B"
    assert history.current.values.letter == "A-"

    views = current_grade_views(
        db_session, academic_session_id=posted.academic_session_id, org_id=demo.school.id
    )
    mine = [
        view for view in views if (view.student_id, view.class_id) == (posted.student_id, posted.class_id)
    ]
    assert len(mine) == 1
    (view,) = mine
    assert (view.posted_grade_id, view.is_amendment, view.amendment_count, view.original_letter, view.letter) == (
        second.id, True, 2, "B", "A-",
    )  # fmt: skip
    assert view.sis_id is not None
    assert view.sis_id.startswith("STU")
    assert sum(v.is_amendment for v in views) == 1
    summary = {item.class_id: item for item in class_summaries(
        db_session, org_id=demo.school.id, academic_session_id=posted.academic_session_id)}  # fmt: skip
    assert summary[posted.class_id].amended == 1
    assert sum(item.grades for item in summary.values()) == len(views)
