"""The export dataset read from the database (SQLite or PostgreSQL) agrees with the ORM's own view of it.

lti_tool.exports reads evidence, posted grades and habits through set-based queries (on PostgreSQL each
evidence trail is folded into one row by the server); these tests hold it to the plain ORM reading of the
same rows: current evidence per student, class and indicator, the latest habit, and per-indicator levels
recomputed from evidence when a grade was posted without them.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from lti_tool.demo.district import generate_district
from lti_tool.demo.load import load_district
from lti_tool.exports import EXPORT_KINDS, build_dataset
from lti_tool.models import (
    AcademicSession,
    CompetencyItem,
    Evidence,
    HabitScore,
    Org,
    PostedGrade,
    SchoolClass,
    ScoreStatus,
    select_current_evidence,
)
from lti_tool.registrar.posting import post_period

POSTED_AT = datetime(2026, 11, 2, 16, 0, tzinfo=UTC)


@pytest.fixture
def posted(db_session: Session) -> tuple[Org, AcademicSession]:
    """A small demo district with one scored row corrected, an unscored row added, and Q1 posted."""
    summary = load_district(db_session, generate_district(student_count=12))
    school = db_session.get(Org, summary.school_id)
    q1 = db_session.scalar(select(AcademicSession).where(AcademicSession.sourced_id == "Q1"))
    assert school is not None
    assert q1 is not None
    first = db_session.scalars(
        select(Evidence).where(Evidence.score_status == ScoreStatus.SCORED).order_by(Evidence.id)
    ).first()
    assert first is not None
    for status, level in ((ScoreStatus.SCORED, Decimal(4) if first.level_value != 4 else Decimal(1)),
                          (ScoreStatus.MISSING, None)):  # fmt: skip
        db_session.add(Evidence(
            student_id=first.student_id, class_id=first.class_id, indicator_id=first.indicator_id,
            score_status=status, level_value=level, demonstrated_at=first.demonstrated_at, kind=first.kind,
            source=first.source, supersedes_id=first.id if status is ScoreStatus.SCORED else None,
        ))  # fmt: skip
    db_session.flush()
    post_period(db_session, school, q1, actor="registrar@example.org", now=POSTED_AT)
    return school, q1


def test_charts_are_the_current_scored_evidence_of_each_trail(
    db_session: Session, posted: tuple[Org, AcademicSession]
) -> None:
    school, q1 = posted
    dataset = build_dataset(db_session, school, q1, kinds=EXPORT_KINDS)

    codes = {
        item_id: code for item_id, code in db_session.execute(select(CompetencyItem.id, CompetencyItem.code))
    }
    classes = _class_keys(db_session)
    graded = {(g.student_key, g.class_key) for g in dataset.period_grades}
    end = datetime.combine(q1.end_date + timedelta(days=1), time(0), tzinfo=UTC)
    expected: dict[tuple[str, str, str], list[tuple[date, Decimal]]] = defaultdict(list)
    for row in select_current_evidence(db_session):
        key = (f"person-{row.student_id}", classes[row.class_id], codes[row.indicator_id])
        is_shown = row.score_status is ScoreStatus.SCORED and row.demonstrated_at < end and key[:2] in graded
        if is_shown and row.level_value is not None:
            expected[key].append((row.demonstrated_at.astimezone(UTC).date(), row.level_value))
    assert {(c.student_key, c.class_key, c.indicator_code): c.points for c in dataset.charts} == {
        key: tuple(points) for key, points in expected.items()
    }
    keys = [(c.class_key, c.student_key, c.indicator_code) for c in dataset.charts]
    assert len(keys) == len(set(keys))
    for chart in dataset.charts:
        scores = [level for _, level in chart.points]
        method = dataset.school.policy.method
        assert chart.proficiency == tuple(method(scores[: n + 1]) for n in range(len(scores)))


def _class_keys(session: Session) -> dict[int, str]:
    return {
        class_id: sourced_id or f"class-{class_id}"
        for class_id, sourced_id in session.execute(select(SchoolClass.id, SchoolClass.sourced_id))
    }


def test_habits_are_the_latest_observation_of_each_student_class_and_habit(
    db_session: Session, posted: tuple[Org, AcademicSession]
) -> None:
    school, q1 = posted
    dataset = build_dataset(db_session, school, q1, kinds=EXPORT_KINDS)

    observed: dict[tuple[int, int, str], list[HabitScore]] = defaultdict(list)
    for habit in db_session.scalars(select(HabitScore).where(HabitScore.observed_on <= q1.end_date)):
        observed[(habit.student_id, habit.class_id, habit.habit.value)].append(habit)
    classes = _class_keys(db_session)
    expected = set()
    for (student_id, class_id, name), rows in observed.items():
        latest = max(rows, key=lambda h: (h.observed_on, h.id))
        key = (f"person-{student_id}", classes[class_id])
        if key[0] in dataset.students and key[1] in dataset.classes:  # students with a grade, school classes
            expected.add((*key, name, latest.value, latest.observed_on, len(rows)))
    assert expected
    assert {
        (h.student_key, h.class_key, h.habit, h.value, h.observed_on, h.count) for h in dataset.habits
    } == expected
    order = [(h.student_key, h.class_key, h.habit) for h in dataset.habits]
    assert len(order) == len(set(order))


def test_a_grade_posted_without_levels_gets_them_from_evidence_as_posting_computed_them(
    db_session: Session, posted: tuple[Org, AcademicSession]
) -> None:
    school, q1 = posted
    recorded = build_dataset(db_session, school, q1)
    db_session.execute(
        update(PostedGrade)
        .where(PostedGrade.academic_session_id == q1.id)
        .values(provenance={"rule": "none"})
    )
    db_session.flush()

    recomputed = build_dataset(db_session, school, q1)

    assert [g.indicator_source.value for g in recomputed.grades] == ["evidence"] * len(recomputed.grades)
    assert [[(i.code, i.level) for i in g.indicators] for g in recomputed.grades] == [
        [(i.code, i.level) for i in g.indicators] for g in recorded.grades
    ]
    assert [g.percent for g in recomputed.grades] == [g.percent for g in recorded.grades]
