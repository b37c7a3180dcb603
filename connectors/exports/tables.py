"""Grades as a table, one row per student x course x period: `grades.csv` and `grades.xlsx`.

Rows cover every posted period of the exported period's school year up to and including it, so a final
export shows Q1..Q4 and the final side by side. Columns: the student's SIS number and name, the course,
section and period, course value, percentage (when the policy maps to one), letter, grade points, credits,
credits earned (credit-bearing periods only), status, whether the grade is an amendment and why, when it was
posted, then one column per indicator code (sorted) holding that indicator's level behind the grade.

CSV: RFC 4180, UTF-8 without a BOM, CRLF. XLSX (connectors.exports.xlsx, XlsxWriter's layout): numbers
stay numbers, text is written as text (never parsed as a formula or URL), and the document properties and
zip timestamps are fixed, so the same data gives the same bytes. In both, free-text cells are neutralised
against formula injection.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Final

from connectors.exports.bundle import ExportResult, decimal_text, neutralise
from connectors.exports.figures import period_sort_key
from connectors.exports.powerschool import earns_credit, school_year_of
from connectors.exports.records import ExportDataset, ExportGrade
from connectors.exports.xlsx import Cell, Worksheet, write_workbook

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
_Cell = str | Decimal | None


@dataclass(frozen=True, slots=True)
class GradeTable:
    """The header (base columns then indicator codes) and rows; numbers stay Decimal until written, text is
    already neutralised against formula injection (both files write it so)."""

    header: tuple[str, ...]
    rows: tuple[tuple[_Cell, ...], ...]
    indicator_codes: tuple[str, ...]


def _in_year(dataset: ExportDataset) -> list[ExportGrade]:
    year = school_year_of(dataset.period, dataset.sessions)
    last = period_sort_key(dataset.period)
    in_year = {
        key: school_year_of(period, dataset.sessions).key == year.key and period_sort_key(period) <= last
        for key, period in dataset.sessions.items()
    }
    return [grade for grade in dataset.grades if in_year[grade.period_key]]


def grade_table(dataset: ExportDataset) -> GradeTable:
    """The rows both grade tables write, sorted by student name, course, section and period.

    The cells of a student, a class and a period are made once each and shared by their rows (30,000
    rows at 5,000 students).
    """
    grades = _in_year(dataset)
    codes = tuple(sorted({indicator.code for grade in grades for indicator in grade.indicators}))
    column_of = {code: index for index, code in enumerate(codes)}
    policy = dataset.school.policy
    students = {
        key: (
            neutralise(student.sis_id or ""),
            neutralise(student.family_name),
            neutralise(student.given_name),
        )
        for key, student in dataset.students.items()
    }
    classes = {}
    for key, school_class in dataset.classes.items():
        course = dataset.courses[school_class.course_code].course
        cells = (neutralise(course.course_id), neutralise(course.title), neutralise(course.level.value),
                 neutralise(school_class.section_code or school_class.title))  # fmt: skip
        classes[key] = (course, cells)
    periods = {key: (neutralise(period.sourced_id or period.key), neutralise(period.title))
               for key, period in dataset.sessions.items()}  # fmt: skip
    text: dict[str, str] = {}  # letters and statuses repeat: neutralised once each
    instants: dict[
        tuple[datetime, timedelta | None], str
    ] = {}  # so do posting instants (by instant and offset)

    def sort_key(grade: ExportGrade) -> tuple[object, ...]:
        student = dataset.students[grade.student_key]
        return (student.family_name.lower(), student.given_name.lower(), student.key,
                dataset.course_of(grade).code, grade.class_key, period_sort_key(dataset.sessions[grade.period_key]))  # fmt: skip

    rows = []
    for grade in sorted(grades, key=sort_key):
        course, class_cells = classes[grade.class_key]
        period = dataset.sessions[grade.period_key]
        levels: list[_Cell] = [None] * len(codes)
        for indicator in grade.indicators:
            levels[column_of[indicator.code]] = indicator.level
        earned = None
        if period.is_credit_bearing:
            earned = course.credits if earns_credit(grade, policy) else Decimal(0)
        moment = (grade.posted_at, grade.posted_at.utcoffset())
        posted = instants.get(moment)
        if posted is None:
            posted = instants[moment] = neutralise(_instant(grade.posted_at))
        letter = text.get(grade.letter)
        if letter is None:
            letter = text[grade.letter] = neutralise(grade.letter)
        status = text.get(grade.status.value)
        if status is None:
            status = text[grade.status.value] = neutralise(grade.status.value)
        rows.append((
            *students[grade.student_key], *class_cells, *periods[grade.period_key],
            grade.course_value, grade.percent, letter, grade.grade_points, course.credits, earned, status,
            "yes" if grade.is_amendment else "no", neutralise(grade.amendment_reason or ""), posted, *levels,
        ))  # fmt: skip
    return GradeTable((*BASE_HEADER, *codes), tuple(rows), codes)


def _instant(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ") if moment.utcoffset() is not None else moment.isoformat()


def render_grades_csv(dataset: ExportDataset) -> ExportResult:
    """`grades.csv` (see the module docstring)."""
    table = grade_table(dataset)
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(table.header)
    for row in table.rows:
        writer.writerow(
            decimal_text(cell) if cell is None or isinstance(cell, Decimal) else cell for cell in row
        )
    return ExportResult("grades-csv", {CSV_NAME: buffer.getvalue().encode("utf-8")})


def render_grades_xlsx(dataset: ExportDataset) -> ExportResult:
    """`grades.xlsx`: a Grades sheet (header frozen, filter on) and a Conversion scale sheet."""
    table = grade_table(dataset)
    policy = dataset.school.policy
    unit = "percent" if policy.percent is not None else "course value"
    scale: list[list[Cell]] = [[neutralise(cut.letter), cut.min_value, cut.points] for cut in policy.letters]
    scale += [[], [f"Policy {policy.name} {policy.version}, in effect from {policy.effective_year}"]]
    data = write_workbook(
        (
            # The table's Decimals are the number columns' values (numbers stay numbers); its text is text.
            Worksheet("Grades", table.header, table.rows, freeze_header=True, autofilter=True,
                      widths=((0, 2, 16), (4, 4, 28))),
            Worksheet("Conversion scale", ("letter", f"from ({unit}, at or above)", "grade_points"), scale),
        ),
        title=f"Grades: {dataset.school.name}, {dataset.period.title}",
        author="mastery-bridge",
        company=dataset.school.name,
        created=dataset.as_of.replace(tzinfo=None, microsecond=0),
    )  # fmt: skip
    return ExportResult("grades-xlsx", {XLSX_NAME: data})
