"""NCAA exports: per-student core-course GPA worksheets (CSV) and the school's conversion-scale letter.

Figures are `mappings.compute_ncaa` over each student's final (credit-bearing) posted grades: letters read
without pluses and minuses, pass grades as the school's lowest passing letter, the weighting bonus capped at
+1.00, units from credits (never above 1), core GPA truncated at 3 places, Division I and II distributions,
and the Division I 10/7 rule (reported "cannot_tell" when the completion semester is unknown, which is the
case for grades posted here: the worksheet says so rather than guess).

Files: `ncaa-worksheet.csv` (one row per student x final course: the worksheet lines), `ncaa-requirements.csv`
(one row per student x requirement for both divisions), `ncaa-summary.csv` (one row per student), and
`ncaa-conversion-scale-letter.md` / `.pdf`: the letter the Eligibility Center asks schools with non-traditional
grading for, i.e. the numeric scale -> letters, the year in effect and how several standard scores combine
into one course grade (`mappings.render_conversion_scale`).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Final

from connectors.exports.bundle import ExportResult, decimal_text, neutralise
from connectors.exports.figures import grades_by_student, student_figures
from connectors.exports.pdf import BOLD, PageWriter
from connectors.exports.records import ExportDataset, ExportStudent
from connectors.exports.scale import draw_markdown
from mappings import NcaaArea, render_conversion_scale

__all__ = [
    "LETTER_MD",
    "LETTER_PDF",
    "REQUIREMENTS_CSV",
    "SUMMARY_CSV",
    "WORKSHEET_CSV",
    "conversion_scale_letter",
    "render_ncaa",
]

WORKSHEET_CSV: Final = "ncaa-worksheet.csv"
REQUIREMENTS_CSV: Final = "ncaa-requirements.csv"
SUMMARY_CSV: Final = "ncaa-summary.csv"
LETTER_MD: Final = "ncaa-conversion-scale-letter.md"
LETTER_PDF: Final = "ncaa-conversion-scale-letter.pdf"
_STUDENT: Final = ("student_number", "family_name", "given_name")
WORKSHEET_HEADER: Final = (*_STUDENT, "course_code", "course_title", "ncaa_area", "letter", "ncaa_letter",
                           "quality_points", "bonus", "units", "completed_semester", "is_counted", "note")  # fmt: skip
REQUIREMENTS_HEADER: Final = (
    *_STUDENT,
    "division",
    "outcome",
    "requirement",
    "status",
    "required",
    "actual",
    "reason",
)
SUMMARY_HEADER: Final = (*_STUDENT, "core_gpa", "core_units", *(f"units_{area.value}" for area in NcaaArea),
                         "division_i", "division_ii", "ten_seven")  # fmt: skip


def _csv(header: Sequence[str], rows: Iterable[Sequence[str]]) -> bytes:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows([neutralise(cell) for cell in row] for row in rows)
    return buffer.getvalue().encode("utf-8")


def _who(student: ExportStudent) -> list[str]:
    return [student.sis_id or "", student.family_name, student.given_name]


def conversion_scale_letter(dataset: ExportDataset) -> str:
    """The letter to the NCAA Eligibility Center, in Markdown: a short cover and the published scale."""
    school = dataset.school
    policy = school.policy
    sender = school.name + (f", {school.district_name}" if school.district_name else "")
    cover = [
        "To: NCAA Eligibility Center",
        f"From: {sender}",
        f"Date: {dataset.as_of.date().isoformat()}",
        "Re: Grading scale for standards-based (mastery) grades",
        "",
        f"{school.name} grades students against learning standards. Each transcript letter is produced from the "
        f"evidence of a student's work by the conversion scale below, which has been in effect since the "
        f"{policy.effective_year} school year (policy {policy.name}, version {policy.version}). It explains the "
        "numeric scale and its letters and how the scores on several standards combine into one course grade. "
        "A course grade is where the student stands at the end of the course, not an average of earlier periods.",
        "",
    ]
    return "\n".join(cover) + "\n" + render_conversion_scale(policy)


def _letter_pdf(dataset: ExportDataset, markdown: str) -> bytes:
    writer = PageWriter(
        title=f"Conversion scale letter: {dataset.school.name}",
        subject="Grading scale for the NCAA Eligibility Center",
        author=dataset.school.name,
    )
    writer.start_section(header=(dataset.school.name,), footer=f"{dataset.school.name} · conversion scale")
    writer.text(dataset.school.name, size=15, font=BOLD)
    writer.space(6)
    draw_markdown(writer, markdown)
    return writer.save()


def render_ncaa(dataset: ExportDataset) -> ExportResult:
    """Worksheets for every student with a posted grade, and the school's conversion-scale letter."""
    worksheet: list[list[str]] = []
    requirements: list[list[str]] = []
    summary: list[list[str]] = []
    grouped = grades_by_student(dataset.grades)
    order = sorted(grouped, key=lambda k: (dataset.students[k].family_name.lower(),
                                           dataset.students[k].given_name.lower(), k))  # fmt: skip
    for key in order:
        student = dataset.students[key]
        result = student_figures(dataset, grouped[key]).ncaa
        who = _who(student)
        for line in result.lines:
            course = dataset.courses[line.course_id].course
            worksheet.append([
                *who, line.course_id, course.title, line.area.value if line.area else "", line.letter,
                line.ncaa_letter or "", decimal_text(line.quality_points), decimal_text(line.bonus),
                decimal_text(line.units), "" if line.completed_semester is None else str(line.completed_semester),
                "yes" if line.is_counted else "no", line.note,
            ])  # fmt: skip
        ten_seven = ""
        for check in (result.division_i, result.division_ii):
            for requirement in check.requirements:
                requirements.append([*who, check.division, check.outcome.value, requirement.name,
                                     requirement.status.value, requirement.required, requirement.actual,
                                     requirement.reason])  # fmt: skip
                if requirement.name.startswith("10 core units"):
                    ten_seven = requirement.status.value
        summary.append([
            *who, decimal_text(result.core_gpa), decimal_text(result.core_units),
            *(decimal_text(result.units_in(area)) for area in NcaaArea),
            result.division_i.outcome.value, result.division_ii.outcome.value, ten_seven,
        ])  # fmt: skip
    letter = conversion_scale_letter(dataset)
    files = {
        WORKSHEET_CSV: _csv(WORKSHEET_HEADER, worksheet),
        REQUIREMENTS_CSV: _csv(REQUIREMENTS_HEADER, requirements),
        SUMMARY_CSV: _csv(SUMMARY_HEADER, summary),
        LETTER_MD: letter.encode("utf-8"),
        LETTER_PDF: _letter_pdf(dataset, letter),
    }
    return ExportResult("ncaa", files)
