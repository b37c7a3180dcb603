"""The OneRoster 1.1 and 1.2 CSV binding (read a roster zip, write a gradebook zip) and gradebook REST bodies.

Import rule: standard library only, plus `connectors.errors` and the records, filters and `RosterSource`
protocol of `connectors.oneroster`; never Flask, SQLAlchemy, pylti1p3 or `lti_tool`. Rostering rows are
read into the `connectors.oneroster.records` types, and `PackageRosterSource` serves a package through
the same `RosterSource` protocol as the REST client.
"""

from __future__ import annotations

from connectors.oneroster_csv.payloads import (
    GradebookCategory,
    GradebookScoreScale,
    ObjectiveScore,
    PeriodLineItem,
    PeriodResult,
    ServiceUrls,
    category_payload,
    category_sourced_id,
    line_item_payload,
    line_item_sourced_id,
    result_payload,
    result_sourced_id,
    score_scale_payload,
    score_scale_sourced_id,
)
from connectors.oneroster_csv.read import read_roster_zip
from connectors.oneroster_csv.records import (
    AcademicSession,
    Category,
    Class,
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
    RosterPackage,
    ScoreScale,
    ScoreScaleValue,
    Status,
    User,
    UserId,
    UserRole,
)
from connectors.oneroster_csv.source import PackageRosterSource
from connectors.oneroster_csv.write import neutralise, write_gradebook_zip

__all__ = [
    "AcademicSession",
    "Category",
    "Class",
    "Course",
    "Demographics",
    "Enrollment",
    "FileMode",
    "Gradebook",
    "GradebookCategory",
    "GradebookScoreScale",
    "LineItem",
    "LineItemLearningObjectiveId",
    "Manifest",
    "ObjectiveScore",
    "OneRosterVersion",
    "Org",
    "PackageRosterSource",
    "PeriodLineItem",
    "PeriodResult",
    "Result",
    "ResultLearningObjectiveId",
    "RosterPackage",
    "ScoreScale",
    "ScoreScaleValue",
    "ServiceUrls",
    "Status",
    "User",
    "UserId",
    "UserRole",
    "category_payload",
    "category_sourced_id",
    "line_item_payload",
    "line_item_sourced_id",
    "neutralise",
    "read_roster_zip",
    "result_payload",
    "result_sourced_id",
    "score_scale_payload",
    "score_scale_sourced_id",
    "write_gradebook_zip",
]
