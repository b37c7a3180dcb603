"""The values a posting stores for each student x class, computed in this process or in forked workers.

Grading, explaining and encoding the grades is most of a posting's CPU time, and none of it needs the
database. The classes are cut into parts of about PART_GRADES students; the parent reads each part's
evidence (on PostgreSQL as one text the worker parses, so reading costs the parent next to nothing) and
grades it, or on a large PostgreSQL job hands it to forked worker processes while it reads the next parts
and stores the rows already graded. The parent keeps the only database connection and the one transaction;
workers only compute and send back finished rows, which the parent takes in class order. Small jobs,
SQLite and processes with other threads (a web server: a forked child can deadlock on a lock another
thread held) grade in this process. Both paths run `_grade_part`, so they give the same rows in the same
order, and only a few parts' evidence is in memory at a time.
"""

from __future__ import annotations

import gc
import json
import logging
import multiprocessing
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from multiprocessing.pool import AsyncResult
from typing import Any, Final, NamedTuple

from sqlalchemy.orm import Session

from lti_tool.forking import may_fork, usable_cpus
from lti_tool.registrar.evidence_stream import (
    EvidenceNames,
    EvidenceRow,
    evidence_names,
    evidence_rows,
    evidence_text,
    group_evidence,
    group_evidence_text,
)
from lti_tool.registrar.scope import GradedStudent, PeriodScope, ScopeClass, end_of_day, grade_students
from mappings import CutRow, GradingPeriod, render_explanation

logger = logging.getLogger(__name__)

#: Below this many grades a posting grades in this process: starting workers costs more than it saves.
PARALLEL_MIN_GRADES: Final = 2_000
#: Students per part (one evidence query, one worker task): small enough to keep every worker busy to
#: the end, large enough that a query's fixed cost does not matter.
PART_GRADES: Final = 500
#: Students whose parts are read (and handed to workers) ahead of the rows being stored: more than one
#: batch of posting_store.INSERT_BATCH, so the workers keep busy while the parent stores one.
READ_AHEAD_GRADES: Final = 6_000

# Compact JSON as before (json.dumps(..., separators=(",", ":"))), from one encoder instead of a new one
# per grade; no circular check, as provenance is a tree of fresh dicts and lists.
_encode_json = json.JSONEncoder(separators=(",", ":"), check_circular=False).encode
#: jsonb's binary form is this version byte and the JSON text (PostgreSQL's jsonb_recv).
JSONB_VERSION: Final = b"\x01"


class PostedValues(NamedTuple):
    """One student's posted grade in one class, as the posting stores it (a tuple: workers pickle these)."""

    class_id: int
    student_id: int
    status: str  # a PostedGradeStatus value
    course_value: Decimal | None
    letter: str
    grade_points: Decimal | None
    evidence_count: int
    pushed: dict[str, Any]  # the provenance without its explanation: what the SIS push reads
    stored: bytes | dict[str, Any]  # the whole provenance: jsonb's binary form (for COPY) or the document


@dataclass(frozen=True, slots=True)
class _Part:
    """Consecutive classes [start, stop) of the job's classes."""

    start: int
    stop: int


@dataclass(frozen=True, slots=True)
class _Job:
    """Everything grading needs besides each part's evidence; forked workers inherit it."""

    classes: Sequence[ScopeClass]
    parts: tuple[_Part, ...]
    names: EvidenceNames
    course_codes: Mapping[int, str]
    period: GradingPeriod
    policy_ids: Mapping[int, int]  # class id -> grading policy row
    as_of: str
    as_jsonb: bool


# One part's evidence: the text of `evidence_text` (PostgreSQL) or the rows themselves.
_Evidence = str | list[EvidenceRow]


class ProvenanceMemo:
    """The provenance pieces that repeat across students, made once and shared: one dict per policy,
    method and letter-table row."""

    def __init__(self) -> None:
        self.policies: dict[tuple[int, str, str, bool], dict[str, Any]] = {}
        self.methods: dict[tuple[str, tuple[tuple[str, str], ...]], dict[str, Any]] = {}
        # Keyed by id(): equal CutRows may print differently ("3.0" and "3.00" compare equal); the row
        # is kept beside its dict, so the id cannot be reused while the memo lives.
        self.cut_rows: dict[int, tuple[CutRow, dict[str, str]]] = {}

    def policy(self, row_id: int, name: str, version: str, is_school_policy: bool) -> dict[str, Any]:
        key = (row_id, name, version, is_school_policy)
        found = self.policies.get(key)
        if found is None:
            found = self.policies[key] = {"id": row_id, "name": name, "version": version,
                                          "is_school_policy": is_school_policy}  # fmt: skip
        return found

    def method(self, name: str, params: tuple[tuple[str, str], ...]) -> dict[str, Any]:
        key = (name, params)
        found = self.methods.get(key)
        if found is None:
            found = self.methods[key] = {"name": name, "params": dict(params)}
        return found

    def cut_row(self, cut: CutRow) -> dict[str, str]:
        entry = self.cut_rows.get(id(cut))
        if entry is None or entry[0] is not cut:
            entry = self.cut_rows[id(cut)] = (
                cut, {"letter": cut.letter, "min": str(cut.min_value), "points": str(cut.points)}
            )  # fmt: skip
        return entry[1]


def provenance_facts(
    item: GradedStudent, *, policy_row_id: int, as_of: str, memo: ProvenanceMemo | None = None
) -> dict[str, Any]:
    """How a posted grade was made, in JSON, without the explanation: policy, method, rule, evidence ids and
    per-indicator proficiency (with CASE identifiers)."""
    memo = memo or ProvenanceMemo()
    grade = item.grade
    ids = item.evidence_ids
    case_identifiers = item.scope_class.case_identifiers
    indicators = []
    used: list[int] = []
    for result in grade.indicators:
        # The core returns the very Evidence objects it was given, so id() finds each one's row id.
        evidence_ids = [ids[id(evidence)] for evidence in result.evidence]
        used += evidence_ids
        proficiency = result.proficiency
        entry: dict[str, Any] = {
            "code": result.indicator_id,
            "case_identifier": case_identifiers.get(result.indicator_id),
            "proficiency": None if proficiency is None else str(proficiency),
            "evidence_ids": evidence_ids,
        }
        if result.excluded:
            entry["excluded_ids"] = [ids[id(exclusion.evidence)] for exclusion in result.excluded]
        indicators.append(entry)
    used.sort()
    cut = grade.cut_row
    return {
        "policy": memo.policy(
            policy_row_id, grade.policy_name, grade.policy_version, item.scope_class.has_policy
        ),
        "method": memo.method(grade.method, grade.method_params),
        "rule": grade.rule,
        "as_of": as_of,
        "percent": None if grade.percent is None else str(grade.percent),
        "cut_row": None if cut is None else memo.cut_row(cut),
        "evidence_ids": used,
        "indicators": indicators,
    }


def provenance(
    item: GradedStudent, *, policy_row_id: int, as_of: str, memo: ProvenanceMemo | None = None
) -> dict[str, Any]:
    """How a posted grade was made, in JSON: `provenance_facts` and then the plain-words explanation shown
    to families."""
    scope_class = item.scope_class
    return {
        **provenance_facts(item, policy_row_id=policy_row_id, as_of=as_of, memo=memo),
        "explanation": render_explanation(item.grade, course_title=scope_class.course_title, policy=scope_class.policy),
    }  # fmt: skip


def _grade_part(job: _Job, index: int, evidence: _Evidence) -> list[PostedValues]:
    """Grade one part (in this process or a worker)."""
    part = job.parts[index]
    groups = (
        group_evidence_text(evidence, job.names, job.course_codes)
        if isinstance(evidence, str)
        else group_evidence(evidence, job.names, job.course_codes)
    )
    memo = ProvenanceMemo()
    out: list[PostedValues] = []
    for item in grade_students(job.classes[part.start : part.stop], groups, job.period):
        grade = item.grade
        class_id = item.scope_class.class_id
        document = provenance(item, policy_row_id=job.policy_ids[class_id], as_of=job.as_of, memo=memo)
        pushed = dict(document)
        del pushed["explanation"]
        out.append(
            PostedValues(
                class_id, item.person_id, grade.status.value, grade.course_value, grade.letter,
                grade.grade_points, grade.evidence_count, pushed,
                JSONB_VERSION + _encode_json(document).encode() if job.as_jsonb else document,
            )
        )  # fmt: skip
    return out


# The job a forked worker grades: set once in each worker by `_adopt`, never in the parent.
_worker_job: _Job | None = None


def _adopt(job: _Job) -> None:
    global _worker_job  # per-process state of a pool worker (see above)
    _worker_job = job
    # A worker lives for one posting and makes no cycles; the collector would only walk (and so copy,
    # page by page) the memory it shares with the parent.
    gc.disable()


def _grade_task(index: int, evidence: _Evidence) -> list[PostedValues]:
    if _worker_job is None:  # pragma: no cover - the pool's initializer always runs first
        raise RuntimeError("a grading worker started without its job")
    return _grade_part(_worker_job, index, evidence)


def _parts(classes: Sequence[ScopeClass], size: int) -> tuple[_Part, ...]:
    """Consecutive slices of the classes holding about `size` students each."""
    parts = []
    first = students = 0
    for index, scope_class in enumerate(classes):
        students += len(scope_class.student_ids)
        if students >= size or index == len(classes) - 1:
            parts.append(_Part(first, index + 1))
            first, students = index + 1, 0
    return tuple(parts)


def worker_count(session: Session, grades: int) -> int:
    """How many worker processes to grade in: 0 (this process) unless the job is large, on PostgreSQL,
    in a single-threaded process that may fork, on a machine with more than one CPU."""
    if grades < PARALLEL_MIN_GRADES or session.get_bind().dialect.name != "postgresql":
        return 0
    if not may_fork():
        return 0
    cpus = usable_cpus()
    return cpus if cpus > 1 else 0


def compute_posted_values(
    session: Session,
    scope: PeriodScope,
    policy_ids: Mapping[int, int],
    *,
    as_jsonb: bool,
    workers: int = 0,
    part_grades: int = PART_GRADES,
) -> Iterator[PostedValues]:
    """The posted values of every active student of every class in scope, classes in id order and students
    in person-id order (as `stream_period_grades`); `workers` > 0 grades in that many forked processes.

    `as_jsonb` gives the stored provenance in jsonb's binary form (for a binary COPY), else as the
    document; encoding it is part of the work the workers share. The caller may use the session between
    values (to store them): each part's evidence is read only when nothing else runs on the connection.
    """
    classes = scope.classes
    job = _Job(
        classes=classes, parts=_parts(classes, part_grades),
        names=evidence_names(session, [item.class_id for item in classes]),
        course_codes={item.class_id: item.course_code for item in classes}, period=scope.grading_period,
        policy_ids=policy_ids, as_of=scope.period.end_date.isoformat(), as_jsonb=as_jsonb,
    )  # fmt: skip
    before = end_of_day(scope.period.end_date)
    is_postgres = session.get_bind().dialect.name == "postgresql"

    def evidence(index: int) -> _Evidence:
        part = job.parts[index]
        class_ids = [item.class_id for item in classes[part.start : part.stop]]
        if is_postgres:
            return evidence_text(session, class_ids, before=before)
        return list(evidence_rows(session, class_ids, before=before))

    pool = None
    if workers > 0 and len(job.parts) > 1:
        try:
            pool = multiprocessing.get_context("fork").Pool(workers, initializer=_adopt, initargs=(job,))
        except OSError:  # no fork now (out of memory or processes): grade here, only slower
            logger.warning("could not start %d grading workers; grading in this process", workers)
    if pool is None:
        for index in range(len(job.parts)):
            yield from _grade_part(job, index, evidence(index))
        return
    # Forked, the workers inherit the job; each task carries only its part's evidence, and parts are read
    # ahead so that no worker waits while the parent stores a batch of rows.
    ahead = max(2 * workers + 1, READ_AHEAD_GRADES // part_grades)
    pending: deque[AsyncResult[list[PostedValues]]] = deque()
    try:
        for index in range(len(job.parts)):
            pending.append(pool.apply_async(_grade_task, (index, evidence(index))))
            if len(pending) > ahead:
                yield from pending.popleft().get()
        while pending:
            yield from pending.popleft().get()
    except GeneratorExit:
        # Stopped early (storing a row failed): the parts in flight (at most `ahead`) finish first.
        # Pool.terminate() while its task thread is still writing a part into a worker's pipe can hang.
        for result in pending:
            result.wait()
        raise
    finally:
        pool.close()
        pool.join()


__all__ = [
    "PARALLEL_MIN_GRADES",
    "PostedValues",
    "ProvenanceMemo",
    "compute_posted_values",
    "provenance",
    "provenance_facts",
    "worker_count",
]
