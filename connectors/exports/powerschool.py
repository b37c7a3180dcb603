"""PowerSchool historical (stored) grades import file: tab-delimited, one row per posted grade.

Layout source: PowerSchool SIS documentation, "Import Virginia Data Files – Historical Grades"
(ps-compliance.powerschool-docs.com/pssis-va/latest/import-virginia-data-files-historical-grades), which
documents the tab-delimited StoredGrades template whose columns "MUST remain in the same order":
STUDENT_NUMBER ([Students]Student_Number), COURSE_NAME, GRADE_LEVEL, TERMID (a valid Terms.ID), STORECODE
(e.g. S2, Y1), SECTIONID, COURSE_NUMBER, EARNEDCRHRS, GRADE, POTENTIALCRHRS, in that order (GRADE comes
before POTENTIALCRHRS there). The columns after POTENTIALCRHRS are StoredGrades fields named as in the
PowerSchool data dictionary, "StoredGrades, 31" (ps.powerschool-docs.com/pssis-data-dictionary/latest/
storedgrades-31-ver3-6-1): Percent, GPA_Points, ExcludeFromGPA, DateStored, Comment_Value. The generic
Quick Import / Data Import Manager maps columns by header name, so the order above suits both.

TERMID follows PowerSchool's numbering (docs.glenbard.org, "Term ID Definitions"): the school year that
starts in 1990 is year 0, the year-long term is year x 100 (2026-27 -> 3600), and each shorter term adds 1
in the order terms were created, longest first (semesters, then trimesters), then by start date. A district
that created its terms in another order must check the TERMID column before importing. STORECODE is the
period's own code when it already reads like one (a letter and a number: Q1, S2, Y1), else Q1-Q4 (T1-T3
for three periods), S1/S2 for semesters and Y1 for the year. Store codes are "a letter then a number"
(PowerSchool "Permanently Store Grades").

Files are UTF-8 without a BOM, CRLF line ends, one header row, rows sorted by student number, course number,
section and store code. Tabs and line breaks inside values become spaces (the format has no quoting) and
free-text cells are neutralised against spreadsheet formula injection.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Final

from connectors.exports.bundle import ExportResult, decimal_text, neutralise, single_line
from connectors.exports.records import ExportDataset, ExportGrade, ExportSession, SessionKind
from mappings import GradeStatus, Policy

__all__ = [
    "FILE_NAME",
    "HEADER",
    "earns_credit",
    "render_powerschool_storedgrades",
    "school_year_of",
    "store_code",
    "term_id",
]

HEADER: Final = (
    "STUDENT_NUMBER",
    "COURSE_NAME",
    "GRADE_LEVEL",
    "TERMID",
    "STORECODE",
    "SECTIONID",
    "COURSE_NUMBER",
    "EARNEDCRHRS",
    "GRADE",
    "POTENTIALCRHRS",
    "PERCENT",
    "GPA_POINTS",
    "EXCLUDEFROMGPA",
    "DATESTORED",
    "COMMENT_VALUE",
)
FILE_NAME: Final = "storedgrades.txt"
POWERSCHOOL_YEAR_ZERO: Final = 1990
_STORE_CODE: Final = re.compile(r"^[A-Z][0-9]{1,2}$")


def school_year_of(session: ExportSession, sessions: Mapping[str, ExportSession]) -> ExportSession:
    """The school year a session belongs to: up its parents, else the year whose dates hold it."""
    node: ExportSession | None = session
    while node is not None:
        if node.kind is SessionKind.SCHOOL_YEAR:
            return node
        node = sessions.get(node.parent_key) if node.parent_key else None
    for candidate in sorted(sessions.values(), key=lambda s: (s.start, s.key)):
        if candidate.kind is SessionKind.SCHOOL_YEAR and candidate.start <= session.start <= candidate.end:
            return candidate
    return session  # a calendar without years: the session stands for its own year


def _in_year(year: ExportSession, sessions: Mapping[str, ExportSession]) -> list[ExportSession]:
    return [s for s in sessions.values() if year.start <= s.start and s.end <= year.end and s.key != year.key]


def _spans(session: ExportSession, year: ExportSession) -> bool:
    return session.start <= year.start and session.end >= year.end


def store_code(period: ExportSession, sessions: Mapping[str, ExportSession]) -> str:
    """The STORECODE for grades of `period` (see the module docstring)."""
    for text in (period.sourced_id, period.key, period.title):
        if text and _STORE_CODE.match(text.strip().upper()):
            return text.strip().upper()
    year = school_year_of(period, sessions)
    if period.kind is SessionKind.SCHOOL_YEAR or _spans(period, year):
        return "Y1"
    siblings = _in_year(year, sessions)
    for kind, letter in ((SessionKind.SEMESTER, "S"), (SessionKind.TERM, "T")):
        same_span = [s for s in siblings if s.kind is kind and (s.start, s.end) == (period.start, period.end)]
        if period.kind is kind or (period.is_credit_bearing and same_span):
            ordered = sorted((s for s in siblings if s.kind is kind), key=lambda s: (s.start, s.key))
            match = same_span[0] if period.kind is not kind else period
            return f"{letter}{ordered.index(match) + 1}"
    reporting = sorted(
        (s for s in siblings if s.kind is SessionKind.GRADING_PERIOD and not s.is_credit_bearing),
        key=lambda s: (s.start, s.key),
    )
    letter = "T" if len(reporting) == 3 else "Q"
    position = reporting.index(period) + 1 if period in reporting else 1
    return f"{letter}{position}"


def term_id(term: ExportSession | None, period: ExportSession, sessions: Mapping[str, ExportSession]) -> int:
    """The TERMID of the term a section runs over (`term`; the period's school year when unknown)."""
    year = school_year_of(term or period, sessions)
    base = (year.start.year - POWERSCHOOL_YEAR_ZERO) * 100
    if term is None or term.kind is SessionKind.SCHOOL_YEAR or _spans(term, year):
        return base
    terms = sorted(
        (s for s in _in_year(year, sessions) if s.kind in (SessionKind.SEMESTER, SessionKind.TERM)),
        key=lambda s: (-(s.end - s.start).days, s.start, s.key),
    )
    for index, candidate in enumerate(terms, start=1):
        if (candidate.start, candidate.end) == (term.start, term.end):
            return base + index
    return base


def _is_excluded(grade: ExportGrade, policy: Policy) -> bool:
    return (
        grade.status is GradeStatus.INSUFFICIENT_EVIDENCE
        or grade.grade_points is None
        or grade.letter in policy.gpa.excluded_letters
        or grade.letter in policy.ncaa.pass_codes
    )


def earns_credit(grade: ExportGrade, policy: Policy) -> bool:
    """A graded pass code, or a letter with grade points above 0 that the GPA does not leave out."""
    if grade.status is not GradeStatus.GRADED:
        return False
    if grade.letter in policy.ncaa.pass_codes:
        return True
    return grade.letter not in policy.gpa.excluded_letters and (grade.grade_points or Decimal(0)) > 0


def _comment(grade: ExportGrade) -> str:
    if not grade.is_amendment:
        return ""
    reason = single_line(grade.amendment_reason)
    return f"Amended {grade.posted_at.date().isoformat()}: {reason}" if reason else "Amended"


def _row(dataset: ExportDataset, grade: ExportGrade, student_number: str) -> list[str]:
    period = dataset.sessions[grade.period_key]
    school_class = dataset.classes[grade.class_key]
    course = dataset.course_of(grade)
    student = dataset.students[grade.student_key]
    term = dataset.sessions.get(school_class.term_key) if school_class.term_key else None
    credits = course.course.credits if period.is_credit_bearing else Decimal(0)
    policy = dataset.school.policy
    excluded = _is_excluded(grade, policy)
    earned = credits if earns_credit(grade, policy) else Decimal(0)
    return [
        single_line(student_number),
        neutralise(single_line(course.course.title)),
        single_line(student.grade_level),
        str(term_id(term, period, dataset.sessions)),
        store_code(period, dataset.sessions),
        single_line(school_class.sourced_id),
        neutralise(single_line(course.code)),
        decimal_text(earned),
        neutralise(single_line(grade.letter)),
        decimal_text(credits),
        decimal_text(grade.percent),
        decimal_text(grade.grade_points),
        "1" if excluded else "0",
        grade.posted_at.strftime("%m/%d/%Y"),
        neutralise(_comment(grade)),
    ]


def _tsv(rows: Sequence[Sequence[str]]) -> bytes:
    return "".join("\t".join(row) + "\r\n" for row in [HEADER, *rows]).encode("utf-8")


def render_powerschool_storedgrades(dataset: ExportDataset) -> ExportResult:
    """`storedgrades.txt` for the dataset's period; students without an SIS student number are left out."""
    rows: list[list[str]] = []
    skipped = no_level = 0
    for grade in dataset.period_grades:
        student = dataset.students[grade.student_key]
        if not student.sis_id:
            skipped += 1
            continue
        if not student.grade_level:
            no_level += 1
        rows.append(_row(dataset, grade, student.sis_id))
    rows.sort(key=lambda row: (row[0], row[6], row[5], row[4]))
    warnings = []
    if skipped:
        warnings.append(f"{skipped} grade(s) left out: the student has no SIS student number yet")
    if no_level:
        warnings.append(
            f"{no_level} row(s) have no GRADE_LEVEL (PowerSchool requires it): no grade level is on record "
            "for the student; fill the column before importing"
        )
    return ExportResult("powerschool-storedgrades", {FILE_NAME: _tsv(rows)}, tuple(warnings))
