"""Typed cell access for OneRoster CSV rows: every failure is a `FormatError` naming file, line and column."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from datetime import date, datetime

from connectors.errors import FormatError
from connectors.oneroster.records import Status, UserId
from connectors.oneroster_csv.binding import SYSTEM
from connectors.oneroster_csv.records import FileMode

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_USER_ID = re.compile(r"\{([^:{}]+):([^{}]*)\}")
_EXTENSION = re.compile(r"ext:[A-Za-z0-9.\-_]+")


def format_error(
    message: str, *, file: str, line: int | None = None, column: str | None = None
) -> FormatError:
    """A `FormatError` whose `item` is "<file> line <n>" and whose `field` is the column."""
    item = file if line is None else f"{file} line {line}"
    where = item if column is None else f"{item}, column {column}"
    return FormatError(f"{where}: {message}", system=SYSTEM, item=item, field=column)


def decode_text(raw: bytes, file: str) -> str:
    """`raw` as UTF-8 text (a BOM is dropped), or a `FormatError` naming `file` and the bad byte."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise format_error(f"is not UTF-8 text (byte {exc.start})", file=file) from exc


def csv_records(text: str, file: str) -> Iterator[tuple[int, list[str]]]:
    """(line number, cells) of each non-blank record, the header included; line numbers are physical lines."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    start = 1
    try:
        for cells in reader:
            if any(cell.strip() for cell in cells):
                yield start, cells
            start = reader.line_num + 1
    except csv.Error as exc:
        raise format_error(f"is not valid CSV ({exc})", file=file, line=reader.line_num) from exc


class Row:
    """One data row with typed accessors that raise errors naming file, line and column."""

    def __init__(
        self, file: str, line: int, cells: dict[str, str], mode: FileMode, received_at: datetime
    ) -> None:
        self.file = file
        self.line = line
        self.cells = cells
        self.mode = mode
        self.received_at = received_at

    def fail(self, column: str, message: str) -> FormatError:
        return format_error(message, file=self.file, line=self.line, column=column)

    def text(self, column: str) -> str | None:
        return self.cells.get(column, "").strip() or None

    def required(self, column: str) -> str:
        value = self.text(column)
        if value is None:
            raise self.fail(column, "is empty")
        return value

    def items(self, column: str) -> tuple[str, ...]:
        value = self.text(column)
        return tuple(part.strip() for part in value.split(",") if part.strip()) if value else ()

    def required_items(self, column: str) -> tuple[str, ...]:
        values = self.items(column)
        if not values:
            raise self.fail(column, "is empty")
        return values

    def boolean(self, column: str) -> bool | None:
        value = self.text(column)
        if value is None:
            return None
        if value.lower() not in {"true", "false"}:
            raise self.fail(column, f"{value!r} is not true or false")
        return value.lower() == "true"

    def day(self, column: str) -> date | None:
        value = self.text(column)
        if value is None:
            return None
        try:
            if not _DATE.fullmatch(value):
                raise ValueError(value)
            return date.fromisoformat(value)
        except ValueError:
            raise self.fail(column, f"{value!r} is not a date YYYY-MM-DD") from None

    def required_day(self, column: str) -> date:
        value = self.day(column)
        if value is None:
            raise self.fail(column, "is empty")
        return value

    def vocabulary(self, column: str, allowed: frozenset[str], *, extensible: bool = True) -> str | None:
        value = self.text(column)
        if value is None or value in allowed or (extensible and _EXTENSION.fullmatch(value)):
            return value
        raise self.fail(column, f"{value!r} is not one of {', '.join(sorted(allowed))}")

    def required_vocabulary(self, column: str, allowed: frozenset[str], *, extensible: bool = True) -> str:
        value = self.required(column)
        if value in allowed or (extensible and _EXTENSION.fullmatch(value)):
            return value
        raise self.fail(column, f"{value!r} is not one of {', '.join(sorted(allowed))}")

    def status(self) -> Status:
        value = self.text("status")
        if value is None:
            if self.mode is FileMode.DELTA:
                raise self.fail("status", "is empty (required in a delta file)")
            return Status.ACTIVE
        if value == "inactive":
            return Status.TO_BE_DELETED
        if value not in (Status.ACTIVE.value, Status.TO_BE_DELETED.value):
            raise self.fail("status", f"{value!r} is not active or tobedeleted")
        return Status(value)

    def date_last_modified(self) -> datetime:
        value = self.text("dateLastModified")
        if value is None:
            if self.mode is FileMode.DELTA:
                raise self.fail("dateLastModified", "is empty (required in a delta file)")
            return self.received_at
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            parsed = None
        if parsed is None or parsed.tzinfo is None or "T" not in value:
            raise self.fail("dateLastModified", f"{value!r} is not an ISO 8601 date-time with a UTC offset")
        return parsed

    def user_ids(self, column: str) -> tuple[UserId, ...]:
        found: list[UserId] = []
        for part in re.split(r",(?=\s*\{)", self.text(column) or ""):
            if not part.strip():
                continue
            match = _USER_ID.fullmatch(part.strip())
            if match is None:
                raise self.fail(column, f"{part.strip()!r} is not {{type:identifier}}")
            found.append(UserId(type=match.group(1).strip(), identifier=match.group(2).strip()))
        return tuple(found)
