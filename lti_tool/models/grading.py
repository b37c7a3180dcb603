"""Versioned grading policies and the grades posted to legacy systems, with their amendment chains."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Numeric,
    Select,
    String,
    Text,
    UniqueConstraint,
    exists,
    select,
    text,
)
from sqlalchemy.orm import Mapped, Session, aliased, mapped_column

from lti_tool.models.base import Base, UtcDateTime, json_document, str_enum, utcnow
from lti_tool.models.enums import PostedGradeStatus


class GradingPolicy(Base):
    """One version of a school's grading policy; `document` is the TOML the mappings core parses.

    Versions are never edited in place: a change is a new (name, version) so posted grades stay reproducible.
    """

    __tablename__ = "grading_policies"
    __table_args__ = (UniqueConstraint("name", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    version: Mapped[str] = mapped_column(String(32))
    effective_year: Mapped[str] = mapped_column(String(16))
    document: Mapped[str] = mapped_column(Text)
    org_id: Mapped[int | None] = mapped_column(ForeignKey("orgs.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class GradePosting(Base):
    """One registrar's posting of a grading period for a school: the check it passed and what it stored."""

    __tablename__ = "grade_postings"

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id"), index=True)
    academic_session_id: Mapped[int] = mapped_column(ForeignKey("academic_sessions.id"))
    posted_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    posted_by: Mapped[str] = mapped_column(String(255))
    counts: Mapped[dict[str, Any]] = mapped_column(json_document(), default=dict)
    check_report: Mapped[dict[str, Any]] = mapped_column(json_document(), default=dict)


class PostedGrade(Base):
    """A grade posted for a student in a class for a grading period, with the explanation behind it.

    Amendments chain instead of overwriting. The first posting for a student x class x period has
    `amendment_of_id` NULL, and a partial unique index allows only one such row per triple. A change after
    posting is a new row whose `amendment_of_id` names the row it amends (with a required
    `amendment_reason`); `amendment_of_id` is unique, so each row is amended at most once and the chain is a
    line, and a composite foreign key keeps every amendment on the same student, class and period. The
    current grade is the one row of the chain that nothing amends (`select_current_posted_grades`).
    """

    __tablename__ = "posted_grades"
    __table_args__ = (
        Index(
            "uq_posted_grades_original",
            "student_id",
            "class_id",
            "academic_session_id",
            unique=True,
            sqlite_where=text("amendment_of_id IS NULL"),
            postgresql_where=text("amendment_of_id IS NULL"),
        ),
        UniqueConstraint("id", "student_id", "class_id", "academic_session_id"),
        ForeignKeyConstraint(
            ["amendment_of_id", "student_id", "class_id", "academic_session_id"],
            [
                "posted_grades.id",
                "posted_grades.student_id",
                "posted_grades.class_id",
                "posted_grades.academic_session_id",
            ],
        ),
        CheckConstraint(
            "amendment_of_id IS NULL OR amendment_reason IS NOT NULL", name="amendment_has_reason"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    student_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), index=True)
    class_id: Mapped[int] = mapped_column(ForeignKey("classes.id"), index=True)
    academic_session_id: Mapped[int] = mapped_column(ForeignKey("academic_sessions.id"))
    policy_id: Mapped[int] = mapped_column(ForeignKey("grading_policies.id"))
    course_value: Mapped[Decimal | None] = mapped_column(Numeric(5, 2))
    letter: Mapped[str | None] = mapped_column(String(16))
    grade_points: Mapped[Decimal | None] = mapped_column(Numeric(5, 2))
    status: Mapped[PostedGradeStatus] = mapped_column(str_enum(PostedGradeStatus, "status"))
    evidence_count: Mapped[int] = mapped_column(default=0)
    provenance: Mapped[dict[str, Any]] = mapped_column(json_document(), default=dict)
    computed_at: Mapped[datetime] = mapped_column(UtcDateTime())
    posted_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    posted_by: Mapped[str | None] = mapped_column(String(255))
    is_locked: Mapped[bool] = mapped_column(default=False)
    amendment_of_id: Mapped[int | None] = mapped_column(unique=True)
    amendment_reason: Mapped[str | None] = mapped_column(Text)
    posting_id: Mapped[int | None] = mapped_column(ForeignKey("grade_postings.id"), index=True)


def current_posted_grades_query(
    *,
    class_id: int | None = None,
    student_id: int | None = None,
    academic_session_id: int | None = None,
) -> Select[PostedGrade]:
    """Build a SELECT of posted grades that no amendment replaces (one per student x class x period)."""
    amendment = aliased(PostedGrade)
    query = select(PostedGrade).where(~exists().where(amendment.amendment_of_id == PostedGrade.id))
    if class_id is not None:
        query = query.where(PostedGrade.class_id == class_id)
    if student_id is not None:
        query = query.where(PostedGrade.student_id == student_id)
    if academic_session_id is not None:
        query = query.where(PostedGrade.academic_session_id == academic_session_id)
    return query.order_by(PostedGrade.class_id, PostedGrade.academic_session_id, PostedGrade.student_id)


def select_current_posted_grades(
    session: Session,
    *,
    class_id: int | None = None,
    student_id: int | None = None,
    academic_session_id: int | None = None,
) -> Sequence[PostedGrade]:
    """Return the current posted grades, after every amendment."""
    query = current_posted_grades_query(
        class_id=class_id, student_id=student_id, academic_session_id=academic_session_id
    )
    return session.scalars(query).all()
