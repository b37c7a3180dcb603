"""Writing a gradebook as a OneRoster CSV zip: exact headers, manifest, deterministic bytes, formula safety."""

from __future__ import annotations

import csv
import io
import zipfile
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from connectors.errors import FormatError
from connectors.oneroster_csv import (
    Category,
    Gradebook,
    LineItem,
    LineItemLearningObjectiveId,
    OneRosterVersion,
    Result,
    ResultLearningObjectiveId,
    ScoreScale,
    ScoreScaleValue,
    neutralise,
    write_gradebook_zip,
)

OBJECTIVE = "a3c0a2a4-5d1e-4f5b-9c63-0f8e5b1e2d11"
MODIFIED = datetime(2026, 1, 15, 9, 30, 0, 250000, tzinfo=UTC)


def sample_gradebook() -> Gradebook:
    return Gradebook(
        categories=(Category(sourced_id="cat-1", title="Period grade", weight=Decimal("1.0")),),
        line_items=(
            LineItem(
                sourced_id="li-2",
                title='=HYPERLINK("http://evil")',
                assign_date=date(2025, 8, 15),
                due_date=date(2025, 10, 31),
                class_sourced_id="k1",
                category_sourced_id="cat-1",
                academic_session_sourced_id="t1",
                result_value_min=Decimal("-1"),
                result_value_max=Decimal("4"),
                school_sourced_id="s1",
                date_last_modified=MODIFIED,
            ),
            LineItem(
                sourced_id="li-1",
                title="Term 1",
                assign_date=date(2025, 8, 15),
                due_date=date(2025, 10, 31),
                class_sourced_id="k1",
                category_sourced_id="cat-1",
            ),
        ),
        results=(
            Result(
                sourced_id="r-1",
                line_item_sourced_id="li-1",
                student_sourced_id="u1",
                score_status="fully graded",
                score_date=date(2025, 10, 31),
                score=Decimal("-0.5"),
                comment="+1 for effort",
                text_score="@Proficient",
                class_sourced_id="k1",
                late=False,
            ),
        ),
        score_scales=(
            ScoreScale(
                sourced_id="ss-1",
                title="Mastery 1-4",
                type="mastery",
                class_sourced_id="k1",
                values=(ScoreScaleValue("4", "Exceeds"), ScoreScaleValue("3", "Meets")),
            ),
        ),
        line_item_learning_objective_ids=(
            LineItemLearningObjectiveId(
                sourced_id="lilo-1", line_item_sourced_id="li-1", learning_objective_id=OBJECTIVE
            ),
        ),
        result_learning_objective_ids=(
            ResultLearningObjectiveId(
                sourced_id="rlo-1",
                result_sourced_id="r-1",
                learning_objective_id=OBJECTIVE,
                score=Decimal("3"),
            ),
        ),
    )


def read_zip(content: bytes) -> dict[str, list[list[str]]]:
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        return {
            name: list(csv.reader(io.StringIO(archive.read(name).decode("utf-8"), newline="")))
            for name in archive.namelist()
        }


def test_writes_1_2_files_with_the_binding_headers_in_order() -> None:
    files = read_zip(write_gradebook_zip(sample_gradebook()))

    assert sorted(files) == [
        "categories.csv",
        "lineItemLearningObjectiveIds.csv",
        "lineItems.csv",
        "manifest.csv",
        "resultLearningObjectiveIds.csv",
        "results.csv",
        "scoreScales.csv",
    ]
    assert ",".join(files["categories.csv"][0]) == "sourcedId,status,dateLastModified,title,weight"
    assert ",".join(files["lineItems.csv"][0]) == (
        "sourcedId,status,dateLastModified,title,description,assignDate,dueDate,classSourcedId,"
        "categorySourcedId,academicSessionSourcedId,resultValueMin,resultValueMax,schoolSourcedId"
    )
    assert ",".join(files["results.csv"][0]) == (
        "sourcedId,status,dateLastModified,lineItemSourcedId,studentSourcedId,scoreStatus,score,scoreDate,"
        "comment,textScore,classSourcedId,inProgress,incomplete,late,missing"
    )
    assert ",".join(files["scoreScales.csv"][0]) == (
        "sourcedId,status,dateLastModified,title,type,orgSourcedId,courseSourcedId,classSourcedId,scoreScaleValue"
    )
    assert ",".join(files["lineItemLearningObjectiveIds.csv"][0]) == (
        "sourcedId,status,dateLastModified,lineItemSourcedId,source,learningObjectiveId"
    )
    assert ",".join(files["resultLearningObjectiveIds.csv"][0]) == (
        "sourcedId,status,dateLastModified,resultSourcedId,source,learningObjectiveId,score,textScore"
    )


def test_rows_are_sorted_and_cells_formatted() -> None:
    files = read_zip(write_gradebook_zip(sample_gradebook()))

    line_items = files["lineItems.csv"][1:]
    assert [row[0] for row in line_items] == ["li-1", "li-2"]
    assert line_items[1][1:3] == ["active", "2026-01-15T09:30:00.250Z"]
    assert line_items[1][5:7] == ["2025-08-15", "2025-10-31"]
    assert line_items[1][10:12] == ["-1", "4"]  # numbers keep their sign
    (result,) = files["results.csv"][1:]
    assert result[6] == "-0.5"
    assert result[13] == "false"
    assert result[12] == ""
    assert files["scoreScales.csv"][1][8] == "{4:Exceeds},{3:Meets}"
    assert files["resultLearningObjectiveIds.csv"][1][4:7] == ["case", OBJECTIVE, "3"]


def test_text_cells_are_neutralised_against_formulas() -> None:
    files = read_zip(write_gradebook_zip(sample_gradebook()))

    assert files["lineItems.csv"][2][3] == '\'=HYPERLINK("http://evil")'
    (result,) = files["results.csv"][1:]
    assert result[8] == "'+1 for effort"
    assert result[9] == "'@Proficient"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("=1+1", "'=1+1"),
        ("-2", "'-2"),
        ("+x", "'+x"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("ok - fine", "ok - fine"),
        (None, ""),
    ],
)
def test_neutralise(text: str | None, expected: str) -> None:
    assert neutralise(text) == expected


def test_manifest_declares_written_files_bulk_and_others_absent() -> None:
    files = read_zip(write_gradebook_zip(sample_gradebook()))
    properties = dict(files["manifest.csv"][1:])

    assert files["manifest.csv"][0] == ["propertyName", "value"]
    assert properties["manifest.version"] == "1.0"
    assert properties["oneroster.version"] == "1.2"
    assert properties["file.results"] == "bulk"
    assert properties["file.resultLearningObjectiveIds"] == "bulk"
    assert properties["file.users"] == "absent"
    assert properties["file.lineItemScoreScales"] == "absent"
    assert properties["source.systemName"] == "mastery-bridge"


def test_output_is_deterministic() -> None:
    gradebook = sample_gradebook()
    reordered = Gradebook(
        categories=gradebook.categories,
        line_items=tuple(reversed(gradebook.line_items)),
        results=gradebook.results,
        score_scales=gradebook.score_scales,
        line_item_learning_objective_ids=gradebook.line_item_learning_objective_ids,
        result_learning_objective_ids=gradebook.result_learning_objective_ids,
    )

    first = write_gradebook_zip(gradebook)

    assert write_gradebook_zip(gradebook) == first
    assert write_gradebook_zip(reordered) == first
    with zipfile.ZipFile(io.BytesIO(first)) as archive:
        infos = archive.infolist()
    assert [info.filename for info in infos] == sorted(info.filename for info in infos)
    assert {info.date_time for info in infos} == {(1980, 1, 1, 0, 0, 0)}


def test_files_use_crlf_and_no_bom() -> None:
    with zipfile.ZipFile(io.BytesIO(write_gradebook_zip(sample_gradebook()))) as archive:
        raw = archive.read("categories.csv")
    assert raw.startswith(b"sourcedId,")
    assert raw.endswith(b"\r\n")


def test_writes_1_1_with_its_own_headers() -> None:
    gradebook = sample_gradebook()
    only_1_1 = Gradebook(
        categories=gradebook.categories, line_items=gradebook.line_items, results=gradebook.results
    )

    files = read_zip(write_gradebook_zip(only_1_1, version=OneRosterVersion.V1_1))

    assert ",".join(files["categories.csv"][0]) == "sourcedId,status,dateLastModified,title"
    assert ",".join(files["lineItems.csv"][0]) == (
        "sourcedId,status,dateLastModified,title,description,assignDate,dueDate,classSourcedId,"
        "categorySourcedId,gradingPeriodSourcedId,resultValueMin,resultValueMax"
    )
    assert ",".join(files["results.csv"][0]) == (
        "sourcedId,status,dateLastModified,lineItemSourcedId,studentSourcedId,scoreStatus,score,scoreDate,comment"
    )
    assert all(len(row) == 9 for row in files["results.csv"])
    properties = dict(files["manifest.csv"][1:])
    assert properties["oneroster.version"] == "1.1"
    assert "file.scoreScales" not in properties


def test_1_1_cannot_carry_score_scales_or_objectives() -> None:
    with pytest.raises(FormatError) as caught:
        write_gradebook_zip(sample_gradebook(), version=OneRosterVersion.V1_1)
    assert caught.value.item == "scoreScales.csv"


def test_repeated_sourced_ids_are_refused() -> None:
    category = Category(sourced_id="cat-1", title="A")
    with pytest.raises(FormatError) as caught:
        write_gradebook_zip(Gradebook(categories=(category, category)))
    assert (caught.value.item, caught.value.field) == ("categories.csv", "sourcedId")
