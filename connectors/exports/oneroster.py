"""OneRoster 1.2 gradebook CSV zip of a period's posted grades, written by `connectors.oneroster_csv`.

One category ("Term Grade") per school, one line item per class and period, one result per student, and a
resultLearningObjectiveIds row per indicator with a CASE identifier (the per-standard levels behind the
grade). Line item and result sourcedIds are the same UUIDv5 values the REST push uses
(`line_item_sourced_id`, `result_sourced_id`), so a file import and a REST push update the same records.
A result carries the course value as `score` and the letter as `textScore`; an amendment says so in
`comment`. Classes, periods and students need SIS sourcedIds; grades without them are left out and counted.
"""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from datetime import datetime
from typing import Final

from connectors.exports.bundle import ExportResult
from connectors.exports.records import ExportDataset, ExportGrade
from connectors.oneroster_csv import (
    Category,
    Gradebook,
    LineItem,
    LineItemLearningObjectiveId,
    OneRosterVersion,
    Result,
    ResultLearningObjectiveId,
    line_item_sourced_id,
    result_sourced_id,
    write_gradebook_zip,
)
from connectors.oneroster_csv.payloads import SOURCED_ID_NAMESPACE
from mappings import GradeStatus

__all__ = ["CATEGORY_TITLE", "FILE_NAME", "render_oneroster_csv"]

FILE_NAME: Final = "oneroster-gradebook.zip"
CATEGORY_TITLE: Final = "Term Grade"


def _uuid(*parts: str) -> str:
    return str(uuid.uuid5(SOURCED_ID_NAMESPACE, json.dumps(list(parts))))


def _comment(grade: ExportGrade) -> str | None:
    if not grade.is_amendment:
        return None
    reason = (grade.amendment_reason or "").strip()
    return f"Amended {grade.posted_at.date().isoformat()}: {reason}" if reason else "Amended"


def render_oneroster_csv(dataset: ExportDataset) -> ExportResult:
    """`oneroster-gradebook.zip` (OneRoster 1.2 CSV bulk gradebook files) for the dataset's period."""
    period = dataset.period
    school = dataset.school
    school_id = school.sourced_id or school.key
    category = Category(
        sourced_id=_uuid("category", school_id, CATEGORY_TITLE),
        title=CATEGORY_TITLE,
        date_last_modified=dataset.as_of,
    )
    missing: dict[str, int] = defaultdict(int)
    by_line_item: dict[str, list[tuple[ExportGrade, str]]] = defaultdict(list)
    for grade in dataset.period_grades:
        school_class = dataset.classes[grade.class_key]
        student = dataset.students[grade.student_key]
        if not period.sourced_id:
            missing["the grading period has no SIS sourcedId"] += 1
        elif not school_class.sourced_id:
            missing["the class has no SIS sourcedId"] += 1
        elif not student.sis_id:
            missing["the student has no SIS sourcedId"] += 1
        else:
            by_line_item[school_class.sourced_id].append((grade, student.sis_id))
    line_items: list[LineItem] = []
    results: list[Result] = []
    item_objectives: list[LineItemLearningObjectiveId] = []
    result_objectives: list[ResultLearningObjectiveId] = []
    scale = school.policy.scale
    for class_sid, entries in by_line_item.items():
        period_sid = period.sourced_id or period.key
        item_id = line_item_sourced_id(class_sid, period_sid)
        course = dataset.course_of(entries[0][0])
        modified: datetime = max(grade.posted_at for grade, _ in entries)
        line_items.append(
            LineItem(
                sourced_id=item_id,
                title=f"{course.course.title}: {period.title}",
                assign_date=period.start,
                due_date=period.end,
                class_sourced_id=class_sid,
                category_sourced_id=category.sourced_id,
                academic_session_sourced_id=period_sid,
                result_value_min=scale.minimum,
                result_value_max=scale.maximum,
                school_sourced_id=school.sourced_id,
                date_last_modified=modified,
            )
        )
        objectives: set[str] = set()
        for grade, student_sid in entries:
            result_id = result_sourced_id(class_sid, period_sid, student_sid)
            is_graded = grade.status is GradeStatus.GRADED
            results.append(
                Result(
                    sourced_id=result_id,
                    line_item_sourced_id=item_id,
                    student_sourced_id=student_sid,
                    score_status="fully graded" if is_graded else "partially graded",
                    score_date=grade.posted_at.date(),
                    score=grade.course_value if is_graded else None,
                    text_score=grade.letter,
                    comment=_comment(grade),
                    class_sourced_id=class_sid,
                    incomplete=not is_graded,
                    date_last_modified=grade.posted_at,
                )
            )
            for indicator in grade.indicators:
                if not indicator.case_identifier or indicator.level is None:
                    continue
                objectives.add(indicator.case_identifier)
                result_objectives.append(
                    ResultLearningObjectiveId(
                        sourced_id=_uuid("resultObjective", result_id, indicator.case_identifier),
                        result_sourced_id=result_id,
                        learning_objective_id=indicator.case_identifier,
                        score=indicator.level,
                        date_last_modified=grade.posted_at,
                    )
                )
        item_objectives.extend(
            LineItemLearningObjectiveId(
                sourced_id=_uuid("lineItemObjective", item_id, objective),
                line_item_sourced_id=item_id,
                learning_objective_id=objective,
                date_last_modified=modified,
            )
            for objective in sorted(objectives)
        )
    gradebook = Gradebook(
        categories=(category,) if line_items else (),
        line_items=tuple(line_items),
        results=tuple(results),
        line_item_learning_objective_ids=tuple(item_objectives),
        result_learning_objective_ids=tuple(result_objectives),
    )
    warnings = tuple(f"{count} grade(s) left out: {why}" for why, count in sorted(missing.items()))
    data = write_gradebook_zip(gradebook, version=OneRosterVersion.V1_2)
    return ExportResult("oneroster-csv", {FILE_NAME: data}, warnings)
