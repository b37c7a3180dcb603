"""`report-cards.pdf`: a progress report per student for the period, each starting on a new page.

Academics and habits of work are separate sections (habits never enter the academic grade). Under each
course's posted letter, every standard shows its level on the school's scale and an evidence chart drawn
from the same data as the pages' SVG charts (lti_tool.charts): each demonstration up to the period end as a
marker shaped by its level, the running proficiency as a line, the levels as gridlines and the period
boundaries as verticals. Amendments are labelled; an insufficient-evidence code is explained as not a fail.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final

from connectors.exports.bundle import ExportResult, decimal_text
from connectors.exports.figures import grades_by_student, level_label
from connectors.exports.pdf import BOLD, LEVEL_STYLES, ChartTemplate, PageWriter, draw_marker
from connectors.exports.pdfdoc import assemble_pdf
from connectors.exports.powerschool import school_year_of
from connectors.exports.records import ChartSeries, ExportDataset, ExportGrade, ExportStudent, HabitLevel
from mappings import GradeStatus

__all__ = [
    "FILE_NAME",
    "assemble_report_cards",
    "render_report_card_pages",
    "render_report_cards",
    "report_card_order",
]

FILE_NAME: Final = "report-cards.pdf"
CHART_WIDTH: Final = 170.0
CHART_HEIGHT: Final = 22.0


@dataclass(frozen=True)
class _Context:
    """What every report card of a dataset draws from, grouped once per rendering."""

    dataset: ExportDataset
    chart: ChartTemplate
    grades: dict[str, list[ExportGrade]]
    charts: dict[tuple[str, str], dict[str, ChartSeries]]
    habits: dict[str, list[HabitLevel]]


def _chart_template(dataset: ExportDataset) -> ChartTemplate:
    """Charts span the school year up to the period end, with the grading periods' ends as boundaries."""
    year = school_year_of(dataset.period, dataset.sessions)
    period_ends = sorted(
        {s.end for s in dataset.sessions.values() if not s.is_credit_bearing and s.kind.value == "grading_period"
         and year.start <= s.end <= dataset.period.end}
    )  # fmt: skip
    return ChartTemplate(width=CHART_WIDTH, height=CHART_HEIGHT, first=year.start, last=dataset.period.end,
                         levels=dataset.school.levels, period_ends=period_ends)  # fmt: skip


def _context(dataset: ExportDataset, student_keys: Iterable[str] | None = None) -> _Context:
    """Group the dataset's grades, charts and habits for `student_keys` (every student when None)."""
    wanted = None if student_keys is None else set(student_keys)
    charts: dict[tuple[str, str], dict[str, ChartSeries]] = defaultdict(dict)
    for item in dataset.charts:
        if wanted is None or item.student_key in wanted:
            charts[(item.student_key, item.class_key)][item.indicator_code] = item
    habits: dict[str, list[HabitLevel]] = defaultdict(list)
    for habit in dataset.habits:
        if wanted is None or habit.student_key in wanted:
            habits[habit.student_key].append(habit)
    return _Context(
        dataset, _chart_template(dataset), grades_by_student(dataset.period_grades), charts, habits
    )


def _draw_key(writer: PageWriter, dataset: ExportDataset) -> None:
    levels = dataset.school.levels
    writer.need(16)
    x = writer.left
    baseline = writer.y - 8
    writer.draw_text(
        x,
        baseline,
        "Chart key: markers are demonstrations, shaped by level; the line is the proficiency.",
        size=7,
    )
    x += 300
    for index, level in enumerate(levels):
        shape, colour = LEVEL_STYLES[index % len(LEVEL_STYLES)]
        draw_marker(writer, shape, colour, x + 3, baseline + 2.5, 2.2)
        writer.draw_text(x + 8, baseline, f"{decimal_text(level.value.normalize())} {level.label}", size=7)
        x += 56
    writer.space(14)


def _draw_student(
    writer: PageWriter, context: _Context, student: ExportStudent, grades: list[ExportGrade]
) -> None:
    dataset = context.dataset
    school = dataset.school
    period = dataset.period
    writer.start_section(
        header=(f"{student.display_name}, {period.title}",),
        footer=f"Progress report of {student.display_name} · {school.name} · {period.title}",
    )
    writer.text(school.name, size=14, font=BOLD)
    writer.text(
        f"Progress report: {period.title} ({period.start.isoformat()} to {period.end.isoformat()})",
        size=11,
        font=BOLD,
    )
    writer.text(
        f"Student: {student.display_name}   Student number: {student.sis_id or 'not matched yet'}", size=9.5
    )
    writer.text(f"Posted grades as of {dataset.as_of.date().isoformat()}", size=8.5)

    writer.heading("Academics", size=12)
    for grade in sorted(grades, key=lambda g: (dataset.course_of(g).code, g.class_key)):
        course = dataset.course_of(grade).course
        school_class = dataset.classes[grade.class_key]
        writer.need(40)
        writer.space(3)
        amended = "  (amended)" if grade.is_amendment else ""
        writer.row(
            [(0.0, f"{course.title} · {school_class.title}"), (300.0, f"{grade.letter}{amended}"),
             (390.0, f"course value {decimal_text(grade.course_value)}" if grade.course_value is not None else "")],
            size=9.5, font=BOLD,
        )  # fmt: skip
        if grade.is_amendment:
            writer.paragraph(
                f"Amended on {grade.posted_at.date().isoformat()}: {grade.amendment_reason or 'no reason given'}",
                size=7.5,
                x=8,
            )
        if grade.status is GradeStatus.INSUFFICIENT_EVIDENCE:
            writer.paragraph(
                f"{grade.letter}: {school.policy.evidence.insufficient_label}. This is not a failing grade; more "
                "evidence is needed before a grade can be given.",
                size=7.5,
                x=8,
            )
        series = context.charts.get((grade.student_key, grade.class_key), {})
        for indicator in grade.indicators:
            writer.need(CHART_HEIGHT + 8)
            top = writer.y
            label = (
                f"{level_label(indicator.level, school.levels)} ({decimal_text(indicator.level)})"
                if indicator.level is not None
                else "not yet scored"
            )
            writer.row([(8.0, indicator.code), (62.0, label)], size=8)
            if indicator.statement:
                writer.paragraph(indicator.statement, size=6.5, x=8)
            chart = series.get(indicator.code)
            if chart is not None and chart.points:
                context.chart.draw(writer, writer.left + writer.width - CHART_WIDTH, top - CHART_HEIGHT - 2,
                                   chart.points, chart.proficiency)  # fmt: skip
            writer.y = min(writer.y, top - CHART_HEIGHT - 6)
    _draw_key(writer, dataset)

    writer.heading("Habits of work", size=12)
    writer.paragraph(
        "Reported beside the academic grade, never inside it: the latest observation this period.", size=7.5
    )
    observed = context.habits.get(student.key, [])
    if not observed:
        writer.text("No habits of work observed yet.", size=8.5)
    by_class: dict[str, list[HabitLevel]] = defaultdict(list)
    for item in observed:
        by_class[item.class_key].append(item)
    for class_key in sorted(by_class, key=lambda key: (dataset.classes[key].course_code, key)):
        course = dataset.courses[dataset.classes[class_key].course_code].course
        writer.text(course.title, size=8.5, font=BOLD)
        for item in sorted(by_class[class_key], key=lambda h: h.habit):
            writer.row(
                [(8.0, item.habit.replace("_", " ").capitalize()),
                 (110.0, f"{level_label(item.value, school.levels)} ({decimal_text(item.value)})"),
                 (230.0, f"on {item.observed_on.isoformat()}, {item.count} observation(s)")],
                size=8,
            )  # fmt: skip


def report_card_order(dataset: ExportDataset) -> list[str]:
    """The keys of the students who get a report card (graded in the period), in document order (by name)."""
    students = dataset.students
    return sorted(
        {grade.student_key for grade in dataset.period_grades},
        key=lambda k: (students[k].family_name.lower(), students[k].given_name.lower(), k),
    )


def render_report_card_pages(dataset: ExportDataset, student_keys: Sequence[str]) -> list[bytes]:
    """The report cards of `student_keys` (a slice of `report_card_order`) as compressed PDF pages, in order.

    Pages depend only on their student, so slices rendered apart (say in two processes) and passed in
    order to `assemble_report_cards` give the same bytes as `render_report_cards`.
    """
    context = _context(dataset, student_keys)
    writer = PageWriter(title="", subject="", author="")
    for key in student_keys:
        _draw_student(writer, context, dataset.students[key], context.grades[key])
    return writer.finish()


def assemble_report_cards(dataset: ExportDataset, pages: Iterable[bytes]) -> ExportResult:
    """The report-card PDF of pages from `render_report_card_pages` (every student, in document order)."""
    data = assemble_pdf(
        pages,
        title=f"Progress reports: {dataset.school.name}, {dataset.period.title}",
        subject=f"Progress reports for {dataset.period.title}",
        author=dataset.school.name,
        forms=_chart_template(dataset).forms(),
    )
    return ExportResult("report-card-pdf", {FILE_NAME: data})


def render_report_cards(dataset: ExportDataset) -> ExportResult:
    """One PDF with a progress report per student graded in the period (sorted by name)."""
    return assemble_report_cards(dataset, render_report_card_pages(dataset, report_card_order(dataset)))
