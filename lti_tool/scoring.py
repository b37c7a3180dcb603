"""Record what teachers score: tasks, evidence rows, corrections and habits of work (on a Session, no commit).

Saves only insert. A reassessment is another Evidence row; a correction is a new row that supersedes the
old one (`Evidence.supersedes_id`); nothing is updated or deleted, so two teachers scoring the same student
at once both keep their evidence. "Not yet demonstrated" and "missing" are recorded without a level: never a zero.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation
from typing import Final

from sqlalchemy import exists, select
from sqlalchemy.orm import Session, aliased

from lti_tool.errors import MasteryBridgeError
from lti_tool.models import (
    AssessmentKind,
    ClassIndicator,
    Enrollment,
    EnrollmentRole,
    Evidence,
    EvidenceSource,
    Habit,
    HabitScore,
    Org,
    ProficiencyLevel,
    ProficiencyScale,
    SchoolClass,
    ScoreStatus,
    Task,
    TaskIndicator,
    utcnow,
)

#: Demonstrations entered for a day are placed at noon UTC of that day (the day is what teachers enter).
DEMONSTRATION_TIME: Final = time(12, 0)
HABIT_MINIMUM: Final = Decimal(1)
HABIT_MAXIMUM: Final = Decimal(4)
#: One-key codes of the scoring sheet for entries without a level.
STATUS_CODES: Final = {
    "a": ScoreStatus.NOT_YET_DEMONSTRATED,
    "m": ScoreStatus.MISSING,
    "x": ScoreStatus.EXCUSED,
}


class ScoringError(MasteryBridgeError):
    """A score cannot be recorded; `status` is the HTTP status a view answers with (400 or 403)."""

    def __init__(self, message: str, *, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True, slots=True)
class Entry:
    """One cell of a scoring row: a level, or a status without one."""

    status: ScoreStatus
    level_value: Decimal | None = None


def parse_entry(text: str, allowed: Sequence[Decimal], *, where: str) -> Entry | None:
    """A typed cell ("3", "a", "m", "x" or empty) as an Entry; None when empty; ScoringError when out of scale."""
    text = text.strip().lower()
    if not text:
        return None
    if text in STATUS_CODES:
        return Entry(STATUS_CODES[text])
    try:
        value = Decimal(text)
    except InvalidOperation as exc:
        raise ScoringError(f"{where}: {text!r} is not a level, 'a' (absent) or 'm' (missing)") from exc
    if value not in allowed:
        levels = ", ".join(f"{level.normalize():f}" for level in allowed)
        raise ScoringError(f"{where}: level {text!r} is not on the scale ({levels})")
    return Entry(ScoreStatus.SCORED, value)


def class_scale(session: Session, school_class: SchoolClass) -> ProficiencyScale | None:
    """The scale teachers score on: the school's default, else its district's, else the global default."""
    org = session.get(Org, school_class.org_id)
    while org is not None:
        if org.default_scale_id is not None:
            return session.get(ProficiencyScale, org.default_scale_id)
        org = session.get(Org, org.parent_id) if org.parent_id is not None else None
    return session.scalars(
        select(ProficiencyScale).where(ProficiencyScale.is_default.is_(True)).order_by(ProficiencyScale.id)
    ).first()


def scale_values(session: Session, scale: ProficiencyScale | None) -> tuple[Decimal, ...]:
    """The level values of `scale` (ascending), or 1-4 when the district has none."""
    if scale is None:
        return (Decimal(1), Decimal(2), Decimal(3), Decimal(4))
    values = session.scalars(
        select(ProficiencyLevel.value)
        .where(ProficiencyLevel.scale_id == scale.id)
        .order_by(ProficiencyLevel.value)
    ).all()
    return tuple(values)


def class_indicator_ids(session: Session, class_id: int) -> set[int]:
    """The ids of the indicators a class is assessed on."""
    return set(
        session.scalars(select(ClassIndicator.indicator_id).where(ClassIndicator.class_id == class_id))
    )


def task_indicator_ids(session: Session, task_id: int) -> list[int]:
    """The indicators a task is aligned to."""
    return list(
        session.scalars(
            select(TaskIndicator.indicator_id)
            .where(TaskIndicator.task_id == task_id)
            .order_by(TaskIndicator.indicator_id)
        )
    )


def create_task(
    session: Session,
    school_class: SchoolClass,
    *,
    title: str,
    kind: AssessmentKind,
    indicator_ids: Sequence[int],
    assigned_on: date,
    created_by_id: int | None,
) -> Task:
    """A new task aligned to some of the class's indicators."""
    title = title.strip()
    if not title:
        raise ScoringError("task title is empty")
    if not indicator_ids:
        raise ScoringError("a task needs at least one aligned indicator")
    foreign = set(indicator_ids) - class_indicator_ids(session, school_class.id)
    if foreign:
        raise ScoringError(f"indicators {sorted(foreign)} are not assessed in this class", status=403)
    task = Task(
        class_id=school_class.id,
        title=title[:255],
        assigned_on=assigned_on,
        kind=kind,
        created_by_id=created_by_id,
    )
    session.add(task)
    session.flush()
    session.add_all(
        TaskIndicator(task_id=task.id, indicator_id=indicator_id)
        for indicator_id in sorted(set(indicator_ids))
    )
    session.flush()
    return task


def require_student(session: Session, class_id: int, student_id: int) -> None:
    """ScoringError (403) unless `student_id` is an active student of the class."""
    is_student = session.scalar(
        select(
            exists().where(
                Enrollment.class_id == class_id,
                Enrollment.person_id == student_id,
                Enrollment.role == EnrollmentRole.STUDENT,
                Enrollment.is_active.is_(True),
            )
        )
    )
    if not is_student:
        raise ScoringError(f"person {student_id} is not a student of class {class_id}", status=403)


def demonstration_time(day: date) -> datetime:
    """When a demonstration entered for `day` is placed on the timeline."""
    return datetime.combine(day, DEMONSTRATION_TIME, tzinfo=UTC)


def clean_url(url: str | None) -> str | None:
    """An evidence link, only http(s) (a `javascript:` link must never reach a page)."""
    url = (url or "").strip()
    if not url:
        return None
    if not url.lower().startswith(("http://", "https://")) or len(url) > 2048:
        raise ScoringError(f"evidence link {url[:80]!r} must be an http(s) address")
    return url


def record_row(
    session: Session,
    task: Task,
    *,
    student_id: int,
    entries: Mapping[int, Entry],
    demonstrated_on: date | None,
    assessor_id: int,
    comment: str | None = None,
    evidence_url: str | None = None,
) -> list[Evidence]:
    """Insert one evidence row per scored cell of a student's row on `task` (a reassessment simply adds)."""
    require_student(session, task.class_id, student_id)
    aligned = set(task_indicator_ids(session, task.id))
    foreign = set(entries) - aligned
    if foreign:
        raise ScoringError(f"indicators {sorted(foreign)} are not aligned to task {task.id}")
    when = demonstration_time(demonstrated_on or task.assigned_on or utcnow().date())
    now = utcnow()
    url = clean_url(evidence_url)
    rows = [
        Evidence(
            student_id=student_id,
            class_id=task.class_id,
            indicator_id=indicator_id,
            task_id=task.id,
            score_status=entry.status,
            level_value=entry.level_value,
            demonstrated_at=when,
            recorded_at=now,
            assessor_id=assessor_id,
            comment=(comment or "").strip() or None,
            evidence_url=url,
            kind=task.kind,
            source=EvidenceSource.LTI,
        )
        for indicator_id, entry in sorted(entries.items())
    ]
    session.add_all(rows)
    session.flush()
    return rows


def is_superseded(session: Session, evidence_id: int) -> bool:
    """True when a correction already replaces the row."""
    correction = aliased(Evidence)
    return bool(session.scalar(select(exists().where(correction.supersedes_id == evidence_id))))


def correct_evidence(
    session: Session,
    class_id: int,
    evidence_id: int,
    entry: Entry,
    *,
    assessor_id: int,
    comment: str | None = None,
) -> Evidence:
    """A new row superseding `evidence_id` (which stays untouched); its date, task and kind carry over.

    Only the current row can be corrected; two simultaneous corrections of one row collide on the unique
    `supersedes_id` and the second fails rather than silently losing the first.
    """
    original = session.get(Evidence, evidence_id)
    if original is None or original.class_id != class_id:
        raise ScoringError(f"evidence {evidence_id} is not in class {class_id}", status=403)
    if is_superseded(session, evidence_id):
        raise ScoringError(f"evidence {evidence_id} was already corrected; correct the newer row")
    row = Evidence(
        student_id=original.student_id,
        class_id=original.class_id,
        indicator_id=original.indicator_id,
        task_id=original.task_id,
        score_status=entry.status,
        level_value=entry.level_value,
        demonstrated_at=original.demonstrated_at,
        recorded_at=utcnow(),
        assessor_id=assessor_id,
        comment=(comment or "").strip() or original.comment,
        evidence_url=original.evidence_url,
        kind=original.kind,
        source=EvidenceSource.LTI,
        supersedes_id=original.id,
    )
    session.add(row)
    session.flush()
    return row


def parse_habit(text: str, *, where: str) -> Decimal | None:
    """A habit value 1-4 (whole levels), None when empty."""
    text = text.strip()
    if not text:
        return None
    try:
        value = Decimal(text)
    except InvalidOperation as exc:
        raise ScoringError(f"{where}: {text!r} is not a habit level 1-4") from exc
    if value != value.to_integral_value() or not HABIT_MINIMUM <= value <= HABIT_MAXIMUM:
        raise ScoringError(f"{where}: habit level {text!r} is outside 1-4")
    return value


def record_habits(
    session: Session,
    class_id: int,
    *,
    student_id: int,
    values: Mapping[Habit, Decimal],
    observed_on: date,
    recorded_by_id: int,
) -> list[HabitScore]:
    """Insert habit-of-work observations: a table of their own, never evidence, never in a grade."""
    require_student(session, class_id, student_id)
    rows = [
        HabitScore(
            student_id=student_id,
            class_id=class_id,
            habit=habit,
            value=value,
            observed_on=observed_on,
            recorded_by_id=recorded_by_id,
        )
        for habit, value in values.items()
    ]
    session.add_all(rows)
    session.flush()
    return rows
