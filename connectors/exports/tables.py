"""Grades as a table, one row per student x course x period: `grades.csv` and `grades.xlsx`.

Rows cover every posted period of the exported period's school year up to and including it, so a final
export shows Q1..Q4 and the final side by side. Columns: the student's SIS number and name, the course,
section and period, course value, percentage (when the policy maps to one), letter, grade points, credits,
credits earned (credit-bearing periods only), status, whether the grade is an amendment and why, when it was
posted, then one column per indicator code (sorted) holding that indicator's level behind the grade.

CSV: RFC 4180, UTF-8 without a BOM, CRLF. XLSX (XlsxWriter): numbers stay numbers, text is written as text
(never parsed as a formula or URL), and the document properties and zip timestamps are fixed, so the same
data gives the same bytes. In both, free-text cells are neutralised against formula injection.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Final

from connectors.exports.bundle import ExportResult, decimal_text, neutralise
from connectors.exports.figures import period_sort_key
from connectors.exports.powerschool import earns_credit, school_year_of
from connectors.exports.records import ExportDataset, ExportGrade

__all__ = [
    "BASE_HEADER",
    "CSV_NAME",
    "XLSX_NAME",
    "GradeTable",
    "grade_table",
    "render_grades_csv",
    "render_grades_xlsx",
]

CSV_NAME: Final = "grades.csv"
XLSX_NAME: Final = "grades.xlsx"
BASE_HEADER: Final = (
    "student_number",
    "family_name",
    "given_name",
    "course_code",
    "course_title",
    "course_level",
    "section",
    "period",
    "period_title",
    "course_value",
    "percent",
    "letter",
    "grade_points",
    "credits",
    "credits_earned",
    "status",
    "is_amendment",
    "amendment_reason",
    "posted_at",
)
_NUMERIC: Final = frozenset({"course_value", "percent", "grade_points", "credits", "credits_earned"})
_Cell = str | Decimal | None


@dataclass(frozen=True, slots=True)
class GradeTable:
    """The header (base columns then indicator codes) and rows; numbers stay Decimal until written."""

    header: tuple[str, ...]
    rows: tuple[tuple[_Cell, ...], ...]
    indicator_codes: tuple[str, ...]


def _in_year(dataset: ExportDataset) -> list[ExportGrade]:
    year = school_year_of(dataset.period, dataset.sessions)
    last = period_sort_key(dataset.period)
    chosen = []
    for grade in dataset.grades:
        period = dataset.sessions[grade.period_key]
        if school_year_of(period, dataset.sessions).key == year.key and period_sort_key(period) <= last:
            chosen.append(grade)
    return chosen


def grade_table(dataset: ExportDataset) -> GradeTable:
    """The rows both grade tables write, sorted by student name, course, section and period."""
    grades = _in_year(dataset)
    codes = tuple(sorted({indicator.code for grade in grades for indicator in grade.indicators}))
    policy = dataset.school.policy

    def sort_key(grade: ExportGrade) -> tuple[object, ...]:
        student = dataset.students[grade.student_key]
        return (student.family_name.lower(), student.given_name.lower(), student.key,
                dataset.course_of(grade).code, grade.class_key, period_sort_key(dataset.sessions[grade.period_key]))  # fmt: skip

    rows = []
    for grade in sorted(grades, key=sort_key):
        student = dataset.students[grade.student_key]
        school_class = dataset.classes[grade.class_key]
        course = dataset.course_of(grade).course
        period = dataset.sessions[grade.period_key]
        levels = {indicator.code: indicator.level for indicator in grade.indicators}
        earned = None
        if period.is_credit_bearing:
            earned = course.credits if earns_credit(grade, policy) else Decimal(0)
        row: list[_Cell] = [
            student.sis_id or "",
            student.family_name,
            student.given_name,
            course.course_id,
            course.title,
            course.level.value,
            school_class.section_code or school_class.title,
            period.sourced_id or period.key,
            period.title,
            grade.course_value,
            grade.percent,
            grade.letter,
            grade.grade_points,
            course.credits,
            earned,
            grade.status.value,
            "yes" if grade.is_amendment else "no",
            grade.amendment_reason or "",
            _instant(grade.posted_at),
            *(levels.get(code) for code in codes),
        ]
        rows.append(tuple(row))
    return GradeTable((*BASE_HEADER, *codes), tuple(rows), codes)


def _instant(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ") if moment.utcoffset() is not None else moment.isoformat()


def _is_number_column(name: str, codes: Sequence[str]) -> bool:
    return name in _NUMERIC or name in codes


def render_grades_csv(dataset: ExportDataset) -> ExportResult:
    """`grades.csv` (see the module docstring)."""
    table = grade_table(dataset)
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(table.header)
    for row in table.rows:
        writer.writerow(
            decimal_text(cell) if isinstance(cell, Decimal) or cell is None else neutralise(cell)
            for cell in row
        )
    return ExportResult("grades-csv", {CSV_NAME: buffer.getvalue().encode("utf-8")})


def render_grades_xlsx(dataset: ExportDataset) -> ExportResult:
    """`grades.xlsx`: a Grades sheet (header frozen, filter on) and a Conversion scale sheet."""
    import xlsxwriter  # untyped third-party code, fenced here

    table = grade_table(dataset)
    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(
        buffer,
        {
            "in_memory": True,
            "strings_to_formulas": False,
            "strings_to_numbers": False,
            "strings_to_urls": False,
        },
    )
    as_of = dataset.as_of.replace(tzinfo=None, microsecond=0)
    workbook.set_properties(
        {
            "title": f"Grades: {dataset.school.name}, {dataset.period.title}",
            "author": "mastery-bridge",
            "company": dataset.school.name,
            "created": as_of,
        }
    )
    bold = workbook.add_format({"bold": True})
    sheet = workbook.add_worksheet("Grades")
    for column, name in enumerate(table.header):
        sheet.write_string(0, column, name, bold)
    for row_number, row in enumerate(table.rows, start=1):
        for column, cell in enumerate(row):
            if cell is None:
                continue
            if isinstance(cell, Decimal) and _is_number_column(table.header[column], table.indicator_codes):
                sheet.write_number(row_number, column, float(cell))
            else:
                sheet.write_string(row_number, column, neutralise(str(cell)))
    sheet.freeze_panes(1, 0)
    sheet.autofilter(0, 0, max(len(table.rows), 1), len(table.header) - 1)
    sheet.set_column(0, 2, 16)
    sheet.set_column(4, 4, 28)

    scale = workbook.add_worksheet("Conversion scale")
    policy = dataset.school.policy
    unit = "percent" if policy.percent is not None else "course value"
    for column, name in enumerate(("letter", f"from ({unit}, at or above)", "grade_points")):
        scale.write_string(0, column, name, bold)
    for row_number, cut in enumerate(policy.letters, start=1):
        scale.write_string(row_number, 0, neutralise(cut.letter))
        scale.write_number(row_number, 1, float(cut.min_value))
        scale.write_number(row_number, 2, float(cut.points))
    scale.write_string(
        len(policy.letters) + 2,
        0,
        f"Policy {policy.name} {policy.version}, in effect from {policy.effective_year}",
    )
    workbook.close()
    return ExportResult("grades-xlsx", {XLSX_NAME: buffer.getvalue()})
