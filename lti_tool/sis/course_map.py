"""The district's course map: credits, level and NCAA facts for SIS courses, which OneRoster does not carry.

A CSV file maintained by the district, one row per course, keyed by the course's SIS `sourcedId`
(column `course_sourced_id`) or its course code (`course_code`); either key may be blank on a row, not both.
The other columns are optional and a blank cell means "no opinion" (the pull keeps what it had):

    course_sourced_id,course_code,credits,level,ncaa_core,ncaa_area
    crs-alg2,,1.0,honors,true,math
    ,ENG9,1.0,standard,yes,english

`level` is one of standard, honors, ap, ib, dual; `ncaa_core` is true/false (also yes/no, 1/0);
`ncaa_area` is one of english, math, science, social_science, additional and is required for a core course.
Every error names the file, line, column and value (`CourseMapError`, an `InputFileError`).
"""

from __future__ import annotations

import csv
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Final

from lti_tool.errors import InputFileError
from lti_tool.models import CourseLevel, NcaaArea

KEY_COLUMNS: Final = ("course_sourced_id", "course_code")
FACT_COLUMNS: Final = ("credits", "level", "ncaa_core", "ncaa_area")
_TRUE: Final = frozenset({"true", "yes", "y", "1"})
_FALSE: Final = frozenset({"false", "no", "n", "0"})
_MAX_CREDITS: Final = Decimal("999.99")  # courses.credits is NUMERIC(5, 2)


class CourseMapError(InputFileError):
    """The course map file cannot be used; names the file, line, column and value."""


@dataclass(frozen=True, slots=True)
class CourseFacts:
    """What the district says about one course; None means the file leaves it blank."""

    credits: Decimal | None = None
    level: CourseLevel | None = None
    is_ncaa_core: bool | None = None
    ncaa_area: NcaaArea | None = None


@dataclass(frozen=True, slots=True)
class CourseMap:
    """Course facts by SIS sourcedId and by course code (codes compare case-insensitively)."""

    by_sourced_id: Mapping[str, CourseFacts] = field(default_factory=dict)
    by_code: Mapping[str, CourseFacts] = field(default_factory=dict)
    source: str = ""

    def facts_for(self, sourced_id: str, course_code: str | None) -> CourseFacts | None:
        """The row for the course: by sourcedId first, else by course code; None if neither is listed."""
        found = self.by_sourced_id.get(sourced_id)
        if found is None and course_code:
            found = self.by_code.get(course_code.strip().casefold())
        return found

    def __len__(self) -> int:
        return len(self.by_sourced_id) + len(self.by_code)

    @classmethod
    def from_csv(cls, path: Path) -> CourseMap:
        """Read the course map at `path`; raises CourseMapError naming the file, line and column at fault."""
        by_sourced_id: dict[str, CourseFacts] = {}
        by_code: dict[str, CourseFacts] = {}
        first_line: dict[tuple[str, str], int] = {}
        for row in _rows(path):
            sourced_id = row.text("course_sourced_id")
            code = row.text("course_code")
            if not sourced_id and not code:
                raise row.error("course_sourced_id", "a course_sourced_id or a course_code is required")
            facts = _facts(row)
            column, key, target = (
                ("course_sourced_id", sourced_id, by_sourced_id)
                if sourced_id
                else ("course_code", code.casefold(), by_code)
            )
            if (column, key) in first_line:
                raise row.error(column, f"listed twice (first on line {first_line[column, key]})")
            first_line[column, key] = row.line
            target[key] = facts
        return cls(by_sourced_id=by_sourced_id, by_code=by_code, source=str(path))


class _Row:
    """One data row with what it takes to name a bad cell."""

    def __init__(self, file: str, line: int, values: dict[str, str]) -> None:
        self.file = file
        self.line = line
        self.values = values

    def error(self, column: str, message: str) -> CourseMapError:
        value = self.values.get(column)
        return CourseMapError(message, file=self.file, line=self.line, column=column, value=value or None)

    def text(self, column: str) -> str:
        return (self.values.get(column) or "").strip()


def _facts(row: _Row) -> CourseFacts:
    credits = None
    if raw := row.text("credits"):
        try:
            credits = Decimal(raw)
        except InvalidOperation as exc:
            raise row.error("credits", "expected a number of credits such as 1.0 or 0.5") from exc
        if not credits.is_finite() or not Decimal(0) <= credits <= _MAX_CREDITS:
            raise row.error("credits", f"credits must be between 0 and {_MAX_CREDITS}")
        credits = credits.quantize(Decimal("0.01"))
    level = None
    if raw := row.text("level"):
        try:
            level = CourseLevel(raw.casefold())
        except ValueError as exc:
            choices = ", ".join(item.value for item in CourseLevel)
            raise row.error("level", f"expected one of {choices}") from exc
    is_core = None
    if raw := row.text("ncaa_core"):
        if raw.casefold() not in _TRUE | _FALSE:
            raise row.error("ncaa_core", "expected true or false")
        is_core = raw.casefold() in _TRUE
    area = None
    if raw := row.text("ncaa_area"):
        try:
            area = NcaaArea(raw.casefold().replace(" ", "_"))
        except ValueError as exc:
            choices = ", ".join(item.value for item in NcaaArea)
            raise row.error("ncaa_area", f"expected one of {choices}") from exc
    if is_core and area is None:
        raise row.error("ncaa_area", "an NCAA core course needs its area")
    if is_core is False and area is not None:
        raise row.error("ncaa_area", "only an NCAA core course has an area (ncaa_core is false)")
    return CourseFacts(credits=credits, level=level, is_ncaa_core=is_core, ncaa_area=area)


def _rows(path: Path) -> Iterator[_Row]:
    """The data rows of the CSV file after checking its header (blank rows are skipped)."""
    name = str(path)
    try:
        handle = path.open(newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise CourseMapError(f"cannot open the course map: {exc.strerror}", file=name) from exc
    with handle:
        reader = csv.DictReader(handle)
        try:
            header = reader.fieldnames
        except (csv.Error, UnicodeDecodeError) as exc:
            raise CourseMapError(f"not a readable UTF-8 CSV file: {exc}", file=name, line=1) from exc
        if not header:
            raise CourseMapError("the file is empty; expected a header row", file=name, line=1)
        present = [column.strip() for column in header]
        known = set(KEY_COLUMNS) | set(FACT_COLUMNS)
        for column in present:
            if column and column not in known:
                raise CourseMapError(
                    f"unknown column; the columns are {', '.join((*KEY_COLUMNS, *FACT_COLUMNS))}",
                    file=name,
                    line=1,
                    column=column,
                )
        if not set(KEY_COLUMNS) & set(present):
            raise CourseMapError(
                "missing column; the header needs course_sourced_id or course_code",
                file=name,
                line=1,
                column="course_sourced_id",
            )
        try:
            for values in reader:
                if None in values:
                    raise CourseMapError(
                        f"more cells than the {len(header)} columns of the header",
                        file=name,
                        line=reader.line_num,
                    )
                clean = {(key or "").strip(): value or "" for key, value in values.items()}
                if any(value.strip() for value in clean.values()):
                    yield _Row(name, reader.line_num, clean)
        except (csv.Error, UnicodeDecodeError) as exc:
            raise CourseMapError(
                f"not a readable UTF-8 CSV file: {exc}", file=name, line=reader.line_num
            ) from exc
