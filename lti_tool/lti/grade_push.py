"""AGS 2.0 grade push: one line item per task, and each learner's current proficiency on it as a score.

Functions take a `Session` and never commit. Logs carry counts only, never user ids, names or scores.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from connectors.errors import ConnectorAuthError, ConnectorError, ConnectorUnavailableError
from connectors.lms import LineItem as AgsLineItem
from connectors.lms import LineItemStore, Score, ScoreSink, canvas_submission_extension
from lti_tool.errors import MasteryBridgeError
from lti_tool.grading import class_evidence
from lti_tool.models import (
    AssessmentKind,
    Course,
    Enrollment,
    EnrollmentRole,
    Evidence,
    IdentifierSource,
    LineItem,
    LtiRegistration,
    PersonIdentifier,
    SchoolClass,
    ScoreStatus,
    Task,
    TaskIndicator,
    current_evidence_query,
)
from mappings import FormativeMode, GradeStatus, GradingPeriod, Policy, grade_period
from mappings.rounding import ARITHMETIC_CONTEXT

logger = logging.getLogger(__name__)

ONE_MILLISECOND: Final = timedelta(milliseconds=1)
#: AGS 2.0 §3.4.7/§3.4.8: the score is final and the learner's work is complete.
FULLY_GRADED: Final = "FullyGraded"
COMPLETED: Final = "Completed"
COURSE_GRADE_RESOURCE_ID: Final = "course-current-grade"

ExplanationUrl = Callable[[int], str]


class GradePushError(MasteryBridgeError):
    """Scores cannot be pushed (for example the line item names a missing registration)."""


@dataclass(frozen=True, slots=True)
class ScoreFailure:
    """A learner whose score the platform refused: the tool's person id and what the platform said."""

    person_id: int
    status: int | None
    error: str


@dataclass(frozen=True, slots=True)
class PushResult:
    """What a push did.

    `sent` scores were accepted; `skipped_non_learners` counts active non-student enrollments (teachers,
    assistants: platforms refuse their scores, Canvas 422, Moodle 400); `skipped_without_evidence` counts
    learners with no proficiency yet (never sent as a zero); `skipped_without_user_id` counts learners with
    no LTI `sub` on this platform; `failures` lists per-learner refusals; `timestamp` is what was sent.
    """

    sent: int
    skipped_non_learners: int
    failures: tuple[ScoreFailure, ...]
    skipped_without_evidence: int = 0
    skipped_without_user_id: int = 0
    timestamp: datetime | None = None


def task_resource_id(task: Task) -> str:
    """The AGS `resourceId` (and `tag`) that marks the line item of `task` on the platform."""
    return f"task-{task.id}"


def _store_line_item(
    session: Session, item: AgsLineItem, *, task_id: int | None, class_id: int, registration_id: int
) -> LineItem:
    if item.id is None:  # pragma: no cover - the clients always return an id
        raise GradePushError("the platform returned a line item without an id")
    row = session.scalars(
        select(LineItem).where(LineItem.registration_id == registration_id, LineItem.url == item.id)
    ).one_or_none()
    if row is None:
        row = LineItem(registration_id=registration_id, url=item.id, class_id=class_id)
        session.add(row)
    row.task_id = task_id
    row.class_id = class_id
    row.score_maximum = item.score_maximum
    row.label = item.label[:255]
    session.flush()
    return row


def _ensure(
    session: Session,
    *,
    client: LineItemStore,
    line_items_url: str,
    registration: LtiRegistration,
    resource_id: str,
    label: str,
    scale_maximum: Decimal,
    task_id: int | None,
    class_id: int,
) -> LineItem:
    """Find the platform's line item by `resourceId`, else create it; keep it in the `LineItem` table."""
    found = [
        item
        for item in client.list_line_items(line_items_url, resource_id=resource_id)
        if item.resource_id
        == resource_id  # some platforms ignore the filter (AGS 2.0 §3.2.4 makes it optional)
    ]
    item = found[0] if found else None
    if item is None:
        item = client.create_line_item(
            line_items_url,
            AgsLineItem(label=label, score_maximum=scale_maximum, resource_id=resource_id, tag=resource_id),
        )
    return _store_line_item(
        session, item, task_id=task_id, class_id=class_id, registration_id=registration.id
    )


def ensure_line_item(
    session: Session,
    task: Task,
    *,
    client: LineItemStore,
    line_items_url: str,
    registration: LtiRegistration,
    scale_maximum: Decimal,
) -> LineItem:
    """The task's one line item on `registration`'s platform: stored, else found there, else created.

    The platform's line item carries `resourceId` = `tag` = `task-<id>` (AGS 2.0 §3.2), so a line item
    created before (by another process, or before the database was restored) is found, not duplicated.
    """
    stored = session.scalars(
        select(LineItem)
        .where(LineItem.task_id == task.id, LineItem.registration_id == registration.id)
        .order_by(LineItem.id)
        .limit(1)
    ).first()
    if stored is not None:
        return stored
    return _ensure(
        session,
        client=client,
        line_items_url=line_items_url,
        registration=registration,
        resource_id=task_resource_id(task),
        label=task.title[:255] or f"Task {task.id}",
        scale_maximum=scale_maximum,
        task_id=task.id,
        class_id=task.class_id,
    )


def next_score_timestamp(line_item: LineItem, now: datetime) -> datetime:
    """`max(now, last + 1 ms)` in whole milliseconds (what AGS sends), so every push is strictly newer.

    AGS 2.0 §3.4: a platform ignores (Moodle: 409) a score not newer than the last one it accepted.
    """
    moment = now.astimezone(UTC)
    last = line_item.last_score_timestamp
    if last is not None and moment < last + ONE_MILLISECOND:
        moment = last.astimezone(UTC) + ONE_MILLISECOND
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


@dataclass(frozen=True, slots=True)
class _Learners:
    user_ids: dict[int, str]  # person id -> LTI sub on this platform
    without_user_id: int
    non_learners: int


def _learners(session: Session, class_id: int, issuer: str) -> _Learners:
    """Active students of the class with their LTI `sub` for `issuer`, and the counts of those left out."""
    active = session.execute(
        select(Enrollment.person_id, Enrollment.role).where(
            Enrollment.class_id == class_id, Enrollment.is_active.is_(True)
        )
    ).all()
    students = {person_id for person_id, role in active if role == EnrollmentRole.STUDENT}
    non_learners = {person_id for person_id, role in active if role != EnrollmentRole.STUDENT} - students
    rows = session.execute(
        select(PersonIdentifier.person_id, PersonIdentifier.value)
        .join(Enrollment, Enrollment.person_id == PersonIdentifier.person_id)
        .where(
            Enrollment.class_id == class_id,
            Enrollment.is_active.is_(True),
            Enrollment.role == EnrollmentRole.STUDENT,
            PersonIdentifier.source == IdentifierSource.LTI,
            PersonIdentifier.system == issuer,
        )
        .order_by(PersonIdentifier.person_id, PersonIdentifier.value)
    )
    user_ids: dict[int, str] = {}
    for person_id, value in rows:
        user_ids.setdefault(person_id, value)
    return _Learners(user_ids, len(students - user_ids.keys()), len(non_learners))


def task_proficiencies(session: Session, task: Task, policy: Policy) -> dict[int, Decimal]:
    """Each student's current proficiency on the task's indicators (person id -> value on the scale).

    Per indicator, the policy's method runs on the current scored evidence in order of demonstration; the
    task value is the mean of the indicator proficiencies, rounded by the policy's course rounding.
    Formative evidence is left out when the policy excludes it. Students with no proficiency yet on any of
    the indicators are absent (they get no score, never a zero).
    """
    indicator_ids = list(
        session.scalars(select(TaskIndicator.indicator_id).where(TaskIndicator.task_id == task.id))
    )
    if not indicator_ids:
        return {}
    query = (
        current_evidence_query(class_id=task.class_id)
        .where(Evidence.score_status == ScoreStatus.SCORED, Evidence.indicator_id.in_(indicator_ids))
        .with_only_columns(Evidence.student_id, Evidence.indicator_id, Evidence.level_value)
    )
    if policy.evidence.formative is FormativeMode.EXCLUDE:
        query = query.where(Evidence.kind == AssessmentKind.SUMMATIVE)
    scores: dict[int, dict[int, list[Decimal]]] = defaultdict(lambda: defaultdict(list))
    for student_id, indicator_id, level_value in session.execute(query):
        if level_value is not None:  # always set on scored rows (CHECK constraint)
            scores[student_id][indicator_id].append(level_value)
    values: dict[int, Decimal] = {}
    for student_id, by_indicator in scores.items():
        results = [r for r in (policy.method(s) for s in by_indicator.values()) if r is not None]
        if results:
            mean = ARITHMETIC_CONTEXT.divide(sum(results, Decimal(0)), Decimal(len(results)))
            values[student_id] = policy.course_rounding.apply(mean)
    return values


def _comment(label: str, value: Decimal, policy: Policy, url: str) -> str:
    scale = policy.scale
    return f"{label} ({value} on the {scale.minimum}-{scale.maximum} scale). How this was worked out: {url}"


def _send(
    client: ScoreSink,
    line_item: LineItem,
    scores: Iterable[tuple[int, Score]],
    *,
    what: str,
) -> tuple[int, list[ScoreFailure]]:
    """Post each score; collect per-learner refusals. Unavailable or refused credentials stop the run."""
    sent = 0
    failures: list[ScoreFailure] = []
    for person_id, score in scores:
        try:
            client.post_score(line_item.url, score)
        except (ConnectorUnavailableError, ConnectorAuthError) as exc:
            # The platform is down, throttling past our retries, or refusing our token: every further
            # learner would fail the same way (and cost a token request each), so stop and say how far we got.
            exc.add_note(f"{sent} score(s) were sent for {what} before the run stopped")
            logger.warning(
                "score push for %s stopped after %d sent, %d failed: %s",
                what, sent, len(failures), type(exc).__name__,
            )  # fmt: skip
            raise
        except ConnectorError as exc:
            failures.append(ScoreFailure(person_id=person_id, status=exc.status, error=type(exc).__name__))
        else:
            sent += 1
    return sent, failures


def push_task_scores(
    session: Session,
    task: Task,
    *,
    client: ScoreSink,
    line_item: LineItem,
    policy: Policy,
    now: datetime,
    explanation_url: ExplanationUrl,
) -> PushResult:
    """Send every active learner's current proficiency on `task` to its line item (AGS 2.0 §3.4).

    Only learners get scores (platforms refuse teachers'); learners with no proficiency yet, or with no LTI
    `sub` on this platform, are skipped and counted. Every score of one push carries the same timestamp,
    strictly newer than the line item's last push (stored back on `line_item.last_score_timestamp` before
    sending, so even a stopped run never reuses it). A refused score is reported in `failures` and the run
    goes on; `ConnectorUnavailableError` and `ConnectorAuthError` stop it and are re-raised.
    """
    registration = session.get(LtiRegistration, line_item.registration_id)
    if registration is None:  # pragma: no cover - the foreign key makes this impossible
        raise GradePushError(f"line item {line_item.id} names a missing registration")
    learners = _learners(session, task.class_id, registration.issuer)
    values = task_proficiencies(session, task, policy)
    timestamp = next_score_timestamp(line_item, now)
    line_item.last_score_timestamp = timestamp
    session.flush()

    maximum = policy.scale.maximum
    pending: list[tuple[int, Score]] = []
    without_evidence = 0
    registration = session.get(LtiRegistration, line_item.registration_id)
    extensions = canvas_submission_extension(registration.issuer) if registration is not None else None
    for person_id, user_id in sorted(learners.user_ids.items()):
        value = values.get(person_id)
        if value is None:
            without_evidence += 1
            continue
        comment = _comment(policy.scale.label_for(value), value, policy, explanation_url(person_id))
        pending.append(
            (
                person_id,
                Score(
                    user_id=user_id,
                    score_maximum=maximum,
                    timestamp=timestamp,
                    score_given=value,
                    activity_progress=COMPLETED,
                    grading_progress=FULLY_GRADED,
                    comment=comment,
                    extensions=extensions,
                ),
            )
        )
    sent, failures = _send(client, line_item, pending, what=f"line item {line_item.id}")
    result = PushResult(
        sent=sent,
        skipped_non_learners=learners.non_learners,
        failures=tuple(failures),
        skipped_without_evidence=without_evidence,
        skipped_without_user_id=learners.without_user_id,
        timestamp=timestamp,
    )
    logger.info(
        "score push for line item %s: %d sent, %d failed, %d without evidence, %d without LTI id, "
        "%d non-learners skipped",
        line_item.id, sent, len(failures), without_evidence, learners.without_user_id, learners.non_learners,
    )  # fmt: skip
    return result


def ensure_course_line_item(
    session: Session,
    school_class: SchoolClass,
    *,
    client: LineItemStore,
    line_items_url: str,
    registration: LtiRegistration,
    scale_maximum: Decimal,
) -> LineItem:
    """The class's "current grade" line item (no task), found by `resourceId` or created."""
    stored = session.scalars(
        select(LineItem)
        .where(
            LineItem.class_id == school_class.id,
            LineItem.registration_id == registration.id,
            LineItem.task_id.is_(None),
        )
        .order_by(LineItem.id)
        .limit(1)
    ).first()
    if stored is not None:
        return stored
    return _ensure(
        session,
        client=client,
        line_items_url=line_items_url,
        registration=registration,
        resource_id=COURSE_GRADE_RESOURCE_ID,
        label=f"Current grade: {school_class.title}"[:255],
        scale_maximum=scale_maximum,
        task_id=None,
        class_id=school_class.id,
    )


def push_course_grades(
    session: Session,
    school_class: SchoolClass,
    *,
    client: ScoreSink,
    line_item: LineItem,
    policy: Policy,
    now: datetime,
    explanation_url: ExplanationUrl,
) -> PushResult:
    """Send each learner's current course value (a snapshot at `now`'s date) to the course line item.

    The value is what `lti_tool.grading` computes for a period ending today from all evidence so far; a
    learner with insufficient evidence gets no score. Errors are handled as in `push_task_scores`.
    """
    registration = session.get(LtiRegistration, line_item.registration_id)
    course = session.get(Course, school_class.course_id)
    if registration is None or course is None:  # pragma: no cover - foreign keys make this impossible
        raise GradePushError(f"line item {line_item.id} or class {school_class.id} names a missing row")
    learners = _learners(session, school_class.id, registration.issuer)
    evidence = class_evidence(session, school_class, course.code)
    today = now.astimezone(UTC).date()
    period = GradingPeriod(period_id="current", start=date.min, end=today)
    timestamp = next_score_timestamp(line_item, now)
    line_item.last_score_timestamp = timestamp
    session.flush()

    pending: list[tuple[int, Score]] = []
    without_evidence = 0
    for person_id, user_id in sorted(learners.user_ids.items()):
        grade = grade_period(
            policy, evidence.get(person_id, []), period, student_id=str(person_id), course_id=course.code
        )
        if grade.status is not GradeStatus.GRADED or grade.course_value is None:
            without_evidence += 1
            continue
        value = grade.course_value
        label = f"{grade.letter}, {policy.scale.label_for(value)}"
        pending.append(
            (
                person_id,
                Score(
                    user_id=user_id,
                    score_maximum=policy.scale.maximum,
                    timestamp=timestamp,
                    score_given=value,
                    activity_progress=COMPLETED,
                    grading_progress=FULLY_GRADED,
                    comment=_comment(label, value, policy, explanation_url(person_id)),
                ),
            )
        )
    sent, failures = _send(client, line_item, pending, what=f"line item {line_item.id}")
    logger.info(
        "course grade push for line item %s: %d sent, %d failed, %d without a grade",
        line_item.id, sent, len(failures), without_evidence,
    )  # fmt: skip
    return PushResult(
        sent=sent,
        skipped_non_learners=learners.non_learners,
        failures=tuple(failures),
        skipped_without_evidence=without_evidence,
        skipped_without_user_id=learners.without_user_id,
        timestamp=timestamp,
    )
