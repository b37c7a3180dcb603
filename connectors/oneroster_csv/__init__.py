"""The OneRoster 1.1 and 1.2 CSV binding (read a roster zip, write a gradebook zip) and 1.2 gradebook REST bodies.

Import rule: standard library only, plus `connectors.errors`; never Flask, SQLAlchemy, pylti1p3 or
`lti_tool`. Records are this package's own frozen dataclasses (`records.py`), kept apart from the REST
records in `connectors.oneroster` until the two are merged.
"""

from __future__ import annotations

from connectors.oneroster_csv.payloads import (
    ObjectiveScore,
    PeriodLineItem,
    PeriodResult,
    ServiceUrls,
    line_item_payload,
    line_item_sourced_id,
    result_payload,
    result_sourced_id,
)
from connectors.oneroster_csv.read import read_roster_zip
from connectors.oneroster_csv.records import (
    AcademicSession,
    Category,
    Course,
    Demographics,
    Enrollment,
    FileMode,
    Gradebook,
    LineItem,
    LineItemLearningObjectiveId,
    Manifest,
    OneRosterVersion,
    Org,
    Result,
    ResultLearningObjectiveId,
    RosterClass,
    RosterPackage,
    ScoreScale,
    ScoreScaleValue,
    Status,
    User,
    UserId,
)
from connectors.oneroster_csv.write import neutralise, write_gradebook_zip

__all__ = [
    "AcademicSession",
    "Category",
    "Course",
    "Demographics",
    "Enrollment",
    "FileMode",
    "Gradebook",
    "LineItem",
    "LineItemLearningObjectiveId",
    "Manifest",
    "ObjectiveScore",
    "OneRosterVersion",
    "Org",
    "PeriodLineItem",
    "PeriodResult",
    "Result",
    "ResultLearningObjectiveId",
    "RosterClass",
    "RosterPackage",
    "ScoreScale",
    "ScoreScaleValue",
    "ServiceUrls",
    "Status",
    "User",
    "UserId",
    "line_item_payload",
    "line_item_sourced_id",
    "neutralise",
    "read_roster_zip",
    "result_payload",
    "result_sourced_id",
    "write_gradebook_zip",
]
