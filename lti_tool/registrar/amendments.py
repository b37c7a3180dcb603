"""Amend a posted grade: a new row in its chain, with a required reason, an audit record and a new SIS push.

Posted grades are never edited. An amendment is a new PostedGrade whose `amendment_of_id` names the row it
replaces (models.grading); the chain is a line, its last row is the current grade, and every report can tell
an amendment from an original (`is_amendment`). The audit row records who, when, old -> new and why.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lti_tool.models import AuditLog, GradingPolicy, PostedGrade, PostedGradeStatus, utcnow
from lti_tool.policies import policy_from_row
from lti_tool.registrar.errors import AmendmentError, NotFoundError
from lti_tool.sis.outbox import enqueue_posted_grades
from mappings import Policy

#: `posted_grades.letter` is VARCHAR(16); `course_value` is NUMERIC(5, 2).
MAX_LETTER = 16


@dataclass(frozen=True, slots=True)
class GradeValues:
    """The values an amendment can change."""

    letter: str | None
    course_value: Decimal | None
    grade_points: Decimal | None
    status: PostedGradeStatus

    @classmethod
    def of(cls, row: PostedGrade) -> GradeValues:
        """The values of a stored row."""
        return cls(row.letter, row.course_value, row.grade_points, row.status)

    def to_dict(self) -> dict[str, Any]:
        """JSON form (Decimals as strings)."""
        return {
            "letter": self.letter,
            "course_value": None if self.course_value is None else str(self.course_value),
            "grade_points": None if self.grade_points is None else str(self.grade_points),
            "status": self.status.value,
        }

    def describe(self) -> str:
        """E.g. "B (2.75, 3.0 points)"."""
        parts = [str(value) for value in (self.course_value,) if value is not None]
        if self.grade_points is not None:
            parts.append(f"{self.grade_points} points")
        return f"{self.letter or '-'}" + (f" ({', '.join(parts)})" if parts else "")


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One row of a grade's chain, oldest first."""

    posted_grade_id: int
    amendment_of_id: int | None
    values: GradeValues
    posted_at: datetime | None
    posted_by: str | None
    reason: str | None
    is_current: bool
    posting_id: int | None

    @property
    def is_amendment(self) -> bool:
        """True for every row after the original posting."""
        return self.amendment_of_id is not None


@dataclass(frozen=True, slots=True)
class GradeHistory:
    """The whole chain of one student's grade in one class for one period."""

    student_id: int
    class_id: int
    academic_session_id: int
    entries: tuple[HistoryEntry, ...]

    @property
    def current(self) -> HistoryEntry:
        """The grade in force (the last row)."""
        return self.entries[-1]

    @property
    def original(self) -> HistoryEntry:
        """The grade as first posted."""
        return self.entries[0]


def parse_course_value(text: str, *, field: str = "course value") -> Decimal:
    """A course value typed by a registrar, or AmendmentError naming the field."""
    try:
        value = Decimal(text.strip())
    except InvalidOperation as exc:
        raise AmendmentError(f"{field}: {text!r} is not a number") from exc
    if not value.is_finite():
        raise AmendmentError(f"{field}: {text!r} is not a number")
    return value


def amended_values(policy: Policy, *, letter: str | None, course_value: Decimal | None) -> GradeValues:
    """The values after an amendment, with grade points recomputed from the policy's letter table.

    - A course value alone: rounded by the policy's course rule, then the letter and points come from the
      letter table (through the policy's percentage mapping when it has one), as for a computed grade.
    - A letter alone: its points come from the table; the course value is cleared, because the computed value
      no longer explains the letter (the old value stays in the chain and the audit trail).
    - Both: the letter decides the points; the value is kept as given.
    The insufficient-evidence code gives status insufficient_evidence and no points; a pass code (e.g. P)
    is graded but earns no points (GPA leaves it out).
    """
    if course_value is not None:
        scale = policy.scale
        if not scale.minimum <= course_value <= scale.maximum:
            raise AmendmentError(
                f"course value: {course_value} is outside the scale of policy {policy.name} "
                f"({scale.minimum} to {scale.maximum})"
            )
        course_value = policy.course_rounding.apply(course_value)
    if letter is None:
        if course_value is None:
            raise AmendmentError("an amendment needs a new letter or a new course value")
        cut_on = policy.percent.to_percent(course_value) if policy.percent is not None else course_value
        row = policy.row_for(cut_on)
        return GradeValues(row.letter, course_value, row.points, PostedGradeStatus.GRADED)
    letter = letter.strip()
    if not letter or len(letter) > MAX_LETTER:
        raise AmendmentError(f"letter: {letter!r} must be 1 to {MAX_LETTER} characters")
    for row in policy.letters:
        if row.letter == letter:
            return GradeValues(letter, course_value, row.points, PostedGradeStatus.GRADED)
    if letter == policy.evidence.insufficient_code:
        return GradeValues(letter, None, None, PostedGradeStatus.INSUFFICIENT_EVIDENCE)
    if letter in policy.ncaa.pass_codes:
        return GradeValues(letter, course_value, None, PostedGradeStatus.GRADED)
    allowed = [row.letter for row in policy.letters] + [
        policy.evidence.insufficient_code,
        *policy.ncaa.pass_codes,
    ]
    raise AmendmentError(
        f"letter: {letter!r} is not in the letter table of policy {policy.name} {policy.version} "
        f"(allowed: {', '.join(allowed)})"
    )


def _current_successor(session: Session, row_id: int) -> int | None:
    return session.scalar(select(PostedGrade.id).where(PostedGrade.amendment_of_id == row_id))


def amend_grade(
    session: Session,
    posted_grade_id: int,
    *,
    letter: str | None = None,
    course_value: Decimal | None = None,
    reason: str,
    actor: str,
    now: datetime | None = None,
) -> PostedGrade:
    """Amend the current posted grade `posted_grade_id`; returns the new row (flushed, not committed).

    Only the current row of a chain can be amended (amending an older one would fork the history): the
    error names the row to amend instead. The new row is locked like the original, keeps its posting and
    provenance, and is queued for the SIS in the caller's transaction.
    """
    now = now or utcnow()
    reason = (reason or "").strip()
    if not reason:
        raise AmendmentError("reason: an amendment needs a reason (it is kept in the audit trail)")
    row = session.scalar(select(PostedGrade).where(PostedGrade.id == posted_grade_id).with_for_update())
    if row is None:
        raise NotFoundError(f"no posted grade {posted_grade_id}")
    if not row.is_locked or row.posted_at is None:
        raise AmendmentError(f"posted grade {posted_grade_id} was never posted: nothing to amend")
    successor = _current_successor(session, row.id)
    if successor is not None:
        current = grade_history(session, row.id).current.posted_grade_id
        raise AmendmentError(
            f"posted grade {posted_grade_id} was already amended (by {successor}); amend the current grade "
            f"{current} instead"
        )
    policy_row = session.get(GradingPolicy, row.policy_id)
    if policy_row is None:  # pragma: no cover - the foreign key makes this impossible
        raise AmendmentError(f"posted grade {posted_grade_id} names a missing policy {row.policy_id}")
    old = GradeValues.of(row)
    new = amended_values(policy_from_row(policy_row), letter=letter, course_value=course_value)
    if new == old:
        raise AmendmentError(f"posted grade {posted_grade_id} is already {old.describe()}: nothing to amend")
    record = {"amends": row.id, "old": old.to_dict(), "new": new.to_dict(), "reason": reason, "by": actor,
              "at": now.isoformat()}  # fmt: skip
    amendment = PostedGrade(
        student_id=row.student_id,
        class_id=row.class_id,
        academic_session_id=row.academic_session_id,
        policy_id=row.policy_id,
        course_value=new.course_value,
        letter=new.letter,
        grade_points=new.grade_points,
        status=new.status,
        evidence_count=row.evidence_count,
        provenance={**row.provenance, "amendment": record},
        computed_at=now,
        posted_at=now,
        posted_by=actor,
        is_locked=True,
        amendment_of_id=row.id,
        amendment_reason=reason,
        posting_id=row.posting_id,
    )
    session.add(amendment)
    session.flush()
    session.add(
        AuditLog(
            at=now,
            actor=actor,
            action="grades.amend",
            entity_type="posted_grade",
            entity_id=str(amendment.id),
            detail={
                **record,
                "student_id": row.student_id,
                "class_id": row.class_id,
                "academic_session_id": row.academic_session_id,
            },
        )
    )
    enqueue_posted_grades(session, [amendment], now=now)
    session.flush()
    return amendment


def grade_history(session: Session, posted_grade_id: int) -> GradeHistory:
    """The chain that `posted_grade_id` belongs to, from the original posting to the current grade."""
    row = session.get(PostedGrade, posted_grade_id)
    if row is None:
        raise NotFoundError(f"no posted grade {posted_grade_id}")
    rows = session.scalars(
        select(PostedGrade)
        .where(
            PostedGrade.student_id == row.student_id,
            PostedGrade.class_id == row.class_id,
            PostedGrade.academic_session_id == row.academic_session_id,
        )
        .order_by(PostedGrade.id)
    ).all()
    successor = {item.amendment_of_id: item for item in rows if item.amendment_of_id is not None}
    chain: list[PostedGrade] = []
    link = next((item for item in rows if item.amendment_of_id is None), None)
    while link is not None:
        chain.append(link)
        link = successor.get(link.id)
    entries = tuple(
        HistoryEntry(
            posted_grade_id=item.id,
            amendment_of_id=item.amendment_of_id,
            values=GradeValues.of(item),
            posted_at=item.posted_at,
            posted_by=item.posted_by,
            reason=item.amendment_reason,
            is_current=index == len(chain) - 1,
            posting_id=item.posting_id,
        )
        for index, item in enumerate(chain)
    )
    return GradeHistory(row.student_id, row.class_id, row.academic_session_id, entries)
