"""One student's progress in one class: proficiency per indicator, its evidence, what comes next, and why.

`build_student_progress` reads the database and returns a frozen view model; it checks no permissions
(the views do that) and never commits. Every number shown to a student travels with its level's name and
"I can" meaning, so 2 of 4 reads as "Developing", never as 50%.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lti_tool.charts import ChartData, ChartLevel, ChartPeriod, ChartPoint, render_chart, running_proficiency
from lti_tool.grading import class_evidence, class_periods
from lti_tool.models import (
    AcademicSession,
    ClassIndicator,
    CompetencyItem,
    Course,
    Enrollment,
    EnrollmentRole,
    Evidence,
    HabitScore,
    Org,
    Person,
    ProficiencyLevel,
    ProficiencyScale,
    SchoolClass,
    ScoreStatus,
    ScoringGuide,
    ScoringGuideDescriptor,
    Task,
)
from lti_tool.policies import class_policy
from mappings import Policy, grade_periods, render_explanation

STATUS_WORDS = {
    ScoreStatus.SCORED: "Scored",
    ScoreStatus.NOT_YET_DEMONSTRATED: "Not yet demonstrated",
    ScoreStatus.MISSING: "Missing",
    ScoreStatus.EXCUSED: "Excused",
}


@dataclass(frozen=True, slots=True)
class LevelView:
    """A value on the scale with its name and student-facing meaning."""

    value: Decimal
    label: str
    i_can: str
    is_mastery: bool = False

    @property
    def value_text(self) -> str:
        """The value without trailing zeros (3.00 -> 3, 2.50 -> 2.5)."""
        return f"{self.value.normalize():f}"


@dataclass(frozen=True, slots=True)
class EvidenceView:
    """One row of an indicator's evidence trail (superseded corrections included, marked as corrected)."""

    evidence_id: int
    demonstrated_on: date
    task: str | None
    status: str
    level: LevelView | None
    comment: str | None
    evidence_url: str | None
    kind: str
    is_superseded: bool
    corrected_to: LevelView | None
    corrects_id: int | None


@dataclass(frozen=True, slots=True)
class NextStep:
    """What the next level asks for."""

    level: LevelView
    asks_for: str


@dataclass(frozen=True, slots=True)
class IndicatorProgress:
    """One performance indicator of the class for this student."""

    indicator_id: int
    code: str
    statement: str
    i_can: str
    current: LevelView | None
    evidence: tuple[EvidenceView, ...]
    chart: ChartData
    next_step: NextStep | None


@dataclass(frozen=True, slots=True)
class PeriodGradeView:
    """The snapshot letter at one grading period, with the core's explanation verbatim."""

    period_id: str
    title: str
    start: date
    end: date
    letter: str
    explanation: str


@dataclass(frozen=True, slots=True)
class HabitView:
    """A habit of work: its latest observation (reported beside, never inside, the grade)."""

    habit: str
    latest: LevelView
    observed_on: date
    count: int


@dataclass(frozen=True, slots=True)
class StudentProgress:
    """The whole student detail page."""

    class_id: int
    person_id: int
    student_name: str
    class_title: str
    course_title: str
    method_text: str
    levels: tuple[LevelView, ...]
    indicators: tuple[IndicatorProgress, ...]
    periods: tuple[PeriodGradeView, ...]
    habits: tuple[HabitView, ...]
    has_policy: bool = True


@dataclass(frozen=True, slots=True)
class ClassLink:
    """A class the learner can open."""

    class_id: int
    title: str
    course_title: str


def is_enrolled(session: Session, class_id: int, person_id: int, role: EnrollmentRole) -> bool:
    """True when `person_id` holds an active enrollment with `role` in the class."""
    found = session.scalar(
        select(Enrollment.id).where(
            Enrollment.class_id == class_id,
            Enrollment.person_id == person_id,
            Enrollment.role == role,
            Enrollment.is_active.is_(True),
        )
    )
    return found is not None


def student_classes(session: Session, person_id: int, class_ids: set[int]) -> list[ClassLink]:
    """The classes among `class_ids` the person is an active student of, by title."""
    rows = session.execute(
        select(SchoolClass.id, SchoolClass.title, Course.title)
        .join(Course, Course.id == SchoolClass.course_id)
        .join(Enrollment, Enrollment.class_id == SchoolClass.id)
        .where(
            Enrollment.person_id == person_id,
            Enrollment.role == EnrollmentRole.STUDENT,
            Enrollment.is_active.is_(True),
            SchoolClass.id.in_(class_ids),
        )
        .order_by(func.lower(SchoolClass.title), SchoolClass.id)
    )
    return [ClassLink(class_id, title, course_title) for class_id, title, course_title in rows]


def _scale_levels(session: Session, school_class: SchoolClass, policy: Policy) -> tuple[LevelView, ...]:
    """The school's default scale (with descriptors and I-can text), else the policy's level names."""
    school = session.get(Org, school_class.org_id)
    scale = (
        session.get(ProficiencyScale, school.default_scale_id) if school and school.default_scale_id else None
    )
    if scale is None:
        scale = session.scalar(
            select(ProficiencyScale)
            .where(ProficiencyScale.is_default.is_(True))
            .order_by(ProficiencyScale.id)
        )
    if scale is not None and scale.levels:
        return tuple(
            LevelView(level.value, level.label, level.i_can, level.is_mastery)
            for level in sorted(scale.levels, key=lambda item: item.value)
        )
    return tuple(
        LevelView(level.value, level.label, "", level.value >= policy.scale.mastery)
        for level in policy.scale.levels
    )


def _descriptors(session: Session, school_class: SchoolClass) -> dict[Decimal, str]:
    school = session.get(Org, school_class.org_id)
    scale_id = school.default_scale_id if school else None
    rows = session.execute(
        select(ProficiencyLevel.value, ProficiencyLevel.descriptor).where(
            ProficiencyLevel.scale_id == scale_id
        )
    )
    return {value: descriptor for value, descriptor in rows}


def level_view(value: Decimal, levels: tuple[LevelView, ...]) -> LevelView:
    """`value` with the name and I-can meaning of the highest level at or below it."""
    match = None
    for level in levels:
        if value >= level.value:
            match = level
    if match is None:
        lowest = levels[0] if levels else None
        return LevelView(value, f"below {lowest.label}" if lowest else "", lowest.i_can if lowest else "")
    return LevelView(value, match.label, match.i_can, match.is_mastery)


def _next_level(current: LevelView | None, levels: tuple[LevelView, ...]) -> LevelView | None:
    if current is None:
        return levels[0] if levels else None
    return next((level for level in levels if level.value > current.value), None)


def build_student_progress(session: Session, school_class: SchoolClass, person: Person) -> StudentProgress:
    """The progress view model of `person` in `school_class` (the caller has checked access)."""
    course = session.get(Course, school_class.course_id)
    if course is None:  # pragma: no cover - the foreign key makes this impossible
        raise LookupError(f"class {school_class.id} names a missing course")
    # Without a school policy (a class created by a launch, before any setup) proficiency still needs a
    # method: the shipped default provides it, but no letter grades are shown until the school chooses one.
    policy, has_policy = class_policy(session, school_class)
    levels = _scale_levels(session, school_class, policy)
    chart_levels = [ChartLevel(level.value, level.label) for level in levels]
    descriptors = _descriptors(session, school_class)

    periods = class_periods(session, school_class.id)
    period_titles: dict[str, str] = {
        sourced_id: title
        for sourced_id, title in session.execute(
            select(AcademicSession.sourced_id, AcademicSession.title).where(
                AcademicSession.sourced_id.in_([period.period_id for period in periods])
            )
        )
        if sourced_id is not None
    }
    chart_periods = [
        ChartPeriod(period_titles.get(period.period_id, period.period_id), period.start, period.end)
        for period in periods
        if not period.is_credit_bearing
    ]

    indicators = session.scalars(
        select(CompetencyItem)
        .join(ClassIndicator, ClassIndicator.indicator_id == CompetencyItem.id)
        .where(ClassIndicator.class_id == school_class.id)
        .order_by(CompetencyItem.sequence, CompetencyItem.code)
    ).all()
    rows = session.execute(
        select(Evidence, Task.title)
        .outerjoin(Task, Task.id == Evidence.task_id)
        .where(Evidence.class_id == school_class.id, Evidence.student_id == person.id)
        .order_by(Evidence.demonstrated_at, Evidence.id)
    ).all()
    superseded_by = {row.supersedes_id: row for row, _ in rows if row.supersedes_id is not None}
    by_indicator: dict[int, list[tuple[Evidence, str | None]]] = defaultdict(list)
    for row, title in rows:
        by_indicator[row.indicator_id].append((row, title))
    guides = _guide_descriptors(session, [item.id for item in indicators])

    indicator_views = []
    for item in indicators:
        trail: list[EvidenceView] = []
        points: list[ChartPoint] = []
        for row, task_title in by_indicator.get(item.id, []):
            correction = superseded_by.get(row.id)
            is_current = correction is None
            trail.append(
                EvidenceView(
                    evidence_id=row.id,
                    demonstrated_on=_day(row.demonstrated_at),
                    task=task_title,
                    status=STATUS_WORDS[row.score_status],
                    level=level_view(row.level_value, levels) if row.level_value is not None else None,
                    comment=row.comment,
                    evidence_url=row.evidence_url if _is_web_link(row.evidence_url) else None,
                    kind=row.kind.value,
                    is_superseded=not is_current,
                    corrected_to=(
                        level_view(correction.level_value, levels)
                        if correction is not None and correction.level_value is not None
                        else None
                    ),
                    corrects_id=row.supersedes_id,
                )
            )
            if is_current and row.score_status == ScoreStatus.SCORED and row.level_value is not None:
                points.append(ChartPoint(_day(row.demonstrated_at), row.level_value, task_title))
        running = running_proficiency([point.value for point in points], policy.method)
        latest = running[-1] if running else None
        current = level_view(latest, levels) if latest is not None else None
        next_level = _next_level(current, levels)
        next_step = None
        if next_level is not None:
            asks_for = guides.get((item.id, next_level.value)) or descriptors.get(next_level.value, "")
            next_step = NextStep(next_level, asks_for)
        indicator_views.append(
            IndicatorProgress(
                indicator_id=item.id,
                code=item.code,
                statement=item.statement,
                i_can=_i_can(item.statement, current, next_level),
                current=current,
                evidence=tuple(trail),
                chart=render_chart(
                    chart_id=f"chart-{item.id}",
                    title=f"{item.code}: proficiency over time",
                    points=points,
                    proficiency=running,
                    levels=chart_levels,
                    periods=chart_periods,
                ),
                next_step=next_step,
            )
        )

    evidence = class_evidence(session, school_class, course.code).get(person.id, [])
    grades = grade_periods(policy, evidence, periods, student_id=str(person.id), course_id=course.code)
    if not has_policy:
        grades = ()
    period_views = tuple(
        PeriodGradeView(
            period_id=period.period_id,
            title=period_titles.get(period.period_id, period.period_id),
            start=period.start,
            end=period.end,
            letter=grade.letter,
            explanation=render_explanation(grade, course_title=course.title, policy=policy),
        )
        for period, grade in zip(periods, grades, strict=False)
    )
    return StudentProgress(
        class_id=school_class.id,
        person_id=person.id,
        student_name=f"{person.given_name} {person.family_name}".strip(),
        class_title=school_class.title,
        course_title=course.title,
        method_text=policy.method.describe(),
        levels=levels,
        indicators=tuple(indicator_views),
        periods=period_views,
        habits=_habits(session, school_class.id, person.id, levels),
        has_policy=has_policy,
    )


def _day(moment: datetime) -> date:
    return moment.date()


def _is_web_link(url: str | None) -> bool:
    # Only http(s) links become anchors: a javascript: URL typed into evidence must never be clickable.
    return bool(url) and str(url).lower().startswith(("https://", "http://"))


def _i_can(statement: str, current: LevelView | None, next_level: LevelView | None) -> str:
    """The indicator's statement when it is already an I-can statement, else the scale level's meaning."""
    if statement.strip().lower().startswith("i can"):
        return statement
    for level in (current, next_level):
        if level is not None and level.i_can:
            return level.i_can
    return ""


def _guide_descriptors(session: Session, indicator_ids: list[int]) -> dict[tuple[int, Decimal], str]:
    rows = session.execute(
        select(
            ScoringGuide.indicator_id, ScoringGuideDescriptor.level_value, ScoringGuideDescriptor.descriptor
        )
        .join(ScoringGuideDescriptor, ScoringGuideDescriptor.guide_id == ScoringGuide.id)
        .where(ScoringGuide.indicator_id.in_(indicator_ids))
        .order_by(ScoringGuide.id)
    )
    found: dict[tuple[int, Decimal], str] = {}
    for indicator_id, value, descriptor in rows:
        found.setdefault((indicator_id, value), descriptor)
    return found


def _habits(
    session: Session, class_id: int, person_id: int, levels: tuple[LevelView, ...]
) -> tuple[HabitView, ...]:
    rows = session.scalars(
        select(HabitScore)
        .where(HabitScore.class_id == class_id, HabitScore.student_id == person_id)
        .order_by(HabitScore.habit, HabitScore.observed_on, HabitScore.id)
    ).all()
    grouped: dict[str, list[HabitScore]] = defaultdict(list)
    for row in rows:
        grouped[row.habit.value].append(row)
    return tuple(
        HabitView(
            habit=habit.replace("_", " ").capitalize(),
            latest=level_view(items[-1].value, levels),
            observed_on=items[-1].observed_on,
            count=len(items),
        )
        for habit, items in sorted(grouped.items())
    )
