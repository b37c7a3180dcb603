"""The pre-posting check: what is missing or disputed before a school's grading period is posted.

Blocking issues stop a posting: the period is already posted (amend instead), the session is not a grading
period, or no class of the school runs in it. Everything else is a warning the registrar reads and accepts:
students with insufficient evidence (they are posted as the policy's insufficient code, never an F), classes
with no evidence, classes without a school policy (the shipped default grades them), students or classes
the SIS sync has not matched (their grades are stored and locked but cannot be sent to the SIS), open
identity reviews, LMS/SIS roster mismatches, and a period that has not ended yet.

Students are referred to by internal person id and SIS sourcedId only, never by name.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy.orm import Session

from lti_tool.models import AcademicSession, GradePosting, Org, utcnow
from lti_tool.registrar.scope import (
    GradedStudent,
    OpenReview,
    PeriodScope,
    ScopeClass,
    load_scope,
    stream_period_grades,
)
from mappings import GradeStatus


class Severity(StrEnum):
    """Whether an issue stops the posting."""

    BLOCKING = "blocking"
    WARNING = "warning"


class IssueKind(StrEnum):
    """What the check found."""

    ALREADY_POSTED = "already_posted"
    NOT_A_GRADING_PERIOD = "not_a_grading_period"
    NO_CLASSES = "no_classes"
    PERIOD_NOT_ENDED = "period_not_ended"
    NO_STUDENTS = "no_students"
    NO_EVIDENCE = "no_evidence"
    NO_POLICY = "no_policy"
    INSUFFICIENT_EVIDENCE = "insufficient_evidence"
    UNMATCHED_STUDENTS = "unmatched_students"
    UNMATCHED_CLASS = "unmatched_class"
    NO_SIS_CONNECTION = "no_sis_connection"
    OPEN_REVIEWS = "open_reviews"
    ROSTER_MISMATCH = "roster_mismatch"


@dataclass(frozen=True, slots=True)
class StudentRef:
    """A student named the way logs and reports may name one: internal id and SIS sourcedId."""

    person_id: int
    sis_id: str | None

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {"person_id": self.person_id, "sis_id": self.sis_id}


@dataclass(frozen=True, slots=True)
class ClassCheck:
    """The check of one class running in the period."""

    class_id: int
    sourced_id: str | None
    title: str
    course_code: str
    policy_name: str
    policy_version: str
    has_policy: bool
    student_count: int
    graded_count: int
    evidence_count: int
    insufficient: tuple[StudentRef, ...]
    unmatched: tuple[StudentRef, ...]
    lms_only: tuple[StudentRef, ...]
    connection: str | None = None
    connection_problem: str = ""

    @property
    def has_evidence(self) -> bool:
        """True when any student has scored evidence up to the period's end."""
        return self.evidence_count > 0

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "class_id": self.class_id,
            "sourced_id": self.sourced_id,
            "title": self.title,
            "course_code": self.course_code,
            "policy": {"name": self.policy_name, "version": self.policy_version, "is_school_policy": self.has_policy},
            "students": self.student_count,
            "graded": self.graded_count,
            "evidence": self.evidence_count,
            "insufficient_evidence": [ref.to_dict() for ref in self.insufficient],
            "unmatched_students": [ref.to_dict() for ref in self.unmatched],
            "lms_only_students": [ref.to_dict() for ref in self.lms_only],
            "sis_connection": self.connection,
            "sis_connection_problem": self.connection_problem or None,
        }  # fmt: skip


@dataclass(frozen=True, slots=True)
class Issue:
    """One finding; `class_id` is None for school-wide issues, `count` how many students or rows it covers."""

    kind: IssueKind
    severity: Severity
    message: str
    class_id: int | None = None
    count: int = 1

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {"kind": self.kind.value, "severity": self.severity.value, "message": self.message,
                "class_id": self.class_id, "count": self.count}  # fmt: skip


@dataclass(frozen=True, slots=True)
class PrepostCheck:
    """The whole check of one school and grading period; `is_blocked` says whether posting may go ahead."""

    school_id: int
    school_sourced_id: str | None
    school_name: str
    period_id: int
    period_sourced_id: str | None
    period_title: str
    period_start: date
    period_end: date
    checked_at: datetime
    posting_id: int | None
    classes: tuple[ClassCheck, ...]
    issues: tuple[Issue, ...]
    open_reviews: tuple[OpenReview, ...] = field(default=())
    student_count: int = 0  # distinct students over all classes (a student in 6 classes counts once)

    @property
    def blocking(self) -> tuple[Issue, ...]:
        """Issues that stop the posting."""
        return tuple(issue for issue in self.issues if issue.severity is Severity.BLOCKING)

    @property
    def warnings(self) -> tuple[Issue, ...]:
        """Issues the registrar accepts by posting."""
        return tuple(issue for issue in self.issues if issue.severity is Severity.WARNING)

    @property
    def is_blocked(self) -> bool:
        """True when any issue is blocking."""
        return bool(self.blocking)

    @property
    def counts(self) -> dict[str, int]:
        """Totals for summaries and the posting record."""
        return {
            "classes": len(self.classes),
            "students": self.student_count,
            "grades": sum(item.student_count for item in self.classes),
            "graded": sum(item.graded_count for item in self.classes),
            "insufficient_evidence": sum(len(item.insufficient) for item in self.classes),
            "classes_without_evidence": sum(1 for item in self.classes if not item.has_evidence),
            "classes_without_policy": sum(1 for item in self.classes if not item.has_policy),
            "unmatched_students": sum(len(item.unmatched) for item in self.classes),
            "unmatched_classes": sum(1 for item in self.classes if item.sourced_id is None),
            "roster_mismatches": sum(len(item.lms_only) for item in self.classes),
            "open_reviews": len(self.open_reviews),
            "blocking": len(self.blocking),
            "warnings": len(self.warnings),
        }

    @property
    def period_label(self) -> str:
        """The period's title, e.g. "Quarter 1"."""
        return self.period_title

    def to_dict(self) -> dict[str, Any]:
        """JSON form (stored as the posting's `check_report`, printed by `grades check --json`)."""
        return {
            "school": {"id": self.school_id, "sourced_id": self.school_sourced_id, "name": self.school_name},
            "period": {"id": self.period_id, "sourced_id": self.period_sourced_id, "title": self.period_title,
                       "start": self.period_start.isoformat(), "end": self.period_end.isoformat()},
            "checked_at": self.checked_at.isoformat(),
            "posting_id": self.posting_id,
            "verdict": "blocked" if self.is_blocked else "ready",
            "counts": self.counts,
            "issues": [issue.to_dict() for issue in self.issues],
            "open_reviews": [{"review_id": r.review_id, "kind": r.kind, "person_id": r.person_id,
                              "class_id": r.class_id} for r in self.open_reviews],
            "classes": [item.to_dict() for item in self.classes],
        }  # fmt: skip


class CheckTally:
    """Per-class totals gathered while grades stream past (so a posting checks and grades in one pass)."""

    def __init__(self, scope: PeriodScope) -> None:
        self._scope = scope
        self._graded: dict[int, int] = {}
        self._evidence: dict[int, int] = {}
        self._insufficient: dict[int, list[StudentRef]] = {}

    def add(self, item: GradedStudent) -> None:
        """Count one graded student."""
        self.count(
            item.scope_class,
            item.person_id,
            evidence_count=item.grade.evidence_count,
            is_graded=item.grade.status is GradeStatus.GRADED,
        )

    def count(self, scope_class: ScopeClass, person_id: int, *, evidence_count: int, is_graded: bool) -> None:
        """Count one student's grade in a class, from its facts alone (a posting grades in workers)."""
        class_id = scope_class.class_id
        self._evidence[class_id] = self._evidence.get(class_id, 0) + evidence_count
        if is_graded:
            self._graded[class_id] = self._graded.get(class_id, 0) + 1
        else:
            self._insufficient.setdefault(class_id, []).append(
                StudentRef(person_id, self._scope.sis_id(person_id, scope_class.connection))
            )

    def classes(self) -> tuple[ClassCheck, ...]:
        """The per-class checks."""
        scope = self._scope
        return tuple(
            ClassCheck(
                class_id=item.class_id,
                sourced_id=item.sourced_id,
                title=item.title,
                course_code=item.course_code,
                policy_name=item.policy.name,
                policy_version=item.policy.version,
                has_policy=item.has_policy,
                student_count=len(item.student_ids),
                graded_count=self._graded.get(item.class_id, 0),
                evidence_count=self._evidence.get(item.class_id, 0),
                insufficient=tuple(self._insufficient.get(item.class_id, ())),
                unmatched=tuple(
                    StudentRef(person_id, scope.sis_id(person_id))
                    for person_id in item.student_ids
                    if item.connection is not None and not scope.is_matched(person_id, item)
                ),
                lms_only=tuple(StudentRef(person_id, scope.sis_id(person_id)) for person_id in item.lms_only_ids),
                connection=item.connection,
                connection_problem=item.connection_problem,
            )
            for item in scope.classes
        )  # fmt: skip


def scope_issues(session: Session, scope: PeriodScope, *, now: datetime) -> list[Issue]:
    """The issues known before grading: every blocking one, and the period-not-ended warning."""
    issues: list[Issue] = []
    school, period = scope.school, scope.period
    if scope.posting_id is not None or scope.has_posted_grades:
        posting = session.get(GradePosting, scope.posting_id) if scope.posting_id is not None else None
        when = f" (posting {posting.id} on {posting.posted_at.date().isoformat()})" if posting else ""
        issues.append(Issue(IssueKind.ALREADY_POSTED, Severity.BLOCKING,
                            f"{school.name} has already posted {period.title}{when}: posted grades are locked; "
                            "amend a grade instead of posting again"))  # fmt: skip
    if not scope.is_gradable:
        issues.append(Issue(IssueKind.NOT_A_GRADING_PERIOD, Severity.BLOCKING,
                            f"{period.title} is a {period.type.value.replace('_', ' ')}, not a grading period "
                            "or credit-bearing term"))  # fmt: skip
    if not scope.classes:
        issues.append(Issue(IssueKind.NO_CLASSES, Severity.BLOCKING,
                            f"no class of {school.name} runs in {period.title} (no class is linked to it)"))  # fmt: skip
    if now.date() < period.end_date:
        issues.append(Issue(IssueKind.PERIOD_NOT_ENDED, Severity.WARNING,
                            f"{period.title} ends on {period.end_date.isoformat()}: evidence demonstrated after "
                            "posting will not be in the posted grades"))  # fmt: skip
    return issues


def school_name(scope: PeriodScope) -> str:
    """The school's name as the messages use it."""
    return scope.school.name


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def class_issues(classes: Iterable[ClassCheck]) -> list[Issue]:
    """The warnings about each class."""
    issues: list[Issue] = []
    for item in classes:
        where = f"{item.title} ({item.sourced_id or f'class {item.class_id}'})"
        if item.student_count == 0:
            issues.append(Issue(IssueKind.NO_STUDENTS, Severity.WARNING,
                                f"{where} has no active students: nothing is posted for it", item.class_id, 0))  # fmt: skip
        elif not item.has_evidence:
            issues.append(Issue(IssueKind.NO_EVIDENCE, Severity.WARNING,
                                f"{where} has no scored evidence by the period's end: every student is posted as "
                                "insufficient evidence", item.class_id, item.student_count))  # fmt: skip
        elif item.insufficient:
            issues.append(Issue(IssueKind.INSUFFICIENT_EVIDENCE, Severity.WARNING,
                                f"{where}: {_plural(len(item.insufficient), 'student')} with insufficient evidence "
                                "(posted as the policy's insufficient code, not an F)", item.class_id,
                                len(item.insufficient)))  # fmt: skip
        if not item.has_policy:
            issues.append(Issue(IssueKind.NO_POLICY, Severity.WARNING,
                                f"{where} has no school grading policy: the shipped default {item.policy_name} "
                                f"{item.policy_version} grades it", item.class_id))  # fmt: skip
        if item.sourced_id is None:
            issues.append(Issue(IssueKind.UNMATCHED_CLASS, Severity.WARNING,
                                f"{where} has no SIS sourcedId: its grades are stored but cannot be sent to the SIS",
                                item.class_id, item.student_count))  # fmt: skip
        if item.unmatched:
            issues.append(Issue(IssueKind.UNMATCHED_STUDENTS, Severity.WARNING,
                                f"{where}: {_plural(len(item.unmatched), 'student')} not matched to an SIS person: "
                                "their grades are stored but not sent to the SIS", item.class_id,
                                len(item.unmatched)))  # fmt: skip
        if item.lms_only:
            issues.append(Issue(IssueKind.ROSTER_MISMATCH, Severity.WARNING,
                                f"{where}: {_plural(len(item.lms_only), 'student')} enrolled by the LMS but not by the "
                                "SIS", item.class_id, len(item.lms_only)))  # fmt: skip
    return issues


def build_check(
    session: Session,
    scope: PeriodScope,
    tally: CheckTally,
    *,
    now: datetime,
    issues: list[Issue] | None = None,
    is_graded: bool = True,
) -> PrepostCheck:
    """Assemble the check from the scope and a tally that has seen every graded student.

    `is_graded=False` (a refused posting, which stops before grading) leaves out the per-class findings.
    """
    classes = tally.classes() if is_graded else ()
    found = list(issues if issues is not None else scope_issues(session, scope, now=now))
    found += class_issues(classes)
    problems = sorted({item.connection_problem for item in scope.classes if item.connection is None})
    for problem in problems if is_graded else []:
        found.append(Issue(IssueKind.NO_SIS_CONNECTION, Severity.WARNING,
                           f"grades of {school_name(scope)} cannot be sent to an SIS ({problem}): they are "
                           "stored and locked but not queued for the SIS",
                           None, sum(len(item.student_ids) for item in scope.classes)))  # fmt: skip
    if scope.open_reviews:
        found.append(Issue(IssueKind.OPEN_REVIEWS, Severity.WARNING,
                           f"{_plural(len(scope.open_reviews), 'identity review')} still open: resolve them "
                           "(`mastery-bridge sis reviews`) so these students' grades reach the SIS",
                           None, len(scope.open_reviews)))  # fmt: skip
    school, period = scope.school, scope.period
    return PrepostCheck(
        school_id=school.id,
        school_sourced_id=school.sourced_id,
        school_name=school.name,
        period_id=period.id,
        period_sourced_id=period.sourced_id,
        period_title=period.title,
        period_start=period.start_date,
        period_end=period.end_date,
        checked_at=now,
        posting_id=scope.posting_id,
        classes=classes,
        issues=tuple(sorted(found, key=lambda issue: issue.severity is not Severity.BLOCKING)),
        open_reviews=scope.open_reviews,
        student_count=len({person_id for item in scope.classes for person_id in item.student_ids}),
    )


def check_before_posting(
    session: Session, school: Org, period: AcademicSession, *, now: datetime | None = None
) -> PrepostCheck:
    """Check `period` at `school` before posting: grades every class (nothing is written)."""
    now = now or utcnow()
    scope = load_scope(session, school, period)
    tally = CheckTally(scope)
    for item in stream_period_grades(session, scope):
        tally.add(item)
    return build_check(session, scope, tally, now=now)
