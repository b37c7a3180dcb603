"""Grades computed from the database: the streaming path agrees with the per-class path."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from lti_tool.demo.district import generate_district
from lti_tool.demo.load import load_district
from lti_tool.grading import grade_class, stream_class_grades
from lti_tool.models import Evidence, EvidenceSource, SchoolClass, ScoreStatus
from lti_tool.policies import policy_from_row, policy_row_for_class


def test_streaming_grades_match_class_grades_and_honour_corrections(db_session: Session) -> None:
    summary = load_district(db_session, generate_district(student_count=40))
    assert not summary.was_loaded_before
    assert load_district(db_session, generate_district(student_count=40)).was_loaded_before
    school_class = db_session.scalars(select(SchoolClass).order_by(SchoolClass.id)).first()
    assert school_class is not None
    row = policy_row_for_class(db_session, school_class)
    assert row is not None
    policy = policy_from_row(row)

    # A correction supersedes the newest piece of one student's evidence with a 1: it must count, the
    # superseded score must not.
    newest = db_session.scalars(
        select(Evidence).where(Evidence.class_id == school_class.id).order_by(Evidence.demonstrated_at.desc())
    ).first()
    assert newest is not None
    db_session.add(
        Evidence(
            student_id=newest.student_id, class_id=newest.class_id, indicator_id=newest.indicator_id,
            task_id=newest.task_id, score_status=ScoreStatus.SCORED, level_value=Decimal(1),
            demonstrated_at=newest.demonstrated_at, recorded_at=datetime.now(UTC), kind=newest.kind,
            source=EvidenceSource.LTI, supersedes_id=newest.id,
        )
    )  # fmt: skip
    db_session.flush()

    by_class = grade_class(db_session, school_class, policy)
    streamed = {
        item.student_id: item.grades
        for item in stream_class_grades(db_session, policy, class_ids=[school_class.id])
    }
    assert streamed
    for student_id, grades in streamed.items():
        expected = by_class.grades[student_id]
        assert [(g.period_id, g.course_value, g.letter, g.evidence_count) for g in grades] == [
            (g.period_id, g.course_value, g.letter, g.evidence_count) for g in expected
        ]
    final = by_class.grades[newest.student_id][-1]
    used = [e.score for result in final.indicators for e in result.evidence]
    assert Decimal(1) in used
    # The superseded row is not counted twice: the evidence count equals the current rows.
    current = db_session.scalars(
        select(Evidence).where(Evidence.class_id == school_class.id, Evidence.student_id == newest.student_id)
    ).all()
    assert final.evidence_count == len(current) - 1
