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

import gc
import logging
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from psycopg.types.json import Jsonb
from sqlalchemy import insert, select, text
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
from lti_tool.policies import DEFAULT_POLICY_NAME, shipped_policy_document, store_policy
from lti_tool.registrar.errors import PostingRefusedError
from lti_tool.registrar.posted_values import compute_posted_values, worker_count
from lti_tool.registrar.precheck import CheckTally, Issue, Severity, build_check, scope_issues
from lti_tool.registrar.scope import PeriodScope, load_scope
from lti_tool.sis.outbox import EnqueueReport, enqueue_posted_grades

logger = logging.getLogger(__name__)

#: Rows per INSERT batch: large enough to amortise round trips, small enough to bound memory.
INSERT_BATCH = 5_000
POSTED_STATUS = {status.value: status for status in PostedGradeStatus}
GRADED = PostedGradeStatus.GRADED.value


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


def _queue_for_sis(
    session: Session, posting_id: int, pushed: Mapping[tuple[int, int], dict[str, Any]], now: datetime
) -> EnqueueReport:
    """Queue the posting's rows for the SIS push, their provenance WITHOUT the explanation text.

    The push reads the per-indicator proficiencies, not the text, so the provenance is not read back: each
    row gets the document it was stored from less the explanation, as computed a moment ago (`pushed`, by
    class and student); decoding the stored JSON again was a third of a posting's time at 30,000 grades.
    The rows are loaded by a second session on the caller's connection (so inside its transaction) that is
    closed before the push: nothing in the caller's session sees the shortened provenance, and dropping
    the rows with that session is cheaper than expunging them one by one.
    """
    with Session(bind=session.connection()) as reader:
        rows = reader.scalars(
            select(PostedGrade)
            .options(defer(PostedGrade.provenance))
            .where(PostedGrade.posting_id == posting_id)
            .order_by(PostedGrade.id)
        ).all()
        for row in rows:
            set_committed_value(row, "provenance", pushed[(row.class_id, row.student_id)])
    # The reader only read, so closing it leaves the caller's transaction as it was; the detached rows
    # have every column loaded.
    return enqueue_posted_grades(session, rows, now=now)


def _refuse(session: Session, scope: PeriodScope, issues: list[Issue], now: datetime) -> PostingRefusedError:
    check = build_check(session, scope, CheckTally(scope), now=now, issues=issues, is_graded=False)
    reasons = "; ".join(issue.message for issue in check.blocking)
    return PostingRefusedError(f"posting refused: {reasons}", check)


@contextmanager
def _paused_gc() -> Iterator[None]:
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _store_grades(
    session: Session,
    scope: PeriodScope,
    posting: GradePosting,
    policy_ids: Mapping[int, int],
    *,
    actor: str,
    now: datetime,
    progress: Callable[[int], None] | None,
) -> tuple[int, CheckTally, dict[tuple[int, int], dict[str, Any]]]:
    """Grade and store every student x class in scope; returns how many were stored, the check's tally and
    each grade's provenance less its explanation (by class and student, for the SIS push)."""
    period_id = scope.period.id
    tally = CheckTally(scope)
    classes = {item.class_id: item for item in scope.classes}
    pushed: dict[tuple[int, int], dict[str, Any]] = {}
    batch: list[tuple[Any, ...]] = []
    stored = 0
    grades = sum(len(item.student_ids) for item in scope.classes)
    is_postgres = session.get_bind().dialect.name == "postgresql"
    for values in compute_posted_values(
        session, scope, policy_ids, is_json=is_postgres, workers=worker_count(session, grades)
    ):
        tally.count(classes[values.class_id], values.student_id, evidence_count=values.evidence_count,
                    is_graded=values.status == GRADED)  # fmt: skip
        pushed[(values.class_id, values.student_id)] = values.pushed
        # In _COLUMNS order.
        batch.append((
            values.student_id, values.class_id, period_id, policy_ids[values.class_id], values.course_value,
            values.letter, values.grade_points, values.status, values.evidence_count, values.stored, now, now,
            actor, True, None, None, posting.id,
        ))  # fmt: skip
        if len(batch) >= INSERT_BATCH:
            stored += _store(session, batch, progress)
    stored += _store(session, batch, progress)
    return stored, tally, pushed


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

    # The cycle collector would walk the millions of objects a posting makes (evidence, grades, their
    # provenance) again and again, and none of them form cycles: paused, a posting of 30,000 grades takes
    # a quarter less CPU time.
    with _paused_gc(), _lz4_compression(session):
        stored, tally, pushed = _store_grades(session, scope, posting, policy_ids, actor=actor, now=now,
                                              progress=progress)  # fmt: skip
        check = build_check(session, scope, tally, now=now, issues=issues)
        report = _queue_for_sis(session, posting.id, pushed, now)
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
_JSON_AT = _COLUMNS.index("provenance")


def _store(session: Session, batch: list[tuple[Any, ...]], progress: Callable[[int], None] | None) -> int:
    """Write a batch: COPY on PostgreSQL (the caller's transaction), a Core multi-row INSERT elsewhere."""
    if not batch:
        return 0
    count = len(batch)
    if session.get_bind().dialect.name == "postgresql":
        _copy(session, batch)
    else:
        rows = [dict(zip(_COLUMNS, row, strict=True)) for row in batch]
        for row in rows:
            row["status"] = POSTED_STATUS[row["status"]]
        session.execute(insert(PostedGrade), rows)
    batch.clear()
    if progress is not None:
        progress(count)
    return count


def _copy(session: Session, batch: list[tuple[Any, ...]]) -> None:
    # COPY is several times faster than INSERT .. VALUES for wide JSONB rows; it bypasses SQLAlchemy's
    # bind processing, so the rows hold what the column types expect (enum by value, JSON as text).
    # Binary COPY spares the server unescaping 2 KB of JSON text per row (about 0.15 s of its time at
    # 30,000 grades, and a third of this side's); the column types come from the table itself.
    driver = session.connection().connection.driver_connection
    if driver is None:  # pragma: no cover - a live connection always has its driver connection
        raise RuntimeError("the session's connection has no driver connection")
    columns = ", ".join(_COLUMNS)
    with driver.cursor() as cursor:
        cursor.execute(f"SELECT {columns} FROM posted_grades LIMIT 0")  # noqa: S608 - constant column names
        types = [column.type_code for column in cursor.description or ()]
        with cursor.copy(f"COPY posted_grades ({columns}) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(types)
            for row in batch:
                copy.write_row((*row[:_JSON_AT], Jsonb(row[_JSON_AT], dumps=_as_text), *row[_JSON_AT + 1 :]))


def _as_text(document: str) -> str:
    # The provenance arrives as JSON text, encoded by whoever graded it (possibly a worker process).
    return document


@contextmanager
def _lz4_compression(session: Session) -> Iterator[None]:
    """Compress the values stored meanwhile with lz4 (in this transaction only) where the server has it.

    Each provenance (about 2 KB) is compressed as it is stored; lz4 does that about twice as fast as the
    default pglz (0.3 s of the server's time at 30,000 grades) and reads back faster too. The values are
    the same either way. The setting goes back to what it was when the block ends without an error (after
    an error the transaction is lost, and the setting with it).
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
