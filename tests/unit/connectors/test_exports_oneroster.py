"""The OneRoster export writes what `write_gradebook_zip` writes for the same gradebook records.

The renderer builds its CSV rows as text (connectors.exports.oneroster); the reference below builds the
records and lets connectors.oneroster_csv write them, as the export did before. Both zips must hold the same
files, byte for byte, with the same entry attributes (only the deflate level differs).
"""

from __future__ import annotations

import csv
import io
import json
import uuid
import zipfile
from collections import defaultdict
from dataclasses import replace
from datetime import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connectors.errors import FormatError
from connectors.exports import ExportDataset, ExportGrade, render_export
from connectors.exports.oneroster import CATEGORY_TITLE, FILE_NAME, ZIP_LEVEL, _field, sourced_id
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
from tests.unit.connectors.exports_data import build_dataset


def _uuid(*parts: str) -> str:
    return str(uuid.uuid5(SOURCED_ID_NAMESPACE, json.dumps(list(parts))))


def _comment(grade: ExportGrade) -> str | None:
    if not grade.is_amendment:
        return None
    reason = (grade.amendment_reason or "").strip()
    return f"Amended {grade.posted_at.date().isoformat()}: {reason}" if reason else "Amended"


def _reference_zip(dataset: ExportDataset) -> bytes:
    """The gradebook as records, written by connectors.oneroster_csv (the export's former path)."""
    period, school = dataset.period, dataset.school
    category = Category(sourced_id=_uuid("category", school.sourced_id or school.key, CATEGORY_TITLE),
                        title=CATEGORY_TITLE, date_last_modified=dataset.as_of)  # fmt: skip
    by_line_item: dict[str, list[tuple[ExportGrade, str]]] = defaultdict(list)
    for grade in dataset.period_grades:
        school_class, student = dataset.classes[grade.class_key], dataset.students[grade.student_key]
        if period.sourced_id and school_class.sourced_id and student.sis_id:
            by_line_item[school_class.sourced_id].append((grade, student.sis_id))
    line_items, results, item_objectives, result_objectives = [], [], [], []
    scale = school.policy.scale
    for class_sid, entries in by_line_item.items():
        period_sid = period.sourced_id or period.key
        item_id = line_item_sourced_id(class_sid, period_sid)
        course = dataset.course_of(entries[0][0])
        modified: datetime = max(grade.posted_at for grade, _ in entries)
        line_items.append(LineItem(
            sourced_id=item_id, title=f"{course.course.title}: {period.title}", assign_date=period.start,
            due_date=period.end, class_sourced_id=class_sid, category_sourced_id=category.sourced_id,
            academic_session_sourced_id=period_sid, result_value_min=scale.minimum, result_value_max=scale.maximum,
            school_sourced_id=school.sourced_id, date_last_modified=modified,
        ))  # fmt: skip
        objectives: set[str] = set()
        for grade, student_sid in entries:
            result_id = result_sourced_id(class_sid, period_sid, student_sid)
            is_graded = grade.status is GradeStatus.GRADED
            results.append(Result(
                sourced_id=result_id, line_item_sourced_id=item_id, student_sourced_id=student_sid,
                score_status="fully graded" if is_graded else "partially graded", score_date=grade.posted_at.date(),
                score=grade.course_value if is_graded else None, text_score=grade.letter, comment=_comment(grade),
                class_sourced_id=class_sid, incomplete=not is_graded, date_last_modified=grade.posted_at,
            ))  # fmt: skip
            for indicator in grade.indicators:
                if not indicator.case_identifier or indicator.level is None:
                    continue
                objectives.add(indicator.case_identifier)
                result_objectives.append(ResultLearningObjectiveId(
                    sourced_id=_uuid("resultObjective", result_id, indicator.case_identifier),
                    result_sourced_id=result_id, learning_objective_id=indicator.case_identifier,
                    score=indicator.level, date_last_modified=grade.posted_at,
                ))  # fmt: skip
        item_objectives.extend(
            LineItemLearningObjectiveId(sourced_id=_uuid("lineItemObjective", item_id, objective),
                                        line_item_sourced_id=item_id, learning_objective_id=objective,
                                        date_last_modified=modified)
            for objective in sorted(objectives)
        )  # fmt: skip
    gradebook = Gradebook(
        categories=(category,) if line_items else (),
        line_items=tuple(line_items),
        results=tuple(results),
        line_item_learning_objective_ids=tuple(item_objectives),
        result_learning_objective_ids=tuple(result_objectives),
    )
    return write_gradebook_zip(gradebook, version=OneRosterVersion.V1_2)


def _awkward() -> ExportDataset:
    """Text that needs CSV quoting or formula neutralising in every free-text and identifier column."""
    dataset = build_dataset()
    courses = {k: replace(c, course=replace(c.course, title=f'=Tricky, "{c.course.title}"\nline'))
               for k, c in dataset.courses.items()}  # fmt: skip
    classes = {k: replace(c, sourced_id=f'{c.sourced_id},"x"') for k, c in dataset.classes.items()}
    students = {k: replace(s, sis_id=s.sis_id and f"{s.sis_id}\r\n,") for k, s in dataset.students.items()}
    grades = tuple(
        replace(
            g,
            letter="-" + g.letter,
            amendment_reason='@cmd, "quoted"\nsecond line' if g.is_amendment else g.amendment_reason,
            indicators=tuple(replace(i, case_identifier=f'{i.case_identifier},"q"') for i in g.indicators),
        )
        for g in dataset.grades
    )
    school = replace(dataset.school, sourced_id="SCH,1")
    period = replace(dataset.period, title='Final, "year"')
    sessions = {**dataset.sessions, period.key: period}
    return replace(dataset, courses=courses, classes=classes, students=students, grades=grades, school=school,
                   period=period, sessions=sessions)  # fmt: skip


def _entries(data: bytes) -> dict[str, tuple[bytes, tuple[object, ...]]]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {
            info.filename: (archive.read(info), (info.date_time, info.compress_type, info.create_system,
                                                 info.external_attr, info.flag_bits))
            for info in archive.infolist()
        }  # fmt: skip


@pytest.mark.parametrize(
    "dataset",
    [build_dataset(), build_dataset("Q1"), build_dataset("Q2"), _awkward()],
    ids=["Y1", "Q1", "Q2", "awkward text"],
)
def test_the_zip_holds_what_write_gradebook_zip_writes(dataset: ExportDataset) -> None:
    rendered = render_export("oneroster-csv", dataset).files[FILE_NAME]

    assert _entries(rendered) == _entries(_reference_zip(dataset))
    with zipfile.ZipFile(io.BytesIO(rendered)) as archive:
        assert list(archive.namelist()) == sorted(archive.namelist())


def test_the_zip_is_deflated_at_the_export_level() -> None:
    rendered = render_export("oneroster-csv", build_dataset()).files[FILE_NAME]

    with zipfile.ZipFile(io.BytesIO(rendered)) as archive:
        results = archive.getinfo("results.csv")
        raw = archive.read(results)
    assert ZIP_LEVEL < 9
    assert results.compress_size < len(raw)


def test_a_sourced_id_twice_is_refused_as_the_writer_refuses_it() -> None:
    dataset = build_dataset()
    students = {k: replace(s, sis_id="STU0001") for k, s in dataset.students.items()}
    twins = replace(dataset, students=students)

    with pytest.raises(FormatError, match=r"results\.csv: sourcedId .* appears twice"):
        render_export("oneroster-csv", twins)
    with pytest.raises(FormatError, match=r"results\.csv: sourcedId .* appears twice"):
        _reference_zip(twins)


_TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=12)


@given(st.lists(_TEXT, min_size=1, max_size=4))
def test_sourced_id_is_the_uuid5_of_the_json_parts(parts: list[str]) -> None:
    assert sourced_id(*parts) == _uuid(*parts)


@given(_TEXT, _TEXT, _TEXT)
def test_sourced_id_is_the_push_scheme(class_sid: str, period_sid: str, student_sid: str) -> None:
    assert sourced_id("result", class_sid, period_sid, student_sid) == result_sourced_id(
        class_sid, period_sid, student_sid
    )
    assert sourced_id("lineItem", class_sid, period_sid) == line_item_sourced_id(class_sid, period_sid)


@given(_TEXT)
def test_a_field_is_quoted_as_csv_writer_quotes_it(text: str) -> None:
    buffer = io.StringIO(newline="")
    csv.writer(buffer, lineterminator="\r\n").writerow(["a", text, "b"])

    assert buffer.getvalue() == f"a,{_field(text)},b\r\n"
