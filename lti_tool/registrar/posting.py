"""Post a grading period for a school: snapshot grades stored with their provenance, locked, queued for the SIS.

One transaction (the caller's): the GradePosting row, every PostedGrade, the audit row and the SIS outbox
messages commit together or not at all. Posted grades are never recomputed: evidence recorded afterwards
changes what pages show, not what was posted; a change to a posted grade is an amendment
(lti_tool.registrar.amendments).

Speed: the grades are computed a part of the classes at a time, in forked worker processes on a large
PostgreSQL job (lti_tool.registrar.posted_values), and stored in batches, never one ORM object per grade:
COPY on PostgreSQL, a Core multi-row INSERT elsewhere (lti_tool.registrar.posting_store). Concurrency: PostgreSQL serialises postings of one period with a row lock on it
(the second finds the period posted and refuses); SQLite has one writer at a time, and on every database
the partial unique index on original posted grades refuses a second posting of a student x class x period.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from lti_tool.gc_pause import collector_paused
from lti_tool.models import (
    AcademicSession,
    AuditLog,
    GradePosting,
    Org,
    PostedGradeStatus,
    utcnow,
)
from lti_tool.policies import DEFAULT_POLICY_NAME, shipped_policy_document, store_policy
from lti_tool.registrar.errors import PostingRefusedError
from lti_tool.registrar.posted_values import compute_posted_values, worker_count
from lti_tool.registrar.posting_store import GradeStore
from lti_tool.registrar.precheck import CheckTally, Issue, Severity, build_check, scope_issues
from lti_tool.registrar.scope import PeriodScope, load_scope
from lti_tool.sis.outbox import enqueue_posted_grades

logger = logging.getLogger(__name__)

_GRADED = PostedGradeStatus.GRADED.value


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


def _refuse(session: Session, scope: PeriodScope, issues: list[Issue], now: datetime) -> PostingRefusedError:
    check = build_check(session, scope, CheckTally(scope), now=now, issues=issues, is_graded=False)
    reasons = "; ".join(issue.message for issue in check.blocking)
    return PostingRefusedError(f"posting refused: {reasons}", check)


def _store_grades(
    session: Session,
    scope: PeriodScope,
    posting: GradePosting,
    policy_ids: Mapping[int, int],
    *,
    actor: str,
    now: datetime,
    progress: Callable[[int], None] | None,
) -> tuple[GradeStore, CheckTally]:
    """Grade and store every student x class in scope; returns the store (with the rows for the SIS push)
    and the check's tally."""
    period_id = scope.period.id
    tally = CheckTally(scope)
    classes = {item.class_id: item for item in scope.classes}
    store = GradeStore(session, posting.id, progress)
    grades = sum(len(item.student_ids) for item in scope.classes)
    is_postgres = session.get_bind().dialect.name == "postgresql"
    for values in compute_posted_values(
        session, scope, policy_ids, as_jsonb=is_postgres, workers=worker_count(session, grades)
    ):
        tally.count(classes[values.class_id], values.student_id, evidence_count=values.evidence_count,
                    is_graded=values.status == _GRADED)  # fmt: skip
        # In posting_store.COLUMNS order.
        row = (
            values.student_id, values.class_id, period_id, policy_ids[values.class_id], values.course_value,
            values.letter, values.grade_points, values.status, values.evidence_count, values.stored, now, now,
            actor, True, None, None, posting.id,
        )  # fmt: skip
        store.add(row, values.pushed)
    store.flush()
    return store, tally


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

    # Paused until the posting's objects (evidence, grades, provenance, the rows for the push) are freed:
    # a posting of 30,000 grades takes a quarter less CPU time.
    with collector_paused():
        with _lz4_compression(session):
            store, tally = _store_grades(session, scope, posting, policy_ids, actor=actor, now=now,
                                         progress=progress)  # fmt: skip
        check = build_check(session, scope, tally, now=now, issues=issues)
        report = enqueue_posted_grades(session, store.rows_for_push, now=now)
        stored = store.stored
        del store
        posting.counts = {**check.counts, "posted": stored, "outbox": report.to_json()}
        del report
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


@contextmanager
def _lz4_compression(session: Session) -> Iterator[None]:
    """Compress the values stored meanwhile with lz4 (in this transaction only) where the server has it.

    Each provenance (about 2 KB) is compressed as it is stored; lz4 does that about twice as fast as the
    default pglz (0.3 s of the server's time at 30,000 grades) and reads back faster too. The values are
    the same either way. The setting goes back to what it was when the block ends without an error (after
    an error, rolling back undoes the setting with everything else).
    """
    if session.get_bind().dialect.name != "postgresql":
        yield
        return
    found = session.execute(
        text(
            "SELECT current_setting('default_toast_compression'), 'lz4' = ANY(enumvals) "
            "FROM pg_settings WHERE name = 'default_toast_compression'"
        )
    ).first()
    if found is None or not found[1] or found[0] == "lz4":
        yield
        return
    session.execute(text("SELECT set_config('default_toast_compression', 'lz4', true)"))
    yield
    session.execute(text("SELECT set_config('default_toast_compression', :old, true)"), {"old": found[0]})
