"""What a grade push sends: OneRoster categories, score scales, line items and results from posted grades.

One posted grade becomes one result (score = course value, textScore = letter, per-indicator mastery in
`learningObjectiveSet` under each indicator's CASE id). Each class x grading period gets one line item in
the "Term Grade" category (one per school, teacher or class as the vendor profile says) pointing at a
score scale of the policy's letters. Every sourcedId is deterministic (connectors.oneroster_csv.payloads),
so sending again updates the same SIS record. Bodies are built now, from the data as posted; the outbox
(`lti_tool.sis.outbox`) stores them and the worker sends them later.

Functions take a Session and never commit. Nothing here logs student data.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy.orm import Session

from connectors.oneroster.profiles import CategoryScope, VendorProfile
from connectors.oneroster_csv.payloads import (
    GradebookCategory,
    GradebookScoreScale,
    ObjectiveScore,
    PeriodLineItem,
    PeriodResult,
    ScoreStatus,
    ServiceUrls,
    line_item_sourced_id,
)
from connectors.oneroster_csv.records import ScoreScaleValue
from lti_tool.models import (
    OneRosterVersion,
    PostedGrade,
    PostedGradeStatus,
    SchoolClass,
    SisConnection,
)
from lti_tool.sis.push_bodies import GradebookRecord, message_body, service_urls
from lti_tool.sis.push_facts import PushFacts, provenance_scores
from mappings import Policy


class MessageKind(StrEnum):
    """What a message PUTs; the order of the members is the delivery order (prerequisites first)."""

    CATEGORY = "category"
    SCORE_SCALE = "scoreScale"
    LINE_ITEM = "lineItem"
    RESULT = "result"

    @property
    def rank(self) -> int:
        """0 for categories and score scales, 1 for line items, 2 for results."""
        return {"category": 0, "scoreScale": 0, "lineItem": 1, "result": 2}[self.value]

    @property
    def topic(self) -> str:
        """The outbox topic of this kind."""
        return f"oneroster.{self.value}"

    @property
    def collection(self) -> str:
        """The REST collection the PUT goes to (OneRoster 1.2 gradebook §3, 1.1 §3)."""
        return {
            "category": "categories",
            "scoreScale": "scoreScales",
            "lineItem": "lineItems",
            "result": "results",
        }[self.value]

    @classmethod
    def from_topic(cls, topic: str) -> MessageKind:
        """The kind of an outbox topic such as `oneroster.result`."""
        return cls(topic.removeprefix("oneroster."))


@dataclass(frozen=True, slots=True)
class PushMessage:
    """One PUT to make: its record and what must be delivered before it.

    `sourced_id` is the record's (computed once: each computation is a UUIDv5 of the ids). `body` is the
    PUT's body as built now for prerequisites, whose dedupe key digests it; results leave it None (the
    worker builds every body from the record, `lti_tool.sis.outbox.payload_body`).
    """

    connection_id: int
    kind: MessageKind
    record: GradebookRecord
    sourced_id: str
    body: dict[str, Any] | None
    dedupe_key: str
    requires: tuple[str, ...] = ()
    period_sourced_id: str | None = None
    period_title: str | None = None
    posted_grade_id: int | None = None

    @property
    def path(self) -> str:
        """Where the PUT goes, relative to the gradebook service URL."""
        return f"{self.kind.collection}/{self.sourced_id}"


@dataclass(frozen=True, slots=True)
class SkippedGrade:
    """A posted grade that cannot be sent, and why in plain words (no student data)."""

    posted_grade_id: int
    reason: str


@dataclass(frozen=True, slots=True)
class PushBuild:
    """The messages for a set of posted grades (prerequisites first, no duplicates) and what was skipped."""

    messages: tuple[PushMessage, ...]
    skipped: tuple[SkippedGrade, ...]


def dedupe_key(connection_id: int, kind: MessageKind, *parts: str) -> str:
    """`or:<connection>:<kind>:<parts...>`; a result's key starts with its line item's sourcedId.

    The worker reads that sourcedId back (`result_key_prefix`) to hold a result while its line item is
    still waiting to be delivered.
    """
    return ":".join(("or", str(connection_id), kind.value, *parts))


def result_key_prefix(connection_id: int) -> str:
    """The part of every result dedupe key before the line item's sourcedId."""
    return dedupe_key(connection_id, MessageKind.RESULT) + ":"


def content_digest(body: Mapping[str, Any]) -> str:
    """A short digest of a body without its `dateLastModified`: the same content is queued only once."""
    inner = dict(next(iter(body.values())))
    inner.pop("dateLastModified", None)
    canonical = json.dumps(inner, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def _at_midnight(day: date) -> datetime:
    return datetime.combine(day, time(0, 0), tzinfo=UTC)


def _score_status(grade: PostedGrade) -> ScoreStatus:
    # Insufficient evidence is not missing work ("not submitted" would say so): the grade is partial.
    return "fully graded" if grade.status is PostedGradeStatus.GRADED else "partially graded"


def _scale_values(policy: Policy) -> tuple[ScoreScaleValue, ...]:
    # ScoreScaleValueDType: a single LHS value is the inclusive lower bound of its range (1.2 §4.12.4).
    return tuple(
        ScoreScaleValue(item_value_lhs=str(row.min_value), item_value_rhs=row.letter)
        for row in policy.letters
    )


@dataclass(frozen=True, slots=True)
class _Target:
    """Where one class x period goes: connection, vendor, URLs and the SIS ids of class, period, school."""

    connection: SisConnection
    profile: VendorProfile
    urls: ServiceUrls
    class_sid: str
    period_sid: str
    period_title: str
    school_sid: str
    policy: Policy
    line_item_sid: str

    def body(self, record: GradebookRecord) -> dict[str, Any]:
        return message_body(record, urls=self.urls, profile=self.profile, version=self.connection.version)


class _Builder:
    """Turns posted grades into messages, keeping the first copy of each dedupe key."""

    def __init__(self, facts: PushFacts, now: datetime) -> None:
        self.facts = facts
        self.now = now
        self.messages: dict[str, PushMessage] = {}
        self.skipped: list[SkippedGrade] = []
        # Level label by policy and proficiency: a school's grades repeat a few hundred proficiencies.
        self.labels: dict[int, dict[Decimal, str]] = {}

    def add(self, message: PushMessage) -> None:
        self.messages.setdefault(message.dedupe_key, message)

    def build_class_period(self, grades: Sequence[PostedGrade]) -> None:
        """Messages for one class in one grading period: prerequisites, line item, one result per grade."""
        target = self._target(grades[0])
        if isinstance(target, str):
            self.skipped.extend(SkippedGrade(posted_grade_id=g.id, reason=target) for g in grades)
            return
        school_class = self.facts.classes[grades[0].class_id]
        category, scale_id, requires = self._prerequisites(target, school_class)
        results: list[PushMessage] = []
        for grade in grades:
            message = self._result(target, grade, scale_id)
            if message is None:
                self.skipped.append(
                    SkippedGrade(
                        posted_grade_id=grade.id,
                        reason=f"the student has no SIS sourcedId from connection {target.connection.name!r}",
                    )
                )
            else:
                results.append(message)
        if not results:
            return
        objective_ids = set(self.facts.class_objective_ids(school_class.id))
        for message in results:
            if isinstance(message.record, PeriodResult):
                objective_ids.update(o.learning_objective_id for o in message.record.objective_scores)
        course = self.facts.courses[school_class.course_id]
        policy = target.policy
        period = self.facts.periods[grades[0].academic_session_id]
        line_item = PeriodLineItem(
            class_sourced_id=target.class_sid,
            school_sourced_id=target.school_sid,
            category_sourced_id=category.sourced_id,
            grading_period_sourced_id=target.period_sid,
            title=target.profile.clip_title(f"{course.title} {target.period_title} {category.title}"),
            assign_date=_at_midnight(period.start_date),
            due_date=_at_midnight(period.end_date),
            date_last_modified=self.now,
            description=f"{target.period_title} grade posted by mastery-bridge ({policy.name} {policy.version})",
            result_value_min=policy.scale.minimum,
            result_value_max=policy.scale.maximum,
            score_scale_sourced_id=scale_id,
            learning_objective_ids=tuple(sorted(objective_ids)),
        )
        body = target.body(line_item)
        line_item_sid = line_item.sourced_id
        self.add(
            PushMessage(
                connection_id=target.connection.id,
                kind=MessageKind.LINE_ITEM,
                record=line_item,
                sourced_id=line_item_sid,
                body=body,
                dedupe_key=dedupe_key(
                    target.connection.id, MessageKind.LINE_ITEM, line_item_sid, content_digest(body)
                ),
                requires=tuple(requires),
                period_sourced_id=target.period_sid,
                period_title=target.period_title,
            )
        )
        for message in results:
            self.add(message)

    def _target(self, grade: PostedGrade) -> _Target | str:
        """Where the grades of this class x period go, or why they cannot be sent."""
        facts = self.facts
        school_class = facts.classes[grade.class_id]
        period = facts.periods[grade.academic_session_id]
        school = facts.orgs.get(school_class.org_id)
        connection, why = facts.connection_for(school_class)
        class_sid, period_sid = school_class.sourced_id, period.sourced_id
        school_sid = school.sourced_id if school is not None else None
        if connection is None:
            return why
        if not class_sid:
            return "the class has no SIS sourcedId"
        if not period_sid:
            return "the grading period has no SIS sourcedId"
        if not school_sid:
            return "the class's school has no SIS sourcedId"
        return _Target(
            connection=connection,
            profile=facts.profile(connection),
            urls=service_urls(connection),
            class_sid=class_sid,
            period_sid=period_sid,
            period_title=period.title,
            school_sid=school_sid,
            policy=facts.policy(grade.policy_id),
            line_item_sid=line_item_sourced_id(class_sid, period_sid),
        )

    def _prerequisites(
        self, target: _Target, school_class: SchoolClass
    ) -> tuple[GradebookCategory, str | None, list[str]]:
        """The "Term Grade" category and (1.2) the policy's letter scale; returns what line items require."""
        profile, connection, policy = target.profile, target.connection, target.policy
        requires: list[str] = []
        category = GradebookCategory(
            title=profile.clip_category(profile.category_title),
            scope_sourced_id=self._category_scope(target, school_class),
            date_last_modified=self.now,
        )
        if profile.can_put_categories:
            self.add(self._prerequisite(target, MessageKind.CATEGORY, category))
            requires.append(category.sourced_id)
        if connection.version is not OneRosterVersion.V1_2:
            return category, None, requires  # 1.1 has no score scales
        scale = GradebookScoreScale(
            title=profile.clip_title(f"{policy.name} {policy.version} letters"),
            class_sourced_id=target.class_sid,
            values=_scale_values(policy),
            date_last_modified=self.now,
            course_sourced_id=self.facts.courses[school_class.course_id].sourced_id,
        )
        if profile.can_put_score_scales:
            self.add(self._prerequisite(target, MessageKind.SCORE_SCALE, scale))
            requires.append(scale.sourced_id)
        return category, scale.sourced_id, requires

    def _result(self, target: _Target, grade: PostedGrade, scale_id: str | None) -> PushMessage | None:
        """The result message of one posted grade; None when the student has no SIS sourcedId."""
        facts, policy = self.facts, target.policy
        student_sid = facts.sis_ids.get((target.connection.name, grade.student_id))
        if student_sid is None:
            return None
        case_ids = facts.indicator_case_ids(grade.class_id)
        scores = provenance_scores(grade.provenance)
        if scores is None:
            scores = facts.evidence_scores(grade)
        objectives = []
        for code, indicator in sorted(scores.items()):
            case_id = indicator.case_identifier or case_ids.get(code)
            if case_id is None:
                continue  # an indicator without a CASE id has no learningObjectiveId to send
            labels = self.labels.setdefault(id(policy), {})
            label = labels.get(indicator.proficiency)
            if label is None:
                label = labels[indicator.proficiency] = policy.scale.label_for(indicator.proficiency) or ""
            objectives.append(ObjectiveScore(case_id, indicator.proficiency, label or None))
        when = grade.posted_at or grade.computed_at
        letter = grade.letter or None
        result = PeriodResult(
            class_sourced_id=target.class_sid,
            grading_period_sourced_id=target.period_sid,
            student_sourced_id=student_sid,
            score_status=_score_status(grade),
            score_date=when.date(),
            date_last_modified=when,
            score=grade.course_value,
            text_score=letter,
            score_scale_sourced_id=scale_id,
            objective_scores=tuple(objectives),
        )
        line_item_sid = target.line_item_sid
        return PushMessage(
            connection_id=target.connection.id,
            kind=MessageKind.RESULT,
            record=result,
            sourced_id=result.sourced_id,
            body=None,
            # The posted grade's id: an amendment (a new row) queues a new message, a repeat does not.
            dedupe_key=dedupe_key(target.connection.id, MessageKind.RESULT, line_item_sid, f"pg{grade.id}"),
            requires=(line_item_sid,),
            period_sourced_id=target.period_sid,
            period_title=target.period_title,
            posted_grade_id=grade.id,
        )

    def _prerequisite(self, target: _Target, kind: MessageKind, record: GradebookRecord) -> PushMessage:
        body = target.body(record)
        sourced_id = record.sourced_id
        return PushMessage(
            connection_id=target.connection.id,
            kind=kind,
            record=record,
            sourced_id=sourced_id,
            body=body,
            dedupe_key=dedupe_key(target.connection.id, kind, sourced_id, content_digest(body)),
        )

    def _category_scope(self, target: _Target, school_class: SchoolClass) -> str:
        scope = target.profile.category_scope
        if scope is CategoryScope.CLASS:
            return target.class_sid
        if scope is CategoryScope.TEACHER:
            # Without a teacher id the school's category is used: still one "Term Grade" per teacher.
            teacher = self.facts.teacher_sis_id(school_class.id, target.connection.name)
            return teacher or target.school_sid
        return target.school_sid

    def result(self) -> PushBuild:
        ordered = sorted(self.messages.values(), key=lambda m: (m.kind.rank, m.connection_id))
        return PushBuild(messages=tuple(ordered), skipped=tuple(self.skipped))


def build_push(session: Session, posted_grades: Sequence[PostedGrade], *, now: datetime) -> PushBuild:
    """The messages that send `posted_grades` to their SIS, prerequisites first; nothing is written."""
    if not posted_grades:
        return PushBuild(messages=(), skipped=())
    builder = _Builder(PushFacts(session, posted_grades), now)
    groups: dict[tuple[int, int], list[PostedGrade]] = defaultdict(list)
    for grade in posted_grades:
        groups[(grade.class_id, grade.academic_session_id)].append(grade)
    for key in sorted(groups):
        builder.build_class_period(sorted(groups[key], key=lambda g: (g.student_id, g.id)))
    return builder.result()
