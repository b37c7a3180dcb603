"""JSON bodies for the OneRoster 1.2 gradebook REST calls PUT /categories, /scoreScales, /lineItems, /results.

One line item per class and grading period carries the period grade; one result per student on it.
Their sourcedIds are UUIDv5 of (class, period) and (class, period, student), so re-sending a grade updates
the same record instead of creating a new one; categories and score scales are keyed the same way.
Bodies follow `SingleCategoryDType`, `SingleScoreScaleDType`, `SingleLineItemDType` and `SingleResultDType`
of the 1.2 gradebook OpenAPI (tests validate every shape built here against it). The 1.1 bodies are in
`payloads_v1p1`.
"""

from __future__ import annotations

import functools
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Final, Literal

from connectors.oneroster.records import Status
from connectors.oneroster_csv.bodies import (
    CategoryBody,
    CategoryPayload,
    GuidRef,
    LearningObjectiveResult,
    LineItemBody,
    LineItemPayload,
    ResultBody,
    ResultPayload,
    ScoreScaleBody,
    ScoreScalePayload,
)
from connectors.oneroster_csv.records import ScoreScaleValue

# Fixed namespace of mastery-bridge's OneRoster sourcedIds; changing it would orphan every record sent.
SOURCED_ID_NAMESPACE: Final = uuid.uuid5(
    uuid.NAMESPACE_URL, "https://mastery-bridge.invalid/oneroster/sourcedId"
)


@functools.lru_cache(maxsize=1 << 16)
def _uuid(kind: str, *parts: str) -> str:
    # A JSON list keeps ("a|b", "c") and ("a", "b|c") apart whatever characters the ids contain.
    # Cached: a push asks for each line item's id once per result and for each result's id twice
    # (its message and its body), 30 us a time.
    return str(uuid.uuid5(SOURCED_ID_NAMESPACE, json.dumps([kind, *parts])))


def line_item_sourced_id(class_sourced_id: str, grading_period_sourced_id: str) -> str:
    """The sourcedId of the period-grade line item of a class in a grading period."""
    return _uuid("lineItem", class_sourced_id, grading_period_sourced_id)


def result_sourced_id(class_sourced_id: str, grading_period_sourced_id: str, student_sourced_id: str) -> str:
    """The sourcedId of a student's result on that line item."""
    return _uuid("result", class_sourced_id, grading_period_sourced_id, student_sourced_id)


def category_sourced_id(scope_sourced_id: str, title: str) -> str:
    """The sourcedId of category `title` within `scope_sourced_id` (a school, a teacher or a class)."""
    return _uuid("category", scope_sourced_id, title)


def score_scale_sourced_id(class_sourced_id: str, title: str) -> str:
    """The sourcedId of score scale `title` of a class."""
    return _uuid("scoreScale", class_sourced_id, title)


ScoreStatus = Literal["exempt", "fully graded", "not submitted", "partially graded", "submitted"]


@dataclass(frozen=True, slots=True)
class ServiceUrls:
    """Base URLs the GUIDRef hrefs point into, e.g. ".../ims/oneroster/rostering/v1p2"."""

    rostering: str
    gradebook: str

    def ref(self, kind: str, sourced_id: str) -> GuidRef:
        """A GUIDRef to `sourced_id` of type `kind` (class, org, user, category, ...)."""
        service, collection = _COLLECTIONS[kind]
        base = (self.rostering if service == "rostering" else self.gradebook).rstrip("/")
        return {"href": f"{base}/{collection}/{sourced_id}", "sourcedId": sourced_id, "type": kind}


_COLLECTIONS: Final = {
    "class": ("rostering", "classes"),
    "course": ("rostering", "courses"),
    "org": ("rostering", "orgs"),
    "user": ("rostering", "users"),
    "academicSession": ("rostering", "academicSessions"),
    "category": ("gradebook", "categories"),
    "lineItem": ("gradebook", "lineItems"),
    "scoreScale": ("gradebook", "scoreScales"),
}


@dataclass(frozen=True, slots=True)
class GradebookCategory:
    """A gradebook category such as "Term Grade"; unique within `scope_sourced_id` (see VendorProfile)."""

    title: str
    scope_sourced_id: str
    date_last_modified: datetime
    weight: Decimal | None = None
    status: Status = Status.ACTIVE

    @property
    def sourced_id(self) -> str:
        """Deterministic: see `category_sourced_id`."""
        return category_sourced_id(self.scope_sourced_id, self.title)


@dataclass(frozen=True, slots=True)
class GradebookScoreScale:
    """A class's score scale, e.g. the policy's letters mapped to course values (`{"3": "B"}`)."""

    title: str
    class_sourced_id: str
    values: tuple[ScoreScaleValue, ...]
    date_last_modified: datetime
    type: str = "letter"
    course_sourced_id: str | None = None
    status: Status = Status.ACTIVE

    @property
    def sourced_id(self) -> str:
        """Deterministic: see `score_scale_sourced_id`."""
        return score_scale_sourced_id(self.class_sourced_id, self.title)


@dataclass(frozen=True, slots=True)
class PeriodLineItem:
    """The period-grade column of one class in one grading period; `learning_objective_ids` are CASE UUIDs."""

    class_sourced_id: str
    school_sourced_id: str
    category_sourced_id: str
    grading_period_sourced_id: str
    title: str
    assign_date: datetime
    due_date: datetime
    date_last_modified: datetime
    description: str | None = None
    result_value_min: Decimal | None = None
    result_value_max: Decimal | None = None
    score_scale_sourced_id: str | None = None
    learning_objective_ids: tuple[str, ...] = ()
    status: Status = Status.ACTIVE

    @property
    def sourced_id(self) -> str:
        """Deterministic: see `line_item_sourced_id`."""
        return line_item_sourced_id(self.class_sourced_id, self.grading_period_sourced_id)


@dataclass(frozen=True, slots=True)
class ObjectiveScore:
    """A student's mastery of one CASE learning objective (its CFItem UUID)."""

    learning_objective_id: str
    score: Decimal | None = None
    text_score: str | None = None


@dataclass(frozen=True, slots=True)
class PeriodResult:
    """A student's period grade in a class, with the per-objective scores behind it."""

    class_sourced_id: str
    grading_period_sourced_id: str
    student_sourced_id: str
    score_status: ScoreStatus
    score_date: date
    date_last_modified: datetime
    score: Decimal | None = None
    text_score: str | None = None
    comment: str | None = None
    score_scale_sourced_id: str | None = None
    objective_scores: tuple[ObjectiveScore, ...] = ()
    status: Status = Status.ACTIVE

    @property
    def sourced_id(self) -> str:
        """Deterministic: see `result_sourced_id`."""
        return result_sourced_id(
            self.class_sourced_id, self.grading_period_sourced_id, self.student_sourced_id
        )

    @property
    def line_item_sourced_id(self) -> str:
        """The period-grade line item this result belongs to."""
        return line_item_sourced_id(self.class_sourced_id, self.grading_period_sourced_id)


def _datetime(value: datetime) -> str:
    if value.tzinfo is None:
        raise ValueError(f"{value.isoformat()} has no time zone; OneRoster date-times are UTC")
    utc = value.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def _number(value: Decimal) -> float:
    # JSON has no decimal type; the schema says Float. Grades have few digits, so float(str) is exact enough.
    if not value.is_finite():
        raise ValueError(f"score {value} is not a finite number")
    return float(value)


def format_datetime(value: datetime) -> str:
    """A OneRoster date-time: UTC, millisecond precision, a trailing Z; naive values are refused."""
    return _datetime(value)


def format_number(value: Decimal) -> float:
    """A score or bound as the JSON number the schemas call Float."""
    return _number(value)


def category_payload(
    category: GradebookCategory, *, metadata: Mapping[str, str] | None = None
) -> CategoryPayload:
    """The PUT /categories/{category.sourced_id} body (SingleCategoryDType)."""
    body: CategoryBody = {
        "sourcedId": category.sourced_id,
        "status": category.status.value,
        "dateLastModified": _datetime(category.date_last_modified),
        "title": category.title,
    }
    if category.weight is not None:
        body["weight"] = _number(category.weight)
    if metadata:
        body["metadata"] = dict(metadata)
    return {"category": body}


def score_scale_payload(scale: GradebookScoreScale, urls: ServiceUrls) -> ScoreScalePayload:
    """The PUT /scoreScales/{scale.sourced_id} body (SingleScoreScaleDType; at least one value)."""
    if not scale.values:
        raise ValueError(f"score scale {scale.title!r} of class {scale.class_sourced_id!r} has no values")
    body: ScoreScaleBody = {
        "sourcedId": scale.sourced_id,
        "status": scale.status.value,
        "dateLastModified": _datetime(scale.date_last_modified),
        "title": scale.title,
        "type": scale.type,
        "class": urls.ref("class", scale.class_sourced_id),
        "scoreScaleValue": [
            {"itemValueLHS": value.item_value_lhs, "itemValueRHS": value.item_value_rhs}
            for value in scale.values
        ],
    }
    if scale.course_sourced_id:
        body["course"] = urls.ref("course", scale.course_sourced_id)
    return {"scoreScale": body}


def line_item_payload(
    item: PeriodLineItem, urls: ServiceUrls, *, metadata: Mapping[str, str] | None = None
) -> LineItemPayload:
    """The PUT /lineItems/{item.sourced_id} body (SingleLineItemDType); `metadata` per the vendor profile."""
    body: LineItemBody = {
        "sourcedId": item.sourced_id,
        "status": item.status.value,
        "dateLastModified": _datetime(item.date_last_modified),
        "title": item.title,
        "assignDate": _datetime(item.assign_date),
        "dueDate": _datetime(item.due_date),
        "class": urls.ref("class", item.class_sourced_id),
        "school": urls.ref("org", item.school_sourced_id),
        "category": urls.ref("category", item.category_sourced_id),
        "academicSession": urls.ref("academicSession", item.grading_period_sourced_id),
    }
    if item.description:
        body["description"] = item.description
    if item.result_value_min is not None:
        body["resultValueMin"] = _number(item.result_value_min)
    if item.result_value_max is not None:
        body["resultValueMax"] = _number(item.result_value_max)
    if item.score_scale_sourced_id:
        body["scoreScale"] = urls.ref("scoreScale", item.score_scale_sourced_id)
    if item.learning_objective_ids:
        body["learningObjectiveSet"] = [
            {"source": "case", "learningObjectiveIds": sorted(set(item.learning_objective_ids))}
        ]
    if metadata:
        body["metadata"] = dict(metadata)
    return {"lineItem": body}


def result_payload(
    result: PeriodResult, urls: ServiceUrls, *, metadata: Mapping[str, str] | None = None
) -> ResultPayload:
    """The PUT /results/{result.sourced_id} body (SingleResultDType); `metadata` per the vendor profile."""
    body: ResultBody = {
        "sourcedId": result.sourced_id,
        "status": result.status.value,
        "dateLastModified": _datetime(result.date_last_modified),
        "lineItem": urls.ref("lineItem", result.line_item_sourced_id),
        "student": urls.ref("user", result.student_sourced_id),
        "class": urls.ref("class", result.class_sourced_id),
        "scoreStatus": result.score_status,
        "scoreDate": result.score_date.isoformat(),
    }
    if result.score is not None:
        body["score"] = _number(result.score)
    if result.text_score:
        body["textScore"] = result.text_score
    if result.comment:
        body["comment"] = result.comment
    if result.score_scale_sourced_id:
        body["scoreScale"] = urls.ref("scoreScale", result.score_scale_sourced_id)
    if result.objective_scores:
        entries: list[LearningObjectiveResult] = []
        for objective in sorted(result.objective_scores, key=lambda o: o.learning_objective_id):
            entry: LearningObjectiveResult = {"learningObjectiveId": objective.learning_objective_id}
            if objective.score is not None:
                entry["score"] = _number(objective.score)
            if objective.text_score:
                entry["textScore"] = objective.text_score
            entries.append(entry)
        body["learningObjectiveSet"] = [{"source": "case", "learningObjectiveResults": entries}]
    if metadata:
        body["metadata"] = dict(metadata)
    return {"result": body}
