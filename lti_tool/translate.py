"""Offline translation: evidence CSV files in, grade and GPA CSV files out, for registrars.

Reads `evidence.csv`, `periods.csv` and optionally `courses.csv`, runs them through the pure
core in `mappings`, and writes `grades.csv` and `gpa.csv`. Every input problem is reported as
one `InputFileError` naming the file, line, column and value, and nothing is written unless
every row was read and every grade computed.
"""

from __future__ import annotations

import csv
import os
import tempfile
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TypeVar

from lti_tool.errors import InputFileError
from mappings import (
    Course,
    CourseGrade,
    CourseLevel,
    Evidence,
    EvidenceKind,
    GpaResult,
    GradingPeriod,
    MappingError,
    NcaaArea,
    NcaaResult,
    Policy,
    compute_gpa,
    compute_ncaa,
    grade_period,
    load_shipped_policy,
    parse_policy,
    shipped_policy_names,
)

T = TypeVar("T")

EVIDENCE_COLUMNS = ("student_id", "course_id", "indicator_id", "score", "demonstrated_on")
PERIOD_COLUMNS = ("period_id", "course_id", "start", "end", "credit_bearing")
COURSE_COLUMNS = ("course_id", "title", "credits", "level", "ncaa_core", "ncaa_area")
GRADES_HEADER = (
    "student_id",
    "course_id",
    "period_id",
    "course_value",
    "letter",
    "grade_points",
    "status",
    "evidence_count",
)
GPA_HEADER = ("student_id", "gpa", "weighted_gpa", "ncaa_core_gpa", "ncaa_core_units")
TRUE_WORDS = {"true", "yes", "y", "1"}
FALSE_WORDS = {"false", "no", "n", "0", ""}


@dataclass(frozen=True, slots=True)
class PeriodRow:
    """A grading period as declared in periods.csv, for one course or for every course (`*`)."""

    course_id: str
    period: GradingPeriod


@dataclass(frozen=True, slots=True)
class StudentGpa:
    """One student's GPA figures."""

    student_id: str
    gpa: GpaResult
    ncaa: NcaaResult


@dataclass(frozen=True, slots=True)
class Translation:
    """Everything `translate` computed, in a stable order."""

    grades: tuple[CourseGrade, ...]
    gpas: tuple[StudentGpa, ...]
    courses: dict[str, Course]


class _Row:
    """One CSV row with the context needed to name a bad cell."""

    def __init__(self, file: str, line: int, values: dict[str, str]) -> None:
        self.file = file
        self.line = line
        self.values = values

    def error(self, column: str, message: str) -> InputFileError:
        return InputFileError(
            message, file=self.file, line=self.line, column=column, value=self.values.get(column)
        )

    def text(self, column: str, *, required: bool = True) -> str:
        value = (self.values.get(column) or "").strip()
        if required and not value:
            raise self.error(column, "a value is required")
        return value

    def parse(self, column: str, parser: Callable[[str], T], what: str) -> T:
        raw = self.text(column)
        try:
            return parser(raw)
        except (ValueError, InvalidOperation) as exc:
            raise self.error(column, f"expected {what}") from exc


def _rows(path: Path, required: Sequence[str]) -> Iterator[_Row]:
    """Yield the data rows of a CSV file after checking its header."""
    name = str(path)
    try:
        handle = path.open(newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise InputFileError(f"cannot open the file: {exc.strerror}", file=name) from exc
    with handle:
        reader = csv.DictReader(handle)
        try:
            header = reader.fieldnames
        except (csv.Error, UnicodeDecodeError) as exc:
            raise InputFileError(f"not a readable UTF-8 CSV file: {exc}", file=name, line=1) from exc
        if not header:
            raise InputFileError("the file is empty; expected a header row", file=name, line=1)
        present = {column.strip() for column in header}
        for column in required:
            if column not in present:
                raise InputFileError(
                    f"missing column; the header must include {', '.join(required)}",
                    file=name,
                    line=1,
                    column=column,
                )
        try:
            for values in reader:
                clean = {
                    (key or "").strip(): (value or "") for key, value in values.items() if key is not None
                }
                if not any(value.strip() for value in clean.values()):
                    continue
                if None in values:
                    raise InputFileError(
                        f"more cells than the {len(header)} columns of the header",
                        file=name,
                        line=reader.line_num,
                    )
                yield _Row(name, reader.line_num, clean)
        except (csv.Error, UnicodeDecodeError) as exc:
            raise InputFileError(
                f"not a readable UTF-8 CSV file: {exc}", file=name, line=reader.line_num
            ) from exc


def _decimal(raw: str) -> Decimal:
    value = Decimal(raw)
    if not value.is_finite():
        raise ValueError(raw)
    return value


def _boolean(raw: str) -> bool:
    word = raw.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ValueError(raw)


def read_evidence(path: Path, courses: Mapping[str, Course] | None = None) -> list[Evidence]:
    """Read evidence.csv: `student_id,course_id,indicator_id,score,demonstrated_on[,kind][,task]`.

    When `courses` is given, every row's course must be one of them.
    """
    evidence = []
    for row in _rows(path, EVIDENCE_COLUMNS):
        if courses is not None and row.text("course_id") not in courses:
            raise row.error("course_id", "this course is not listed in the courses file")
        kind_text = row.text("kind", required=False).lower() or EvidenceKind.SUMMATIVE.value
        try:
            kind = EvidenceKind(kind_text)
        except ValueError as exc:
            raise row.error("kind", "expected formative or summative") from exc
        score = row.parse("score", _decimal, "a number such as 3 or 2.5")
        if score < 0:
            raise row.error("score", "scores cannot be negative")
        evidence.append(
            Evidence(
                student_id=row.text("student_id"),
                course_id=row.text("course_id"),
                indicator_id=row.text("indicator_id"),
                score=score,
                demonstrated_on=row.parse(
                    "demonstrated_on", date.fromisoformat, "an ISO date such as 2026-10-05"
                ),
                kind=kind,
                task=row.text("task", required=False) or None,
            )
        )
    return evidence


def read_periods(path: Path) -> list[PeriodRow]:
    """Read periods.csv: `period_id,course_id,start,end,credit_bearing` (`course_id` may be `*`)."""
    periods: list[PeriodRow] = []
    seen: set[tuple[str, str]] = set()
    for row in _rows(path, PERIOD_COLUMNS):
        start = row.parse("start", date.fromisoformat, "an ISO date such as 2026-08-24")
        end = row.parse("end", date.fromisoformat, "an ISO date such as 2026-10-30")
        if end < start:
            raise row.error("end", f"the period ends before it starts ({start.isoformat()})")
        key = (row.text("period_id"), row.text("course_id"))
        if key in seen:
            raise row.error("period_id", "this period is declared twice for the same course")
        seen.add(key)
        period = GradingPeriod(
            period_id=key[0],
            start=start,
            end=end,
            is_credit_bearing=row.parse("credit_bearing", _boolean, "true or false"),
        )
        periods.append(PeriodRow(course_id=key[1], period=period))
    if not periods:
        raise InputFileError("no grading periods in the file", file=str(path), line=2)
    return periods


def read_courses(path: Path) -> dict[str, Course]:
    """Read courses.csv: `course_id,title,credits,level,ncaa_core,ncaa_area`."""
    courses: dict[str, Course] = {}
    levels = ", ".join(level.value for level in CourseLevel)
    areas = ", ".join(area.value for area in NcaaArea)
    for row in _rows(path, COURSE_COLUMNS):
        course_id = row.text("course_id")
        if course_id in courses:
            raise row.error("course_id", "this course is declared twice")
        credits = row.parse("credits", _decimal, "a number of credits such as 1 or 0.5")
        if credits < 0:
            raise row.error("credits", "credits cannot be negative")
        level = row.parse("level", lambda raw: CourseLevel(raw.lower()), f"one of {levels}")
        is_core = row.parse("ncaa_core", _boolean, "true or false")
        area_text = row.text("ncaa_area", required=False).lower()
        area = row.parse("ncaa_area", NcaaArea, f"one of {areas}") if area_text else None
        if is_core and area is None:
            raise row.error("ncaa_area", f"an NCAA core course needs its area ({areas})")
        courses[course_id] = Course(
            course_id=course_id,
            title=row.text("title", required=False),
            credits=credits,
            level=level,
            is_ncaa_core=is_core,
            ncaa_area=area,
        )
    return courses


def resolve_policy(name_or_path: str) -> Policy:
    """A shipped policy by name, or a policy TOML file by path."""
    path = Path(name_or_path)
    if path.suffix == ".toml" or path.exists():
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise InputFileError(f"cannot read the policy: {exc.strerror}", file=str(path)) from exc
        try:
            return parse_policy(text, source=str(path))
        except MappingError as exc:
            raise InputFileError(str(exc), file=str(path)) from exc
    if name_or_path not in shipped_policy_names():
        raise InputFileError(
            f"unknown policy; use a .toml file or one of {', '.join(shipped_policy_names())}",
            file="--policy",
            value=name_or_path,
        )
    return load_shipped_policy(name_or_path)


def _periods_for(course_id: str, periods: Sequence[PeriodRow]) -> list[GradingPeriod]:
    """The course's own periods if it has any, else the `*` periods, in order of end date."""
    own = [row.period for row in periods if row.course_id == course_id]
    chosen = own or [row.period for row in periods if row.course_id == "*"]
    return sorted(chosen, key=lambda period: (period.end, period.is_credit_bearing, period.period_id))


def translate(
    policy: Policy,
    evidence: Sequence[Evidence],
    periods: Sequence[PeriodRow],
    courses: dict[str, Course] | None = None,
    *,
    periods_file: str = "periods.csv",
) -> Translation:
    """Compute every period grade and every student's GPA figures."""
    known_courses = dict(courses or {})
    by_student_course: dict[tuple[str, str], list[Evidence]] = defaultdict(list)
    for item in evidence:
        by_student_course[(item.student_id, item.course_id)].append(item)
    for _, course_id in by_student_course:
        # Without a courses file every course counts as one standard, non-core credit.
        known_courses.setdefault(course_id, Course(course_id=course_id))
    grades: list[CourseGrade] = []
    finals: dict[str, list[CourseGrade]] = defaultdict(list)
    for (student_id, course_id), items in sorted(by_student_course.items()):
        course_periods = _periods_for(course_id, periods)
        if not course_periods:
            raise InputFileError("no grading period applies to this course (add a row for it or for *)",
                                 file=periods_file, column="course_id", value=course_id)  # fmt: skip
        for period in course_periods:
            grade = grade_period(policy, items, period, student_id=student_id, course_id=course_id)
            grades.append(grade)
            if period.is_credit_bearing:
                finals[student_id].append(grade)
    gpas = tuple(
        StudentGpa(
            student_id=student_id,
            gpa=compute_gpa(final_grades, known_courses, policy),
            ncaa=compute_ncaa(final_grades, known_courses, policy),
        )
        for student_id, final_grades in sorted(finals.items())
    )
    return Translation(grades=tuple(grades), gpas=gpas, courses=known_courses)


def _text(value: Decimal | None) -> str:
    return "" if value is None else str(value)


def grade_rows(grades: Iterable[CourseGrade]) -> Iterator[list[str]]:
    """Rows of grades.csv, header excluded."""
    for grade in grades:
        yield [
            grade.student_id,
            grade.course_id,
            grade.period_id,
            _text(grade.course_value),
            grade.letter,
            _text(grade.grade_points),
            grade.status.value,
            str(grade.evidence_count),
        ]


def gpa_rows(gpas: Iterable[StudentGpa]) -> Iterator[list[str]]:
    """Rows of gpa.csv, header excluded."""
    for item in gpas:
        yield [
            item.student_id,
            _text(item.gpa.gpa),
            _text(item.gpa.weighted_gpa),
            _text(item.ncaa.core_gpa),
            _text(item.ncaa.core_units),
        ]


def write_csv_files(outputs: Sequence[tuple[Path, Sequence[str], Iterable[Sequence[str]]]]) -> None:
    """Write several CSV files so that either all of them appear or none does.

    Each file is written to a temporary sibling first and renamed into place only after every
    file was written completely.
    """
    staged: list[tuple[Path, Path]] = []
    try:
        for path, header, rows in outputs:
            path.parent.mkdir(parents=True, exist_ok=True)
            handle = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed below, renamed after all succeed
                "w", newline="", encoding="utf-8", dir=path.parent, prefix=f".{path.name}.", delete=False
            )
            staged.append((Path(handle.name), path))
            with handle:
                writer = csv.writer(handle, lineterminator="\n")
                writer.writerow(header)
                writer.writerows(rows)
        for temporary, final in staged:
            os.replace(temporary, final)
    finally:
        for temporary, _ in staged:
            temporary.unlink(missing_ok=True)
