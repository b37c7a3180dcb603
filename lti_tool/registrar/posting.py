"""Post a grading period for a school: snapshot grades stored with their provenance, locked, queued for the SIS.

One transaction (the caller's): the GradePosting row, every PostedGrade, the audit row and the SIS outbox
messages commit together or not at all. Posted grades are never recomputed: evidence recorded afterwards
changes what pages show, not what was posted; a change to a posted grade is an amendment
(lti_tool.registrar.amendments).

Speed: grades stream from one ordered pass over the evidence (lti_tool.registrar.evidence_stream) and are
stored in batches of INSERT_BATCH rows, never one ORM object per grade: COPY on PostgreSQL, a Core
multi-row INSERT elsewhere. Concurrency: PostgreSQL serialises postings of one period with a row lock on it
(the second finds the period posted and refuses); SQLite has one writer at a time, and on every database
the partial unique index on original posted grades refuses a second posting of a student x class x period.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, type_coerce
from sqlalchemy.orm import Session, defer
from sqlalchemy.orm.attributes import set_committed_value

from lti_tool.models import (
    AcademicSession,
    AuditLog,
    GradePosting,
    Org,
    PostedGrade,
    PostedGradeStatus,
    utcnow,
)
from lti_tool.models.base import json_document
from lti_tool.policies import DEFAULT_POLICY_NAME, shipped_policy_document, store_policy
from lti_tool.registrar.errors import PostingRefusedError
from lti_tool.registrar.precheck import CheckTally, Issue, Severity, build_check, scope_issues
from lti_tool.registrar.scope import GradedStudent, PeriodScope, load_scope, stream_period_grades
from lti_tool.sis.outbox import enqueue_posted_grades
from mappings import render_explanation

logger = logging.getLogger(__name__)

#: Rows per INSERT batch: large enough to amortise round trips, small enough to bound memory.
INSERT_BATCH = 5_000
POSTED_STATUS = {status.value: status for status in PostedGradeStatus}


def provenance(item: GradedStudent, *, policy_row_id: int, as_of: str) -> dict[str, Any]:
    """How a posted grade was made, in JSON: policy, method, rule, evidence ids, per-indicator proficiency
    (with CASE identifiers) and the plain-words explanation shown to families."""
    grade = item.grade
    ids = item.evidence_ids
    scope_class = item.scope_class
    indicators = []
    used: list[int] = []
    for result in grade.indicators:
        # The core returns the very Evidence objects it was given, so id() finds each one's row id.
        evidence_ids = [ids[id(evidence)] for evidence in result.evidence]
        used.extend(evidence_ids)
        entry: dict[str, Any] = {
            "code": result.indicator_id,
            "case_identifier": scope_class.case_identifiers.get(result.indicator_id),
            "proficiency": None if result.proficiency is None else str(result.proficiency),
            "evidence_ids": evidence_ids,
        }
        if result.excluded:
            entry["excluded_ids"] = [ids[id(exclusion.evidence)] for exclusion in result.excluded]
        indicators.append(entry)
    cut = grade.cut_row
    return {
        "policy": {
            "id": policy_row_id,
            "name": grade.policy_name,
            "version": grade.policy_version,
            "is_school_policy": scope_class.has_policy,
        },
        "method": {"name": grade.method, "params": dict(grade.method_params)},
        "rule": grade.rule,
        "as_of": as_of,
        "percent": None if grade.percent is None else str(grade.percent),
        "cut_row": None if cut is None else {"letter": cut.letter, "min": str(cut.min_value), "points": str(cut.points)},
        "evidence_ids": sorted(used),
        "indicators": indicators,
        "explanation": render_explanation(grade, course_title=scope_class.course_title, policy=scope_class.policy),
    }  # fmt: skip


def _policy_row_ids(session: Session, scope: PeriodScope) -> dict[int, int]:
    """class id -> grading policy row; the shipped default is stored (once) for classes without one."""
    default_id: int | None = None
    ids: dict[int, int] = {}
    for scope_class in scope.classes:
        if scope_class.policy_row_id is not None:
            ids[scope_class.class_id] = scope_class.policy_row_id
            continue
        if default_id is None:
            document = shipped_policy_document(DEFAULT_POLICY_NAME)
            default_id = store_policy(session, document, source=DEFAULT_POLICY_NAME).id
        ids[scope_class.class_id] = default_id
    return ids


def _rows_for_push(session: Session, posting_id: int) -> list[PostedGrade]:
    """The posting's rows for the SIS push, their provenance loaded WITHOUT the explanation text.

    The push reads the per-indicator proficiencies, not the text; leaving the text (about half of every
    provenance) in the database saves decoding a few hundred MB at 120,000 grades. The caller expunges
    the rows afterwards, so nothing else in the session sees the shortened provenance.
    """
    dialect = session.get_bind().dialect.name
    without_text = (
        PostedGrade.provenance.op("-")("explanation")
        if dialect == "postgresql"
        else func.json_remove(PostedGrade.provenance, "$.explanation")
    )
    found = session.execute(
        select(PostedGrade, type_coerce(without_text, json_document()))
        .options(defer(PostedGrade.provenance))
        .where(PostedGrade.posting_id == posting_id)
        .order_by(PostedGrade.id)
    ).all()
    for row, light in found:
        set_committed_value(row, "provenance", light)
    return [row for row, _ in found]


def _refuse(session: Session, scope: PeriodScope, issues: list[Issue], now: datetime) -> PostingRefusedError:
    check = build_check(session, scope, CheckTally(scope), now=now, issues=issues, is_graded=False)
    reasons = "; ".join(issue.message for issue in check.blocking)
    return PostingRefusedError(f"posting refused: {reasons}", check)


def post_period(
    session: Session,
    school: Org,
    period: AcademicSession,
    *,
    actor: str,
    now: datetime | None = None,
    progress: Callable[[int], None] | None = None,
) -> GradePosting:
    """Post `period` for every class of `school` running in it; returns the GradePosting (flushed, not committed).

    Refuses (PostingRefusedError, carrying the check) when the check has blocking issues, above all when the
    period is already posted: amend instead. `progress` is called with the number of grades stored after
    each batch. Concurrent postings of one period wait for each other (row lock on the period on
    PostgreSQL); the second then finds the period posted and refuses.
    """
    now = now or utcnow()
    session.execute(select(AcademicSession.id).where(AcademicSession.id == period.id).with_for_update())
    scope = load_scope(session, school, period)
    issues = scope_issues(session, scope, now=now)
    if any(issue.severity is Severity.BLOCKING for issue in issues):
        raise _refuse(session, scope, issues, now)

    policy_ids = _policy_row_ids(session, scope)
    posting = GradePosting(
        org_id=school.id, academic_session_id=period.id, posted_at=now, posted_by=actor, counts={}, check_report={}
    )  # fmt: skip
    session.add(posting)
    session.flush()

    as_of = period.end_date.isoformat()
    tally = CheckTally(scope)
    batch: list[dict[str, Any]] = []
    stored = 0
    for item in stream_period_grades(session, scope):
        tally.add(item)
        grade = item.grade
        policy_id = policy_ids[item.scope_class.class_id]
        batch.append({
            "student_id": item.person_id, "class_id": item.scope_class.class_id,
            "academic_session_id": period.id, "policy_id": policy_id,
            "course_value": grade.course_value, "letter": grade.letter, "grade_points": grade.grade_points,
            "status": POSTED_STATUS[grade.status.value], "evidence_count": grade.evidence_count,
            "provenance": provenance(item, policy_row_id=policy_id, as_of=as_of),
            "computed_at": now, "posted_at": now, "posted_by": actor, "is_locked": True,
            "amendment_of_id": None, "amendment_reason": None, "posting_id": posting.id,
        })  # fmt: skip
        if len(batch) >= INSERT_BATCH:
            stored += _store(session, batch, progress)
    stored += _store(session, batch, progress)

    check = build_check(session, scope, tally, now=now, issues=issues)
    rows = _rows_for_push(session, posting.id)
    report = enqueue_posted_grades(session, rows, now=now)
    for row in rows:
        # Their provenance was loaded without the explanation: keep them out of the identity map.
        session.expunge(row)
    posting.counts = {**check.counts, "posted": stored, "outbox": report.to_json()}
    posting.check_report = check.to_dict()
    session.add(
        AuditLog(
            at=now,
            actor=actor,
            action="grades.post",
            entity_type="grade_posting",
            entity_id=str(posting.id),
            detail={
                "org_id": school.id,
                "academic_session_id": period.id,
                "posted": stored,
                "counts": posting.counts,
            },
        )
    )
    session.flush()
    logger.info(
        "posted %s for org %s: %d grades in %d classes (posting %s)",
        period.sourced_id or period.id, school.id, stored, len(scope.classes), posting.id,
    )  # fmt: skip
    return posting


# The columns a posting writes, in COPY order (models.grading.PostedGrade).
_COLUMNS = (
    "student_id", "class_id", "academic_session_id", "policy_id", "course_value", "letter", "grade_points",
    "status", "evidence_count", "provenance", "computed_at", "posted_at", "posted_by", "is_locked",
    "amendment_of_id", "amendment_reason", "posting_id",
)  # fmt: skip


def _store(session: Session, batch: list[dict[str, Any]], progress: Callable[[int], None] | None) -> int:
    """Write a batch: COPY on PostgreSQL (the caller's transaction), a Core multi-row INSERT elsewhere."""
    if not batch:
        return 0
    count = len(batch)
    if session.get_bind().dialect.name == "postgresql":
        _copy(session, batch)
    else:
        session.execute(insert(PostedGrade), batch)
    batch.clear()
    if progress is not None:
        progress(count)
    return count


def _copy(session: Session, batch: list[dict[str, Any]]) -> None:
    # COPY is several times faster than INSERT .. VALUES for wide JSONB rows; it bypasses SQLAlchemy's
    # bind processing, so values are given as the column types expect (enum by value, JSON as text).
    driver = session.connection().connection.driver_connection
    if driver is None:  # pragma: no cover - a live connection always has its driver connection
        raise RuntimeError("the session's connection has no driver connection")
    with (
        driver.cursor() as cursor,
        cursor.copy(f"COPY posted_grades ({', '.join(_COLUMNS)}) FROM STDIN") as copy,
    ):
        for row in batch:
            copy.write_row(
                tuple(
                    row[name].value if name == "status"
                    else json.dumps(row[name], separators=(",", ":")) if name == "provenance"
                    else row[name]
                    for name in _COLUMNS
                )
            )  # fmt: skip
