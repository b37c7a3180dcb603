"""`transcripts.pdf`: one transcript per student, each starting on a new page.

A transcript lists, per school year, every course with its period letters and final letter, credits and
credits earned; the GPA and weighted GPA over final grades (mappings `compute_gpa`); amendments marked
with a dagger and explained underneath; a per-standard supplement in the spirit of a mastery transcript
(each standard's latest posted level, named on the school's scale); and the school's conversion-scale legend.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Final

from connectors.exports.bundle import ExportResult, decimal_text
from connectors.exports.figures import (
    final_grades,
    grades_by_student,
    level_label,
    period_sort_key,
    student_gpa,
)
from connectors.exports.pdf import BOLD, PageWriter
from connectors.exports.pdfdoc import assemble_pdf
from connectors.exports.powerschool import earns_credit, school_year_of
from connectors.exports.records import ExportDataset, ExportGrade, ExportSession, ExportStudent
from connectors.exports.scale import draw_legend
from mappings import Course

__all__ = [
    "FILE_NAME",
    "assemble_transcripts",
    "render_transcript_pages",
    "render_transcripts",
    "transcript_order",
]

FILE_NAME: Final = "transcripts.pdf"
AMENDED: Final = "†"


def _letter(grade: ExportGrade | None) -> str:
    if grade is None:
        return ""
    return grade.letter + (AMENDED if grade.is_amendment else "")


def _student_key(student: ExportStudent) -> tuple[str, str, str]:
    return (student.family_name.lower(), student.given_name.lower(), student.key)


def _year_periods(dataset: ExportDataset, grades: Sequence[ExportGrade]) -> dict[str, list[ExportSession]]:
    """School year key -> the reporting (non-final) periods any of the student's grades use, in order."""
    found: dict[str, dict[str, ExportSession]] = defaultdict(dict)
    for grade in grades:
        period = dataset.sessions[grade.period_key]
        if not period.is_credit_bearing:
            found[school_year_of(period, dataset.sessions).key][period.key] = period
    return {year: sorted(items.values(), key=period_sort_key) for year, items in found.items()}


def _draw_student(
    writer: PageWriter,
    dataset: ExportDataset,
    student: ExportStudent,
    grades: list[ExportGrade],
    courses: Mapping[str, Course],
) -> None:
    school = dataset.school
    policy = school.policy
    writer.start_section(
        header=(f"{student.display_name}, {school.name}",),
        footer=f"Transcript of {student.display_name} · {school.name} · as of {dataset.as_of.date().isoformat()}",
    )
    writer.text(school.name, size=15, font=BOLD)
    if school.district_name:
        writer.text(school.district_name, size=9)
    writer.text("Academic transcript", size=12, font=BOLD)
    writer.space(2)
    writer.text(f"Student: {student.display_name}", size=10)
    writer.text(f"Student number: {student.sis_id or 'not matched to the SIS yet'}", size=9)
    if student.grade_level:
        writer.text(f"Grade level: {student.grade_level}", size=9)
    writer.text(
        f"Grades posted through {dataset.period.title}, as of {dataset.as_of.date().isoformat()}", size=9
    )

    by_year: dict[str, list[ExportGrade]] = defaultdict(list)
    for grade in grades:
        by_year[school_year_of(dataset.sessions[grade.period_key], dataset.sessions).key].append(grade)
    periods_of_year = _year_periods(dataset, grades)
    amendments: list[tuple[str, ExportGrade]] = []
    for year_key in sorted(by_year, key=lambda key: period_sort_key(dataset.sessions[key])):
        year = dataset.sessions[year_key]
        periods = periods_of_year.get(year_key, [])
        writer.heading(f"School year {year.title}", size=11)
        step = 32.0
        first = 268.0
        columns = [(0.0, "Course"), (176.0, "Level"), (228.0, "Credits")]
        columns += [(first + i * step, p.sourced_id or p.title) for i, p in enumerate(periods)]
        final_x = first + len(periods) * step
        columns += [(final_x, "Final"), (final_x + 40, "Earned")]
        writer.row(columns, font=BOLD)
        by_class: dict[str, list[ExportGrade]] = defaultdict(list)
        for grade in by_year[year_key]:
            by_class[grade.class_key].append(grade)
        for class_key in sorted(by_class, key=lambda key: (dataset.classes[key].course_code, key)):
            class_grades = by_class[class_key]
            course = dataset.courses[dataset.classes[class_key].course_code].course
            at = {grade.period_key: grade for grade in class_grades}
            finals = final_grades(dataset, class_grades)
            final = finals[0] if finals else None
            earned = ""
            if final is not None:
                earned = decimal_text(course.credits if earns_credit(final, policy) else Decimal(0))
            cells = [(0.0, f"{course.course_id} {course.title}"), (176.0, course.level.value),
                     (228.0, decimal_text(course.credits))]  # fmt: skip
            cells += [(first + i * step, _letter(at.get(p.key))) for i, p in enumerate(periods)]
            cells += [(final_x, _letter(final)), (final_x + 40, earned)]
            writer.row(cells)
            amendments += [(course.title, grade) for grade in class_grades if grade.is_amendment]

    finals, gpa = student_gpa(dataset, grades, courses)
    writer.space(4)
    writer.rule()
    if gpa.gpa is None:
        writer.text("GPA: no final grades in the GPA yet.", size=9.5, font=BOLD)
    else:
        weighted = f"; weighted GPA {gpa.weighted_gpa}" if gpa.weighted_gpa is not None else ""
        writer.text(f"GPA {gpa.gpa}{weighted}", size=10, font=BOLD)
    earned_total = sum(
        (dataset.course_of(g).course.credits for g in finals if earns_credit(g, policy)), Decimal(0)
    )
    writer.text(
        f"Credits attempted {decimal_text(gpa.credits_attempted)} · in the GPA {decimal_text(gpa.credits_in_gpa)}"
        f" · earned {decimal_text(earned_total)}",
        size=8.5,
    )
    for course_title, grade in amendments:
        period = dataset.sessions[grade.period_key]
        writer.paragraph(
            f"{AMENDED} {course_title}, {period.title}: amended to {grade.letter} on "
            f"{grade.posted_at.date().isoformat()}. Reason: {grade.amendment_reason or 'not given'}",
            size=7.5,
        )

    writer.heading("Standards (mastery supplement)", size=10.5)
    writer.paragraph(
        "Where the student stands on each standard at the latest posted grade of each course, on the school's "
        "proficiency scale.",
        size=7.5,
    )
    latest: dict[str, ExportGrade] = {}
    for grade in grades:
        held = latest.get(grade.class_key)
        if held is None or period_sort_key(dataset.sessions[grade.period_key]) > period_sort_key(
            dataset.sessions[held.period_key]
        ):
            latest[grade.class_key] = grade
    for class_key in sorted(latest, key=lambda key: (dataset.classes[key].course_code, key)):
        grade = latest[class_key]
        if not grade.indicators:
            continue
        course = dataset.course_of(grade).course
        writer.text(f"{course.title} ({dataset.sessions[grade.period_key].title})", size=8.5, font=BOLD)
        for indicator in grade.indicators:
            level = (
                f"{level_label(indicator.level, school.levels)} ({decimal_text(indicator.level)})"
                if indicator.level is not None
                else "not yet scored"
            )
            writer.row([(8.0, indicator.code), (70.0, level), (190.0, indicator.statement)], size=7.5)
    writer.space(6)
    draw_legend(writer, policy)


def transcript_order(dataset: ExportDataset) -> list[str]:
    """The keys of the students who get a transcript (any posted grade), in document order (by name)."""
    return sorted(
        {grade.student_key for grade in dataset.grades}, key=lambda k: _student_key(dataset.students[k])
    )


def render_transcript_pages(dataset: ExportDataset, student_keys: Sequence[str]) -> list[bytes]:
    """The transcripts of `student_keys` (a slice of `transcript_order`) as compressed PDF pages, in order.

    Pages depend only on their student, so slices rendered apart (say in two processes) and passed in
    order to `assemble_transcripts` give the same bytes as `render_transcripts`.
    """
    wanted = set(student_keys)
    grouped = grades_by_student(grade for grade in dataset.grades if grade.student_key in wanted)
    courses = {code: item.course for code, item in dataset.courses.items()}
    writer = PageWriter(title="", subject="", author="")
    for key in student_keys:
        _draw_student(writer, dataset, dataset.students[key], grouped[key], courses)
    return writer.finish()


def assemble_transcripts(dataset: ExportDataset, pages: Iterable[bytes]) -> ExportResult:
    """The transcript PDF of pages from `render_transcript_pages` (every student, in document order)."""
    data = assemble_pdf(
        pages,
        title=f"Transcripts: {dataset.school.name}",
        subject=f"Grades posted through {dataset.period.title}",
        author=dataset.school.name,
    )
    return ExportResult("transcript-pdf", {FILE_NAME: data})


def render_transcripts(dataset: ExportDataset) -> ExportResult:
    """One PDF with a transcript per student who has a posted grade (sorted by name)."""
    return assemble_transcripts(dataset, render_transcript_pages(dataset, transcript_order(dataset)))
