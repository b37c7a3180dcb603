"""TypedDicts of the OneRoster 1.2 gradebook JSON bodies we PUT (the OpenAPI `Single*DType` shapes)."""

from __future__ import annotations

from typing import NotRequired, TypedDict


class GuidRef(TypedDict):
    """A OneRoster GUIDRef: where the object lives, its sourcedId and its type."""

    href: str
    sourcedId: str
    type: str


class LearningObjectiveSet(TypedDict):
    """LearningObjectiveSetDType: the objectives a line item is aligned to."""

    source: str
    learningObjectiveIds: list[str]


class LearningObjectiveResult(TypedDict):
    """LearningObjectiveResultsDType: a mastery score on one objective."""

    learningObjectiveId: str
    score: NotRequired[float]
    textScore: NotRequired[str]


class LearningObjectiveScoreSet(TypedDict):
    """LearningObjectiveScoreSetDType: mastery scores from one objective source."""

    source: str
    learningObjectiveResults: list[LearningObjectiveResult]


class CategoryBody(TypedDict):
    """CategoryDType."""

    sourcedId: str
    status: str
    dateLastModified: str
    title: str
    weight: NotRequired[float]
    metadata: NotRequired[dict[str, str]]


class ScoreScaleValueBody(TypedDict):
    """ScoreScaleValueDType: one `itemValueLHS` -> `itemValueRHS` mapping."""

    itemValueLHS: str
    itemValueRHS: str


ScoreScaleBody = TypedDict(
    "ScoreScaleBody",
    {
        "sourcedId": str,
        "status": str,
        "dateLastModified": str,
        "title": str,
        "type": str,
        "class": GuidRef,
        "course": NotRequired[GuidRef],
        "scoreScaleValue": list[ScoreScaleValueBody],
        "metadata": NotRequired[dict[str, str]],
    },
)
LineItemBody = TypedDict(
    "LineItemBody",
    {
        "sourcedId": str,
        "status": str,
        "dateLastModified": str,
        "title": str,
        "description": NotRequired[str],
        "assignDate": str,
        "dueDate": str,
        "class": GuidRef,
        "school": GuidRef,
        "category": GuidRef,
        "academicSession": GuidRef,
        "resultValueMin": NotRequired[float],
        "resultValueMax": NotRequired[float],
        "scoreScale": NotRequired[GuidRef],
        "learningObjectiveSet": NotRequired[list[LearningObjectiveSet]],
        "metadata": NotRequired[dict[str, str]],
    },
)
ResultBody = TypedDict(
    "ResultBody",
    {
        "sourcedId": str,
        "status": str,
        "dateLastModified": str,
        "lineItem": GuidRef,
        "student": GuidRef,
        "class": GuidRef,
        "scoreStatus": str,
        "score": NotRequired[float],
        "textScore": NotRequired[str],
        "scoreDate": str,
        "comment": NotRequired[str],
        "scoreScale": NotRequired[GuidRef],
        "learningObjectiveSet": NotRequired[list[LearningObjectiveScoreSet]],
        "metadata": NotRequired[dict[str, str]],
    },
)


class CategoryPayload(TypedDict):
    """The body of PUT /categories/{sourcedId}."""

    category: CategoryBody


class ScoreScalePayload(TypedDict):
    """The body of PUT /scoreScales/{sourcedId}."""

    scoreScale: ScoreScaleBody


class LineItemPayload(TypedDict):
    """The body of PUT /lineItems/{sourcedId}."""

    lineItem: LineItemBody


class ResultPayload(TypedDict):
    """The body of PUT /results/{sourcedId}."""

    result: ResultBody
