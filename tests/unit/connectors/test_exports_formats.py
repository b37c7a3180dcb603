"""What each export file holds: layouts, store codes and term ids, amendments, warnings and formula safety."""

from __future__ import annotations

import csv
import io
import re
import zipfile
from dataclasses import replace
from datetime import date

from connectors.exports import (
    ExportClass,
    ExportSession,
    SessionKind,
    render_export,
    store_code,
    term_id,
)
from connectors.exports.powerschool import HEADER
from connectors.oneroster_csv import result_sourced_id
from mappings import GradeStatus
from tests.unit.connectors.exports_data import SESSIONS, build_dataset

SESSION_MAP = {s.key: s for s in SESSIONS}


def _tsv(data: bytes) -> list[list[str]]:
    text = data.decode("utf-8")
    assert text.endswith("\r\n")
    assert "\n" not in text.replace("\r\n", "")
    return [line.split("\t") for line in text.split("\r\n")[:-1]]


def _csv(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8"), newline="")))


def test_powerschool_file_has_the_documented_columns_in_order() -> None:
    rows = _tsv(render_export("powerschool-storedgrades", build_dataset()).files["storedgrades.txt"])

    assert tuple(rows[0][:10]) == ("STUDENT_NUMBER", "COURSE_NAME", "GRADE_LEVEL", "TERMID", "STORECODE",
                                   "SECTIONID", "COURSE_NUMBER", "EARNEDCRHRS", "GRADE", "POTENTIALCRHRS")  # fmt: skip
    assert tuple(rows[0]) == HEADER
    assert all(len(row) == len(HEADER) for row in rows)


def test_powerschool_rows_carry_the_final_with_credits_and_the_amendment() -> None:
    result = render_export("powerschool-storedgrades", build_dataset())
    rows = [dict(zip(HEADER, row, strict=True)) for row in _tsv(result.files["storedgrades.txt"])[1:]]

    # Noah Smith has no SIS student number: 3 grades left out, and said so (without naming him).
    assert len(rows) == 9
    assert result.warnings == ("3 grade(s) left out: the student has no SIS student number yet",)
    assert {row["STORECODE"] for row in rows} == {"Y1"}
    assert {row["TERMID"] for row in rows} == {"3600"}
    art = next(r for r in rows if r["STUDENT_NUMBER"] == "STU0001" and r["COURSE_NUMBER"] == "ART")
    assert (art["POTENTIALCRHRS"], art["EARNEDCRHRS"]) == ("0.5", "0.5")
    amended = next(r for r in rows if r["STUDENT_NUMBER"] == "STU0001" and r["COURSE_NUMBER"] == "APUSH")
    assert amended["COMMENT_VALUE"].startswith("Amended 2027-06-21: Late summative task")
    assert amended["DATESTORED"] == "06/21/2027"


def test_powerschool_quarter_grades_store_no_credit() -> None:
    rows = _tsv(render_export("powerschool-storedgrades", build_dataset("Q1")).files["storedgrades.txt"])[1:]
    by = {(r[0], r[6]): dict(zip(HEADER, r, strict=True)) for r in rows}

    assert {r["STORECODE"] for r in by.values()} == {"Q1"}
    assert {(r["EARNEDCRHRS"], r["POTENTIALCRHRS"]) for r in by.values()} == {("0", "0")}
    insufficient = by[("STU0002", "ART")]
    assert (insufficient["GRADE"], insufficient["EXCLUDEFROMGPA"], insufficient["GPA_POINTS"]) == (
        "I",
        "1",
        "",
    )


def test_store_codes_and_term_ids_follow_powerschool_numbering() -> None:
    unnamed = {
        key: replace(s, key=f"session-{index}", sourced_id=None, title=f"Session {index}", parent_key=None)
        for index, (key, s) in enumerate(SESSION_MAP.items())
    }
    sessions = {s.key: s for s in unnamed.values()}  # no parents, no codes: everything from dates and kinds

    codes = {
        key: store_code(unnamed[key], sessions)
        for key in ("Q1", "Q2", "Q3", "Q4", "S1", "S2", "Y1", "SY2026")
    }
    assert codes == {
        "Q1": "Q1",
        "Q2": "Q2",
        "Q3": "Q3",
        "Q4": "Q4",
        "S1": "S1",
        "S2": "S2",
        "Y1": "Y1",
        "SY2026": "Y1",
    }
    # 2026-27 is PowerSchool year 36; the year term is 3600 and the semesters 3601, 3602.
    assert term_id(None, unnamed["Q1"], sessions) == 3600
    assert term_id(unnamed["SY2026"], unnamed["Q3"], sessions) == 3600
    assert term_id(unnamed["S2"], unnamed["Q3"], sessions) == 3602
    assert (
        store_code(
            ExportSession("x", "Q3", SessionKind.GRADING_PERIOD, date(2027, 1, 19), date(2027, 3, 26)),
            SESSION_MAP,
        )
        == "Q3"
    )


def test_semester_class_gets_its_semester_term_id() -> None:
    dataset = build_dataset()
    classes = dict(dataset.classes)
    classes["ART-1"] = replace(classes["ART-1"], term_key="S2")
    rows = _tsv(
        render_export("powerschool-storedgrades", replace(dataset, classes=classes)).files["storedgrades.txt"]
    )

    assert {r[3] for r in rows[1:] if r[6] == "ART"} == {"3602"}


def test_grades_csv_has_a_row_per_student_course_period_and_indicator_columns() -> None:
    rows = _csv(render_export("grades-csv", build_dataset()).files["grades.csv"])

    assert len(rows) == 4 * 3 * 5
    assert list(rows[0])[-5:] == ["ART.1.1", "ELA.1.1", "ELA.1.3", "SOC.1.1", "SOC.1.2"]
    amended = [r for r in rows if r["is_amendment"] == "yes"]
    assert len(amended) == 1
    assert amended[0]["amendment_reason"].startswith("Late summative")
    insufficient = next(r for r in rows if r["status"] == "insufficient_evidence")
    assert (insufficient["letter"], insufficient["course_value"], insufficient["ART.1.1"]) == ("I", "", "")
    finals = [r for r in rows if r["period"] == "Y1"]
    assert all(r["credits_earned"] != "" for r in finals)
    assert all(r["credits_earned"] == "" for r in rows if r["period"] != "Y1")


def _injected() -> object:
    dataset = build_dataset()
    courses = dict(dataset.courses)
    art = courses["ART"]
    courses["ART"] = replace(art, course=replace(art.course, title='=HYPERLINK("http://evil.example","x")'))
    students = dict(dataset.students)
    students["p1"] = replace(students["p1"], family_name="@SUM(A1:A9)", given_name="+1\tTab")
    grades = tuple(
        replace(g, amendment_reason="-2+3 cmd|' /C calc'!A0") if g.is_amendment else g for g in dataset.grades
    )
    return replace(dataset, courses=courses, students=students, grades=grades)


def test_csv_cells_are_neutralised_against_formula_injection() -> None:
    dataset = _injected()
    rows = _csv(render_export("grades-csv", dataset).files["grades.csv"])  # type: ignore[arg-type]

    assert {r["course_title"] for r in rows if r["course_code"] == "ART"} == {
        '\'=HYPERLINK("http://evil.example","x")'
    }
    assert {r["family_name"] for r in rows if r["student_number"] == "STU0001"} == {"'@SUM(A1:A9)"}
    assert {r["given_name"] for r in rows if r["student_number"] == "STU0001"} == {"'+1\tTab"}
    assert [r["amendment_reason"] for r in rows if r["is_amendment"] == "yes"] == ["'-2+3 cmd|' /C calc'!A0"]
    for name in ("ncaa-worksheet.csv", "ncaa-summary.csv", "ncaa-requirements.csv"):
        cells = [
            c
            for row in csv.reader(io.StringIO(render_export("ncaa", dataset).files[name].decode()))
            for c in row
        ]  # type: ignore[arg-type]
        assert not any(c[:1] in ("=", "+", "-", "@", "\t", "\r") for c in cells), name
    tsv = _tsv(render_export("powerschool-storedgrades", dataset).files["storedgrades.txt"])  # type: ignore[arg-type]
    assert not any(cell[:1] in ("=", "+", "-", "@") for row in tsv for cell in row)


def test_xlsx_writes_text_as_text_never_as_a_formula() -> None:
    data = render_export("grades-xlsx", _injected()).files["grades.xlsx"]  # type: ignore[arg-type]

    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        sheet = archive.read("xl/worksheets/sheet1.xml").decode()
        strings = archive.read("xl/sharedStrings.xml").decode()
        core = archive.read("docProps/core.xml").decode()
    assert "<f>" not in sheet
    assert "&apos;=HYPERLINK" in strings or "'=HYPERLINK" in strings
    assert "'@SUM(A1:A9)" in strings
    assert "2027-06-21T09:30:00Z" in core  # the data's date, not the clock


def test_oneroster_zip_uses_the_push_sourced_ids_and_marks_the_amendment() -> None:
    result = render_export("oneroster-csv", build_dataset())

    with zipfile.ZipFile(io.BytesIO(result.files["oneroster-gradebook.zip"])) as archive:
        results = _csv(archive.read("results.csv"))
        line_items = _csv(archive.read("lineItems.csv"))
        objectives = _csv(archive.read("resultLearningObjectiveIds.csv"))
        manifest = archive.read("manifest.csv").decode()
    assert "oneroster.version,1.2" in manifest
    assert len(line_items) == 3
    assert len(results) == 9
    ids = {r["sourcedId"] for r in results}
    assert result_sourced_id("APUSH-1", "Y1", "STU0001") in ids
    amended = next(r for r in results if r["comment"])
    assert amended["comment"].startswith("Amended 2027-06-21")
    assert all(r["textScore"] for r in results)
    assert {o["learningObjectiveId"] for o in objectives} >= {"case-ela.1.1", "case-soc.1.2"}
    assert result.warnings == ("3 grade(s) left out: the student has no SIS sourcedId",)


def test_an_insufficient_result_has_no_score_and_says_incomplete() -> None:
    result = render_export("oneroster-csv", build_dataset("Q1"))
    with zipfile.ZipFile(io.BytesIO(result.files["oneroster-gradebook.zip"])) as archive:
        results = _csv(archive.read("results.csv"))

    insufficient = [r for r in results if r["textScore"] == "I"]
    assert len(insufficient) == 1
    assert (insufficient[0]["score"], insufficient[0]["scoreStatus"], insufficient[0]["incomplete"]) == (
        "",
        "partially graded",
        "true",
    )


def test_classes_without_sourced_ids_are_counted_not_exported() -> None:
    dataset = build_dataset()
    classes = {k: (replace(c, sourced_id=None) if k == "ART-1" else c) for k, c in dataset.classes.items()}
    result = render_export("oneroster-csv", replace(dataset, classes=classes))

    assert "4 grade(s) left out: the class has no SIS sourcedId" in result.warnings
    assert re.search(r"\d+ grade\(s\) left out", " ".join(result.warnings))


def test_statuses_are_the_mappings_statuses() -> None:
    assert {g.status for g in build_dataset().grades} == {
        GradeStatus.GRADED,
        GradeStatus.INSUFFICIENT_EVIDENCE,
    }
    assert isinstance(build_dataset().classes["ART-1"], ExportClass)


def test_pdf_charts_use_the_page_charts_shapes_and_hues() -> None:
    from connectors.exports.pdf import GRID_COLOUR, LEVEL_STYLES, LINE_COLOUR
    from lti_tool import charts

    assert (LEVEL_STYLES, LINE_COLOUR, GRID_COLOUR) == (
        charts.LEVEL_STYLES,
        charts.LINE_COLOUR,
        charts.GRID_COLOUR,
    )
