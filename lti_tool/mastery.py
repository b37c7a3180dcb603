"""The class mastery grid: each student's current proficiency per indicator, its trend and progress flags.

Proficiency comes from the mappings core (the class policy's method through `grade_period`), so the grid
shows exactly what a grade would be built from. Functions that touch the database take a `Session` and
never commit; `indicator_signal` is pure and unit-tested on its own.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Final

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lti_tool.grading import class_evidence, class_periods
from lti_tool.models import (
    ClassIndicator,
    CompetencyItem,
    Course,
    Enrollment,
    EnrollmentRole,
    Habit,
    HabitScore,
    Person,
    SchoolClass,
)
from mappings import CourseGrade, Evidence, GradingPeriod, Policy, grade_period

#: "Below mastery within 14 days of a grading period's end" raises the period-end flag.
PERIOD_END_WINDOW_DAYS: Final = 14
#: "No growth over the last 3 pieces" of evidence raises the stalled flag.
STALL_WINDOW: Final = 3
#: Habits of work have their own 1-4 scale, never the academic one.
HABIT_LABELS: Final = {
    Decimal(1): "Rarely",
    Decimal(2): "Sometimes",
    Decimal(3): "Usually",
    Decimal(4): "Consistently",
}


class Trend(StrEnum):
    """Whether the latest piece of evidence moved the proficiency up, down or not at all."""

    UP = "up"
    DOWN = "down"
    FLAT = "flat"
    NONE = "none"


@dataclass(frozen=True, slots=True)
class Signal:
    """Trend and "not progressing" flags for one student on one indicator."""

    trend: Trend
    is_stalled: bool
    is_near_period_end: bool

    @property
    def is_not_progressing(self) -> bool:
        """True when either flag is raised."""
        return self.is_stalled or self.is_near_period_end


def indicator_signal(
    method: Callable[[Sequence[Decimal]], Decimal | None],
    mastery: Decimal,
    scores: Sequence[Decimal],
    *,
    as_of: date,
    period_ends: Sequence[date],
) -> Signal:
    """Trend (proficiency with vs without the latest score) and the two "not progressing" flags.

    `scores` are oldest first. Stalled: at least three pieces, the latest no higher than the one two
    before it, and still below mastery. Near period end: below mastery (or no proficiency yet) within
    `PERIOD_END_WINDOW_DAYS` days before a grading period's end.
    """
    current = method(scores) if scores else None
    previous = method(scores[:-1]) if len(scores) >= 2 else None
    if current is None or previous is None:
        trend = Trend.NONE
    elif current > previous:
        trend = Trend.UP
    elif current < previous:
        trend = Trend.DOWN
    else:
        trend = Trend.FLAT
    is_below = current is None or current < mastery
    recent = scores[-STALL_WINDOW:]
    is_stalled = len(recent) == STALL_WINDOW and recent[-1] <= recent[0] and is_below
    is_near = is_below and any(0 <= (end - as_of).days <= PERIOD_END_WINDOW_DAYS for end in period_ends)
    return Signal(trend=trend, is_stalled=is_stalled, is_near_period_end=is_near)


@dataclass(frozen=True, slots=True)
class Level:
    """Where a value sits on the scale: its label and the 1-based rank of its level (0 below the lowest)."""

    label: str
    rank: int


def level_of(policy: Policy, value: Decimal) -> Level:
    """The scale level at or below `value`."""
    rank = 0
    for index, level in enumerate(policy.scale.levels, start=1):
        if value >= level.value:
            rank = index
    return Level(label=policy.scale.label_for(value), rank=rank)


@dataclass(frozen=True, slots=True)
class Cell:
    """One student x indicator of the grid."""

    indicator_id: int
    proficiency: Decimal | None
    level: Level | None
    evidence_count: int
    signal: Signal


@dataclass(frozen=True, slots=True)
class HabitValue:
    """The latest observation of one habit up to the snapshot date."""

    value: Decimal
    label: str
    observed_on: date


@dataclass(frozen=True, slots=True)
class StudentRow:
    """One student's row: indicator cells, the academic grade, and habits reported beside it."""

    person_id: int
    name: str
    cells: tuple[Cell, ...]
    grade: CourseGrade
    habits: dict[Habit, HabitValue]

    @property
    def is_not_progressing(self) -> bool:
        """True when any cell is flagged."""
        return any(cell.signal.is_not_progressing for cell in self.cells)


@dataclass(frozen=True, slots=True)
class IndicatorColumn:
    """An indicator the class is assessed on."""

    indicator_id: int
    code: str
    statement: str


@dataclass(frozen=True, slots=True)
class Grid:
    """The class mastery grid at one snapshot date."""

    indicators: tuple[IndicatorColumn, ...]
    rows: tuple[StudentRow, ...]
    periods: tuple[GradingPeriod, ...]
    period: GradingPeriod
    as_of: date


def class_indicators(session: Session, class_id: int) -> tuple[IndicatorColumn, ...]:
    """The indicators of a class (ClassIndicator rows), in framework order."""
    rows = session.execute(
        select(CompetencyItem.id, CompetencyItem.code, CompetencyItem.statement)
        .join(ClassIndicator, ClassIndicator.indicator_id == CompetencyItem.id)
        .where(ClassIndicator.class_id == class_id)
        .order_by(CompetencyItem.sequence, CompetencyItem.code)
    ).all()
    return tuple(IndicatorColumn(row.id, row.code, row.statement) for row in rows)


def class_students(session: Session, class_id: int) -> list[tuple[int, str]]:
    """Active students of a class as (person id, display name), by family then given name."""
    rows = session.execute(
        select(Person.id, Person.given_name, Person.family_name)
        .join(Enrollment, Enrollment.person_id == Person.id)
        .where(
            Enrollment.class_id == class_id,
            Enrollment.role == EnrollmentRole.STUDENT,
            Enrollment.is_active.is_(True),
        )
        .order_by(func.lower(Person.family_name), func.lower(Person.given_name), Person.id)
    ).all()
    return [(row.id, f"{row.given_name} {row.family_name}".strip()) for row in rows]


def latest_habits(session: Session, class_id: int, as_of: date) -> dict[int, dict[Habit, HabitValue]]:
    """Per student, the latest observation of each habit on or before `as_of`."""
    rows = session.execute(
        select(HabitScore.student_id, HabitScore.habit, HabitScore.value, HabitScore.observed_on)
        .where(HabitScore.class_id == class_id, HabitScore.observed_on <= as_of)
        .order_by(HabitScore.observed_on, HabitScore.id)
    )
    habits: dict[int, dict[Habit, HabitValue]] = defaultdict(dict)
    for student_id, habit, value, observed_on in rows:
        label = HABIT_LABELS.get(value.quantize(Decimal(1)), "")
        habits[student_id][habit] = HabitValue(value, label, observed_on)
    return habits


def snapshot_period(periods: Sequence[GradingPeriod], period_id: str | None, today: date) -> GradingPeriod:
    """The named grading period (a snapshot at its end), else "now": all evidence up to `today`."""
    for period in periods:
        if period.period_id == period_id:
            return period
    start = min((period.start for period in periods), default=today)
    return GradingPeriod(period_id="now", start=min(start, today), end=today)


def build_grid(
    session: Session,
    school_class: SchoolClass,
    policy: Policy,
    *,
    today: date,
    period_id: str | None = None,
) -> Grid:
    """Every active student x class indicator at the snapshot (a grading period's end, or today)."""
    course = session.get(Course, school_class.course_id)
    course_code = course.code if course is not None else str(school_class.course_id)
    periods = class_periods(session, school_class.id)
    period = snapshot_period(periods, period_id, today)
    as_of = period.end
    period_ends = [item.end for item in periods]
    indicators = class_indicators(session, school_class.id)
    evidence = class_evidence(session, school_class, course_code)
    habits = latest_habits(session, school_class.id, as_of)
    # Proficiencies repeat across the 500+ cells of a class: resolve each value's level once.
    levels: dict[Decimal, Level] = {}
    rows = []
    for person_id, name in class_students(session, school_class.id):
        student_evidence: list[Evidence] = evidence.get(person_id, [])
        grade = grade_period(
            policy, student_evidence, period, student_id=str(person_id), course_id=course_code
        )
        results = {result.indicator_id: result for result in grade.indicators}
        cells = []
        for column in indicators:
            result = results.get(column.code)
            used = result.evidence if result is not None else ()
            proficiency = result.proficiency if result is not None else None
            signal = indicator_signal(
                policy.method,
                policy.scale.mastery,
                [item.score for item in used],
                as_of=as_of,
                period_ends=period_ends,
            )
            cells.append(
                Cell(
                    indicator_id=column.indicator_id,
                    proficiency=proficiency,
                    level=_cached_level(levels, policy, proficiency),
                    evidence_count=len(used),
                    signal=signal,
                )
            )
        rows.append(StudentRow(person_id, name, tuple(cells), grade, habits.get(person_id, {})))
    return Grid(indicators=indicators, rows=tuple(rows), periods=periods, period=period, as_of=as_of)


def _cached_level(cache: dict[Decimal, Level], policy: Policy, value: Decimal | None) -> Level | None:
    if value is None:
        return None
    level = cache.get(value)
    if level is None:
        level = cache[value] = level_of(policy, value)
    return level


def sort_rows(grid: Grid, indicator_id: int | None, *, is_descending: bool = False) -> tuple[StudentRow, ...]:
    """Rows by proficiency on one indicator (no evidence last), else by name (the grid's order)."""
    if indicator_id is None:
        return tuple(reversed(grid.rows)) if is_descending else grid.rows
    position = next(
        (index for index, column in enumerate(grid.indicators) if column.indicator_id == indicator_id), None
    )
    if position is None:
        return grid.rows
    index = position

    def key(row: StudentRow) -> tuple[bool, Decimal]:
        value = row.cells[index].proficiency
        if value is None:
            return (True, Decimal(0))
        return (False, -value if is_descending else value)

    return tuple(sorted(grid.rows, key=key))


@dataclass(frozen=True, slots=True)
class PreviewRow:
    """A student whose letter an average of all scores would have lowered."""

    person_id: int
    name: str
    policy_letter: str
    course_value: Decimal | None
    average: Decimal
    average_letter: str


def policy_preview(grid: Grid, policy: Policy) -> list[PreviewRow]:
    """Students whose letter a plain average of every score would lower (the F, D, C, B, A improver)."""
    averages = plain_average_letters(grid, policy)
    lowered = []
    for row in grid.rows:
        average = averages.get(row.person_id)
        if average is None or row.grade.course_value is None:
            continue
        value, letter = average
        if policy.letter_rank(letter) > policy.letter_rank(row.grade.letter):
            lowered.append(
                PreviewRow(row.person_id, row.name, row.grade.letter, row.grade.course_value, value, letter)
            )
    return lowered


def plain_average_letters(grid: Grid, policy: Policy) -> dict[int, tuple[Decimal, str] | None]:
    """Per student, the plain average of all scores used and its letter (None without scores)."""
    averages: dict[int, tuple[Decimal, str] | None] = {}
    for row in grid.rows:
        scores = [item.score for result in row.grade.indicators for item in result.evidence]
        if not scores:
            averages[row.person_id] = None
            continue
        average = policy.course_rounding.apply(sum(scores, Decimal(0)) / len(scores))
        # A policy with a percent table cuts letters on the percentage, as the core does.
        cut_on = policy.percent.to_percent(average) if policy.percent is not None else average
        averages[row.person_id] = (average, policy.row_for(cut_on).letter)
    return averages
