"""JSON bodies for the OneRoster 1.1 gradebook REST calls PUT /categories, /lineItems and /results/{sourcedId}.

1.1 (§4.4-§4.6 of the 1.1 information model) has no score scales, no `textScore` and no learning
objectives: a letter grade travels in `comment` or in `metadata`, as the vendor profile says. The line
item names its grading period `gradingPeriod`. sourcedIds are the same deterministic UUIDs as in 1.2.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NotRequired, TypedDict

from connectors.oneroster_csv.bodies import GuidRef
from connectors.oneroster_csv.payloads import (
    GradebookCategory,
    PeriodLineItem,
    PeriodResult,
    ServiceUrls,
    format_datetime,
    format_number,
)


class CategoryBodyV1p1(TypedDict):
    """1.1 category."""

    sourcedId: str
    status: str
    dateLastModified: str
    title: str
    metadata: NotRequired[dict[str, str]]


LineItemBodyV1p1 = TypedDict(
    "LineItemBodyV1p1",
    {
        "sourcedId": str,
        "status": str,
        "dateLastModified": str,
        "title": str,
        "description": NotRequired[str],
        "assignDate": str,
        "dueDate": str,
        "class": GuidRef,
        "category": GuidRef,
        "gradingPeriod": GuidRef,
        "resultValueMin": NotRequired[float],
        "resultValueMax": NotRequired[float],
        "metadata": NotRequired[dict[str, str]],
    },
)


class ResultBodyV1p1(TypedDict):
    """1.1 result: one student's score on one line item."""

    sourcedId: str
    status: str
    dateLastModified: str
    lineItem: GuidRef
    student: GuidRef
    scoreStatus: str
    score: NotRequired[float]
    scoreDate: str
    comment: NotRequired[str]
    metadata: NotRequired[dict[str, str]]


class CategoryPayloadV1p1(TypedDict):
    """The body of 1.1 PUT /categories/{sourcedId}."""

    category: CategoryBodyV1p1


class LineItemPayloadV1p1(TypedDict):
    """The body of 1.1 PUT /lineItems/{sourcedId}."""

    lineItem: LineItemBodyV1p1


class ResultPayloadV1p1(TypedDict):
    """The body of 1.1 PUT /results/{sourcedId}."""

    result: ResultBodyV1p1


def category_payload_v1p1(
    category: GradebookCategory, *, metadata: Mapping[str, str] | None = None
) -> CategoryPayloadV1p1:
    """The 1.1 PUT /categories/{category.sourced_id} body (1.1 has no category weight)."""
    body: CategoryBodyV1p1 = {
        "sourcedId": category.sourced_id,
        "status": category.status.value,
        "dateLastModified": format_datetime(category.date_last_modified),
        "title": category.title,
    }
    if metadata:
        body["metadata"] = dict(metadata)
    return {"category": body}


def line_item_payload_v1p1(
    item: PeriodLineItem, urls: ServiceUrls, *, metadata: Mapping[str, str] | None = None
) -> LineItemPayloadV1p1:
    """The 1.1 PUT /lineItems/{item.sourced_id} body; score scales and objectives have no 1.1 field."""
    body: LineItemBodyV1p1 = {
        "sourcedId": item.sourced_id,
        "status": item.status.value,
        "dateLastModified": format_datetime(item.date_last_modified),
        "title": item.title,
        "assignDate": format_datetime(item.assign_date),
        "dueDate": format_datetime(item.due_date),
        "class": urls.ref("class", item.class_sourced_id),
        "category": urls.ref("category", item.category_sourced_id),
        "gradingPeriod": urls.ref("academicSession", item.grading_period_sourced_id),
    }
    if item.description:
        body["description"] = item.description
    if item.result_value_min is not None:
        body["resultValueMin"] = format_number(item.result_value_min)
    if item.result_value_max is not None:
        body["resultValueMax"] = format_number(item.result_value_max)
    if metadata:
        body["metadata"] = dict(metadata)
    return {"lineItem": body}


def result_payload_v1p1(
    result: PeriodResult,
    urls: ServiceUrls,
    *,
    comment: str | None = None,
    metadata: Mapping[str, str] | None = None,
) -> ResultPayloadV1p1:
    """The 1.1 PUT /results/{result.sourced_id} body; `comment` replaces the result's own when given."""
    body: ResultBodyV1p1 = {
        "sourcedId": result.sourced_id,
        "status": result.status.value,
        "dateLastModified": format_datetime(result.date_last_modified),
        "lineItem": urls.ref("lineItem", result.line_item_sourced_id),
        "student": urls.ref("user", result.student_sourced_id),
        "scoreStatus": result.score_status,
        "scoreDate": result.score_date.isoformat(),
    }
    if result.score is not None:
        body["score"] = format_number(result.score)
    text = comment if comment is not None else result.comment
    if text:
        body["comment"] = text
    if metadata:
        body["metadata"] = dict(metadata)
    return {"result": body}
