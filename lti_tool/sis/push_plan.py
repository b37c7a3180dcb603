"""`sis push --dry-run`: what sending a period's grades would change in the SIS, with nothing written.

The results we would send are built exactly as the outbox builds them (`lti_tool.sis.grade_push`) from
the period's current posted grades (amendments applied); each is compared with what the SIS holds under
the same deterministic sourcedId (`GradeSink.get_result`, None on 404): new, changed (with the fields that
differ, ours -> theirs) or the same. Also `enqueue_period`: queue a period's current grades for one
connection (a no-op for those already queued), which a real `sis push` does before delivering.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Final

from sqlalchemy.orm import Session

from connectors.oneroster.gradebook import GradeSink, RemoteResult
from connectors.oneroster_csv.payloads import PeriodResult
from lti_tool.models import AcademicSession, SisConnection, select_current_posted_grades, utcnow
from lti_tool.sis.grade_push import MessageKind, PushBuild, SkippedGrade, build_push
from lti_tool.sis.outbox import EnqueueReport, enqueue_messages

NEW: Final = "new"
CHANGED: Final = "changed"
SAME: Final = "same"


@dataclass(frozen=True, slots=True)
class FieldChange:
    """One field that differs: what we would send and what the SIS holds (as text)."""

    field: str
    ours: str | None
    theirs: str | None


@dataclass(frozen=True, slots=True)
class PlannedResult:
    """One result of the plan: `state` is new, changed or same; `changes` lists the differing fields."""

    sourced_id: str
    posted_grade_id: int | None
    state: str
    changes: tuple[FieldChange, ...] = ()


@dataclass(frozen=True, slots=True)
class PushPlan:
    """The difference between what a push of one period would send and what the SIS holds."""

    connection: str
    period: str
    results: tuple[PlannedResult, ...]
    skipped: tuple[SkippedGrade, ...]

    def counts(self) -> dict[str, int]:
        """How many results are new, changed and the same, and how many grades are skipped."""
        tally = Counter(r.state for r in self.results)
        return {NEW: tally[NEW], CHANGED: tally[CHANGED], SAME: tally[SAME], "skipped": len(self.skipped)}

    def to_json(self) -> dict[str, Any]:
        """The plan as JSON: counts, every new or changed result with its field changes, skip reasons."""
        return {
            "connection": self.connection,
            "period": self.period,
            "counts": self.counts(),
            "results": [
                {
                    "sourcedId": r.sourced_id,
                    "posted_grade_id": r.posted_grade_id,
                    "state": r.state,
                    "changes": [{"field": c.field, "ours": c.ours, "theirs": c.theirs} for c in r.changes],
                }
                for r in self.results
                if r.state != SAME
            ],
            "skipped": dict(Counter(s.reason for s in self.skipped)),
        }


def _text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    return str(value)


def compare_result(ours: PeriodResult, theirs: RemoteResult) -> tuple[FieldChange, ...]:
    """The fields of a result that differ between our record and the SIS's copy."""
    pairs: list[tuple[str, object, object]] = [
        ("status", ours.status.value, theirs.status.value),
        ("score", ours.score, theirs.score),
        ("letter", ours.text_score, theirs.letter),
        ("scoreStatus", ours.score_status, theirs.score_status),
        ("scoreDate", ours.score_date, theirs.score_date),
        ("student", ours.student_sourced_id, theirs.student_sourced_id),
        ("lineItem", ours.line_item_sourced_id, theirs.line_item_sourced_id),
    ]
    changes = []
    for name, mine, held in pairs:
        if isinstance(mine, Decimal) and isinstance(held, Decimal):
            differs = mine != held
        else:
            differs = _text(mine) != _text(held)
        if differs:
            changes.append(FieldChange(name, _text(mine), _text(held)))
    return tuple(changes)


def build_period(
    session: Session, connection: SisConnection, period: AcademicSession, *, now: datetime
) -> PushBuild:
    """The messages for the period's current posted grades that go to `connection`, and the skipped ones.

    Grades of classes another connection serves are left out; grades no connection can take are skipped.
    """
    grades = select_current_posted_grades(session, academic_session_id=period.id)
    build = build_push(session, grades, now=now)
    return PushBuild(
        messages=tuple(m for m in build.messages if m.connection_id == connection.id), skipped=build.skipped
    )


def plan_push(
    session: Session,
    connection: SisConnection,
    period: AcademicSession,
    sink: GradeSink,
    *,
    progress: Callable[[int], None] | None = None,
) -> PushPlan:
    """Compare the results a push of `period` would send with the SIS; writes nothing anywhere."""
    build = build_period(session, connection, period, now=utcnow())
    planned: list[PlannedResult] = []
    for message in build.messages:
        if message.kind is not MessageKind.RESULT or not isinstance(message.record, PeriodResult):
            continue
        remote = sink.get_result(message.sourced_id)
        if remote is None:
            planned.append(PlannedResult(message.sourced_id, message.posted_grade_id, NEW))
        else:
            changes = compare_result(message.record, remote)
            state = CHANGED if changes else SAME
            planned.append(PlannedResult(message.sourced_id, message.posted_grade_id, state, changes))
        if progress is not None:
            progress(1)
    return PushPlan(
        connection=connection.name,
        period=period.sourced_id or period.title,
        results=tuple(planned),
        skipped=build.skipped,
    )


def enqueue_period(
    session: Session, connection: SisConnection, period: AcademicSession, *, now: datetime | None = None
) -> EnqueueReport:
    """Queue the period's current posted grades for `connection` (in the caller's transaction)."""
    moment = now or utcnow()
    build = build_period(session, connection, period, now=moment)
    new_keys = enqueue_messages(session, build.messages, now=moment)
    queued = Counter(m.kind.value for m in build.messages if m.dedupe_key in new_keys)
    return EnqueueReport(
        queued=dict(queued), already_queued=len(build.messages) - len(new_keys), skipped=build.skipped
    )
