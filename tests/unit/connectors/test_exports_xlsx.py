"""connectors.exports.xlsx writes the bytes XlsxWriter writes for the same workbook.

The reference drives XlsxWriter as the grades export did before it had its own writer: a bold header
row, `write_string` for text, `write_number` for numbers, a frozen header, an autofilter and column widths.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.exports import ExportDataset, render_export
from connectors.exports.bundle import neutralise
from connectors.exports.tables import XLSX_NAME, grade_table
from connectors.exports.xlsx import Worksheet, column_name, write_workbook
from mappings import load_shipped_policy
from tests.unit.connectors.exports_data import build_dataset

CREATED = datetime(2027, 6, 21, 9, 30)


def _xlsxwriter(
    sheets: Sequence[Worksheet], *, title: str, author: str, company: str, created: datetime
) -> bytes:
    import xlsxwriter

    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(buffer, {"in_memory": True, "strings_to_formulas": False,
                                            "strings_to_numbers": False, "strings_to_urls": False})  # fmt: skip
    workbook.set_properties({"title": title, "author": author, "company": company, "created": created})
    bold = workbook.add_format({"bold": True})
    for sheet in sheets:
        worksheet = workbook.add_worksheet(sheet.name)
        for row_number, row in enumerate([sheet.header, *sheet.rows]):
            for column, cell in enumerate(row):
                style = bold if row_number == 0 else None
                if isinstance(cell, str):
                    worksheet.write_string(row_number, column, cell, style)
                elif cell is not None:
                    worksheet.write_number(row_number, column, float(cell), style)
        if sheet.freeze_header:
            worksheet.freeze_panes(1, 0)
        if sheet.autofilter:
            worksheet.autofilter(0, 0, max(len(sheet.rows), 1), len(sheet.header) - 1)
        for first, last, width in sheet.widths:
            worksheet.set_column(first, last, width)
    workbook.close()
    return buffer.getvalue()


def _reference_grades_xlsx(dataset: ExportDataset) -> bytes:
    """grades.xlsx as the export wrote it through XlsxWriter."""
    table = grade_table(dataset)
    policy = dataset.school.policy
    unit = "percent" if policy.percent is not None else "course value"
    scale: list[list[str | Decimal | None]] = [
        [neutralise(c.letter), c.min_value, c.points] for c in policy.letters
    ]
    scale += [[], [f"Policy {policy.name} {policy.version}, in effect from {policy.effective_year}"]]
    sheets = (
        Worksheet("Grades", table.header, table.rows, freeze_header=True, autofilter=True,
                  widths=((0, 2, 16), (4, 4, 28))),
        Worksheet("Conversion scale", ("letter", f"from ({unit}, at or above)", "grade_points"), scale),
    )  # fmt: skip
    return _xlsxwriter(sheets, title=f"Grades: {dataset.school.name}, {dataset.period.title}",
                       author="mastery-bridge", company=dataset.school.name,
                       created=dataset.as_of.replace(tzinfo=None, microsecond=0))  # fmt: skip


def _awkward() -> ExportDataset:
    """Text XML must escape or keep: markup, quotes, control characters, edge spaces, _xHHHH_ lookalikes."""
    dataset = build_dataset()
    students = dict(dataset.students)
    students["p1"] = replace(students["p1"], family_name=" <Nguyen & Sons> ", given_name='Ava "A"\x01\x1f')
    students["p2"] = replace(students["p2"], family_name="_x0041_ literal", given_name="tab\tend\t")
    grades = tuple(
        replace(g, amendment_reason="line one\nline two\r\n\ufffe") if g.is_amendment else g
        for g in dataset.grades
    )
    school = replace(dataset.school, name='Riverbend & "Hill" <High>')
    return replace(dataset, students=students, grades=grades, school=school)


@pytest.mark.parametrize(
    "dataset",
    [build_dataset(), build_dataset("Q1"), build_dataset("Q2"), _awkward(),
     build_dataset(policy=load_shipped_policy("marzano-100"))],
    ids=["Y1", "Q1", "Q2", "awkward text", "marzano-100 policy"],
)  # fmt: skip
def test_grades_xlsx_is_what_xlsxwriter_writes(dataset: ExportDataset) -> None:
    assert render_export("grades-xlsx", dataset).files[XLSX_NAME] == _reference_grades_xlsx(dataset)


def test_the_grades_sheet_shows_text_as_text_and_numbers_as_numbers() -> None:
    data = render_export("grades-xlsx", build_dataset()).files[XLSX_NAME]

    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        sheet = archive.read("xl/worksheets/sheet1.xml").decode()
    assert '<c r="J2"><v>2.05</v></c>' in sheet  # course value, a number
    assert '<c r="A2" t="s">' in sheet  # student number, shared text
    assert '<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/>' in sheet


_CELL = st.one_of(
    st.none(),
    st.text(st.characters(exclude_categories=("Cs",)), max_size=8).filter(
        lambda t: not (t.startswith("<r>") and t.endswith("</r>"))  # XlsxWriter's rich-string form
    ),
    st.decimals(min_value=-10_000, max_value=10_000, places=3),
    st.floats(allow_nan=False, allow_infinity=False),
)


@settings(max_examples=40, deadline=None)
@given(
    header=st.lists(st.text(min_size=1, max_size=6), min_size=1, max_size=5),
    rows=st.lists(st.lists(_CELL, max_size=7), max_size=40),
    freeze=st.booleans(),
    autofilter=st.booleans(),
)
def test_any_table_is_written_as_xlsxwriter_writes_it(
    header: list[str], rows: list[list[str | Decimal | float | None]], freeze: bool, autofilter: bool
) -> None:
    sheets = (
        Worksheet(
            "Data",
            header,
            rows,
            freeze_header=freeze,
            autofilter=autofilter,
            widths=((0, 0, 0.5), (1, 2, 12.5), (4, 4, 8.43)),
        ),
        Worksheet("Notes and scale", ["note"], [["a"], [], [None, 1.5]]),
    )
    properties = {"title": "T & <t>", "author": "a", "company": "c", "created": CREATED}

    assert write_workbook(sheets, **properties) == _xlsxwriter(sheets, **properties)  # type: ignore[arg-type]


def test_text_past_excels_cell_limit_is_cut_as_xlsxwriter_cuts_it() -> None:
    sheets = (Worksheet("Long", ["x"], [["é" * 40_000], ["😀" * 20_000]]),)
    properties = {"title": "", "author": "", "company": "", "created": CREATED}

    assert write_workbook(sheets, **properties) == _xlsxwriter(sheets, **properties)  # type: ignore[arg-type]


def test_column_names() -> None:
    assert [column_name(i) for i in (0, 25, 26, 51, 52, 701, 702, 16_383)] == [
        "A", "Z", "AA", "AZ", "BA", "ZZ", "AAA", "XFD",
    ]  # fmt: skip


@pytest.mark.parametrize(
    "name",
    [
        "Grades 2026",
        "A1",
        "XFD9",
        "XFE9",
        "A1048577",
        "R1C1",
        "C3PO",
        "RC",
        "R0",
        "2026",
        "O'Brien",
        "_g.v2",
        "é",
    ],
)
def test_a_filtered_sheet_is_named_in_references_as_xlsxwriter_names_it(name: str) -> None:
    sheets = (Worksheet(name, ["x", "y"], [["a", 1.0]], autofilter=True),)
    properties = {"title": "", "author": "", "company": "", "created": CREATED}

    assert write_workbook(sheets, **properties) == _xlsxwriter(sheets, **properties)  # type: ignore[arg-type]


def test_zero_and_minus_zero_keep_their_signs() -> None:
    sheets = (Worksheet("Zeros", ["x"], [[Decimal("0.00"), -0.0, Decimal("-0.00"), 0.0, Decimal("1E+2")]]),)
    properties = {"title": "", "author": "", "company": "", "created": CREATED}

    assert write_workbook(sheets, **properties) == _xlsxwriter(sheets, **properties)  # type: ignore[arg-type]
