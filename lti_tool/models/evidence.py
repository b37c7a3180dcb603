"""Tasks, append-only evidence of demonstrated proficiency, and habit-of-work scores."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    Date,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Numeric,
    Select,
    String,
    Text,
    UniqueConstraint,
    event,
    exists,
    select,
)
from sqlalchemy.orm import Mapped, ORMExecuteState, Session, aliased, mapped_column

from lti_tool.errors import MasteryBridgeError
from lti_tool.models.base import Base, UtcDateTime, str_enum, utcnow
from lti_tool.models.enums import AssessmentKind, EvidenceSource, Habit, ScoreStatus


class AppendOnlyError(MasteryBridgeError):
    """Something tried to UPDATE or DELETE a row of an append-only table (evidence)."""


class Task(Base):
    """A demonstration opportunity in a class (an assignment, project, performance task or exhibition)."""

    __tablename__ = "tasks"

    id: Mapped[int] = mapped_column(primary_key=True)
    class_id: Mapped[int] = mapped_column(ForeignKey("classes.id"), index=True)
    title: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(Text, default="")
    assigned_on: Mapped[date | None] = mapped_column(Date)
    kind: Mapped[AssessmentKind] = mapped_column(str_enum(AssessmentKind, "kind"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("persons.id"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class TaskIndicator(Base):
    """An indicator a task gives students the opportunity to demonstrate."""

    __tablename__ = "task_indicators"

    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"), primary_key=True)
    indicator_id: Mapped[int] = mapped_column(
        ForeignKey("competency_items.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class Evidence(Base):
    """One demonstration by a student on one indicator. APPEND-ONLY: rows are never updated or deleted.

    A correction is a new row whose `supersedes_id` names the row it replaces; each row can be superseded
    at most once (unique), and only by a row for the same student, class and indicator (composite foreign
    key). The current evidence is the set of rows nobody supersedes (`select_current_evidence`).

    Only `scored` evidence carries a `level_value`; not yet demonstrated, missing and excused are never a
    zero (CHECK constraint). Demonstrations are ordered by `demonstrated_at` (when the student did the
    work), not `recorded_at` (when it was typed in).

    Enforced twice: an ORM guard (`before_flush`, `do_orm_execute`) raises `AppendOnlyError`, and
    database triggers created in the initial migration refuse UPDATE and DELETE from any client.
    """

    __tablename__ = "evidence"
    __table_args__ = (
        CheckConstraint(
            "(score_status = 'scored' AND level_value IS NOT NULL)"
            " OR (score_status <> 'scored' AND level_value IS NULL)",
            name="level_value_iff_scored",
        ),
        # Target of the supersedes foreign key: a correction stays on its student x class x indicator.
        UniqueConstraint("id", "student_id", "class_id", "indicator_id"),
        ForeignKeyConstraint(
            ["supersedes_id", "student_id", "class_id", "indicator_id"],
            ["evidence.id", "evidence.student_id", "evidence.class_id", "evidence.indicator_id"],
        ),
        Index("ix_evidence_timeline", "class_id", "student_id", "indicator_id", "demonstrated_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    student_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), index=True)
    class_id: Mapped[int] = mapped_column(ForeignKey("classes.id"))
    indicator_id: Mapped[int] = mapped_column(ForeignKey("competency_items.id"))
    task_id: Mapped[int | None] = mapped_column(ForeignKey("tasks.id"), index=True)
    score_status: Mapped[ScoreStatus] = mapped_column(str_enum(ScoreStatus, "score_status"))
    level_value: Mapped[Decimal | None] = mapped_column(Numeric(5, 2))
    demonstrated_at: Mapped[datetime] = mapped_column(UtcDateTime())
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    assessor_id: Mapped[int | None] = mapped_column(ForeignKey("persons.id"))
    comment: Mapped[str | None] = mapped_column(Text)
    evidence_url: Mapped[str | None] = mapped_column(String(2048))
    kind: Mapped[AssessmentKind] = mapped_column(str_enum(AssessmentKind, "kind"))
    source: Mapped[EvidenceSource] = mapped_column(str_enum(EvidenceSource, "source"))
    supersedes_id: Mapped[int | None] = mapped_column(unique=True)


class HabitScore(Base):
    """A habit-of-work observation, kept apart from evidence so it never enters an academic grade."""

    __tablename__ = "habit_scores"
    __table_args__ = (Index("ix_habit_scores_timeline", "class_id", "student_id", "habit", "observed_on"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    student_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), index=True)
    class_id: Mapped[int] = mapped_column(ForeignKey("classes.id"))
    habit: Mapped[Habit] = mapped_column(str_enum(Habit, "habit"))
    value: Mapped[Decimal] = mapped_column(Numeric(5, 2))
    observed_on: Mapped[date] = mapped_column(Date)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("persons.id"))
    comment: Mapped[str | None] = mapped_column(Text)
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


def current_evidence_query(
    *,
    class_id: int | None = None,
    student_id: int | None = None,
    indicator_id: int | None = None,
) -> Select[Evidence]:
    """Build a SELECT of evidence no other row supersedes, oldest demonstration first (ties by id)."""
    correction = aliased(Evidence)
    query = select(Evidence).where(~exists().where(correction.supersedes_id == Evidence.id))
    if class_id is not None:
        query = query.where(Evidence.class_id == class_id)
    if student_id is not None:
        query = query.where(Evidence.student_id == student_id)
    if indicator_id is not None:
        query = query.where(Evidence.indicator_id == indicator_id)
    return query.order_by(Evidence.demonstrated_at, Evidence.id)


def select_current_evidence(
    session: Session,
    *,
    class_id: int | None = None,
    student_id: int | None = None,
    indicator_id: int | None = None,
) -> Sequence[Evidence]:
    """Return the current (not superseded) evidence, ordered by `demonstrated_at` then id."""
    query = current_evidence_query(class_id=class_id, student_id=student_id, indicator_id=indicator_id)
    return session.scalars(query).all()


@event.listens_for(Session, "before_flush")
def _refuse_evidence_changes(session: Session, flush_context: Any, instances: Any) -> None:
    for obj in session.deleted:
        if isinstance(obj, Evidence):
            raise AppendOnlyError(
                f"evidence {obj.id} is append-only: record a correction that supersedes it, do not delete it"
            )
    for obj in session.dirty:
        if isinstance(obj, Evidence) and session.is_modified(obj, include_collections=False):
            raise AppendOnlyError(
                f"evidence {obj.id} is append-only: record a correction that supersedes it, do not update it"
            )


@event.listens_for(Session, "do_orm_execute")
def _refuse_evidence_bulk_changes(orm_execute_state: ORMExecuteState) -> None:
    if not (orm_execute_state.is_update or orm_execute_state.is_delete):
        return
    if any(mapper.class_ is Evidence for mapper in orm_execute_state.all_mappers):
        verb = "UPDATE" if orm_execute_state.is_update else "DELETE"
        raise AppendOnlyError(f"evidence is append-only: bulk {verb} refused")
