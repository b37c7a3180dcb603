"""Evidence-derived parts of an export: chart series, indicator levels as of the period end, habits of work.

Each is one ordered, streamed query over a school's classes (never a query per student): the evidence pass
reads current scored evidence up to the period end in the order of the `ix_evidence_timeline` index and
groups it per student x class x indicator as it goes.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from itertools import groupby
from operator import itemgetter

from sqlalchemy import Select, exists, func, select
from sqlalchemy.orm import Session, aliased

from connectors.exports import ChartSeries, HabitLevel
from lti_tool.models import AssessmentKind, Evidence, HabitScore, ScoreStatus
from mappings import Evidence as CoreEvidence
from mappings import EvidenceKind, GradingPeriod, Policy, grade_period

# Rows fetched per round trip while streaming.
STREAM_BATCH = 20_000


@dataclass(frozen=True, slots=True)
class IndicatorTrail:
    """One student's scored evidence on one indicator in one class, oldest first."""

    class_id: int
    student_id: int
    indicator_id: int
    points: tuple[tuple[date, Decimal], ...]
    kinds: tuple[str, ...]  # formative | summative, one per point


def _end_of(day: date) -> datetime:
    """The first instant after `day` (UTC): evidence demonstrated on the period's last day still counts."""
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=UTC)


def _evidence_query(
    class_ids: Select[int], until: date
) -> Select[int, int, int, Decimal | None, datetime, AssessmentKind]:
    correction = aliased(Evidence)
    return (
        select(
            Evidence.class_id,
            Evidence.student_id,
            Evidence.indicator_id,
            Evidence.level_value,
            Evidence.demonstrated_at,
            Evidence.kind,
        )
        .where(Evidence.class_id.in_(class_ids))
        .where(Evidence.score_status == ScoreStatus.SCORED)
        .where(Evidence.demonstrated_at < _end_of(until))
        .where(~exists().where(correction.supersedes_id == Evidence.id))
        .order_by(
            Evidence.class_id,
            Evidence.student_id,
            Evidence.indicator_id,
            Evidence.demonstrated_at,
            Evidence.id,
        )
        .execution_options(yield_per=STREAM_BATCH)
    )


def stream_trails(session: Session, class_ids: Select[int], until: date) -> Iterator[IndicatorTrail]:
    """Every student x class x indicator trail of current scored evidence demonstrated up to `until`."""
    rows = session.execute(_evidence_query(class_ids, until))
    for (class_id, student_id, indicator_id), group in groupby(rows, key=itemgetter(0, 1, 2)):
        scored = [
            (shown_at.date(), value, kind.value)
            for _, _, _, value, shown_at, kind in group
            if value is not None
        ]
        yield IndicatorTrail(class_id, student_id, indicator_id, tuple((day, value) for day, value, _ in scored),
                             tuple(kind for _, _, kind in scored))  # fmt: skip


def chart_series(
    trail: IndicatorTrail, policy: Policy, *, student_key: str, class_key: str, indicator_code: str
) -> ChartSeries:
    """The chart data of a trail: the method's running proficiency after each point (as lti_tool.charts)."""
    scores = [value for _, value in trail.points]
    running = tuple(policy.method(scores[: index + 1]) for index in range(len(scores)))
    return ChartSeries(student_key, class_key, indicator_code, trail.points, running)


def latest_habits(
    session: Session,
    class_ids: Select[int],
    until: date,
    *,
    student_keys: Mapping[int, str],
    class_keys: Mapping[int, str],
) -> list[HabitLevel]:
    """Each student x class x habit's latest observation on or before `until`, with how many there were."""
    ranked = (
        select(
            HabitScore.student_id,
            HabitScore.class_id,
            HabitScore.habit,
            HabitScore.value,
            HabitScore.observed_on,
            func.row_number()
            .over(
                partition_by=(HabitScore.student_id, HabitScore.class_id, HabitScore.habit),
                order_by=(HabitScore.observed_on.desc(), HabitScore.id.desc()),
            )
            .label("position"),
            func.count()
            .over(partition_by=(HabitScore.student_id, HabitScore.class_id, HabitScore.habit))
            .label("observations"),
        )
        .where(HabitScore.class_id.in_(class_ids), HabitScore.observed_on <= until)
        .subquery()
    )
    rows = session.execute(
        select(
            ranked.c.student_id,
            ranked.c.class_id,
            ranked.c.habit,
            ranked.c.value,
            ranked.c.observed_on,
            ranked.c.observations,
        )
        .where(ranked.c.position == 1)
        .execution_options(yield_per=STREAM_BATCH)
    )
    habits = []
    for student_id, class_id, habit, value, observed_on, count in rows:
        if student_id not in student_keys or class_id not in class_keys:
            continue  # habits of a student with no posted grade in the class do not go on the report
        name = habit.value if hasattr(habit, "value") else str(habit)
        habits.append(
            HabitLevel(student_keys[student_id], class_keys[class_id], name, value, observed_on, count)
        )
    return habits


def levels_from_trails(
    trails: Sequence[IndicatorTrail],
    policy: Policy,
    period: GradingPeriod,
    indicator_codes: Mapping[int, str],
) -> dict[str, Decimal | None]:
    """indicator code -> proficiency as the policy computes it at the end of `period` from one student's
    trails in one class (formative rules and all, through mappings.grade_period)."""
    evidence = [
        CoreEvidence("s", "c", indicator_codes[trail.indicator_id], value, day, EvidenceKind(kind))
        for trail in trails
        for (day, value), kind in zip(trail.points, trail.kinds, strict=True)
    ]
    grade = grade_period(policy, evidence, period, student_id="s", course_id="c")
    return {result.indicator_id: result.proficiency for result in grade.indicators}
